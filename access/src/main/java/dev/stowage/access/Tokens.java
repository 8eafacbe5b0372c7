package dev.stowage.access;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Creates tokens and checks presented ones. A secret is 256 random bits; only its SHA-256 is
 * stored, which is enough for a secret of that strength (no slow hash needed: nothing to guess).
 */
public final class Tokens {
  /** Every secret starts with this, so that a leaked one is recognisable in a scan. */
  static final String PREFIX = "stw_";

  /**
   * Tokens recently seen, by hash: every request would otherwise cost a database read. Revoking
   * through {@link #revoke} drops a token at once; a change made elsewhere is seen within {@link
   * #REMEMBERED}. Only issued tokens are remembered, so guesses cannot fill it.
   */
  static final java.time.Duration REMEMBERED = java.time.Duration.ofSeconds(5);

  private static final int REMEMBERED_MAX = 10_000;

  private record Seen(ApiToken token, Instant at) {}

  private final AccessStore store;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  private final java.util.concurrent.ConcurrentHashMap<String, Seen> seen =
      new java.util.concurrent.ConcurrentHashMap<>();

  public Tokens(AccessStore store, Clock clock) {
    this.store = store;
    this.clock = clock;
  }

  Clock clock() {
    return clock;
  }

  /** A created token: its secret, shown once, and what is stored of it. */
  public record Issued(String secret, ApiToken token) {}

  /**
   * Creates and stores a token.
   *
   * @param lifetime how long it is valid; null for no expiry
   * @param createdBy the creating token's name, or null
   */
  public Issued create(String name, Role role, Duration lifetime, String createdBy) {
    if (lifetime != null && (lifetime.isNegative() || lifetime.isZero())) {
      throw new IllegalArgumentException("a token's lifetime must be positive, got " + lifetime);
    }
    Instant now = clock.instant();
    var token =
        new ApiToken(
            name, role, now, lifetime == null ? null : now.plus(lifetime), null, createdBy);
    byte[] bytes = new byte[32];
    random.nextBytes(bytes);
    String secret = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    store.addToken(token, hash(secret));
    return new Issued(secret, token);
  }

  /** What a request's {@code Authorization} header proves. */
  public sealed interface Authentication {
    /** The header names an active token. */
    record Authenticated(ApiToken token) implements Authentication {}

    /** No token, or not one that may be used now; {@code reason} is for the caller. */
    record Refused(String reason) implements Authentication {}
  }

  /** Checks an {@code Authorization} header (null when absent). */
  public Authentication authenticate(String authorization) {
    if (authorization == null || authorization.isBlank()) {
      return new Authentication.Refused(
          "no token: send 'Authorization: Bearer <token>' (the command line reads STOWAGE_TOKEN,"
              + " or the admin.token file in the service's data directory)");
    }
    String[] parts = authorization.strip().split("\\s+", 2);
    if (parts.length != 2 || !parts[0].equalsIgnoreCase("Bearer")) {
      return new Authentication.Refused(
          "the Authorization header must be 'Bearer <token>', got a '" + parts[0] + "' scheme");
    }
    String hash = hash(parts[1].strip());
    Instant now = clock.instant();
    Seen known = seen.get(hash);
    ApiToken t;
    if (known != null && known.at().plus(REMEMBERED).isAfter(now)) {
      t = known.token();
    } else {
      var token = store.tokenByHash(hash);
      if (token.isEmpty()) {
        return new Authentication.Refused("the token is not one this service issued");
      }
      t = token.get();
      if (seen.size() >= REMEMBERED_MAX) {
        seen.clear();
      }
      seen.put(hash, new Seen(t, now));
    }
    if (t.revokedAt() != null) {
      return new Authentication.Refused("token '" + t.name() + "' was revoked at " + t.revokedAt());
    }
    if (!t.activeAt(now)) {
      return new Authentication.Refused("token '" + t.name() + "' expired at " + t.expiresAt());
    }
    return new Authentication.Authenticated(t);
  }

  /** Revokes the named token, in the store and at once for this service's requests. */
  public boolean revoke(String name) {
    boolean revoked = store.revoke(name, clock.instant());
    seen.values().removeIf(s -> s.token().name().equals(name));
    return revoked;
  }

  /** The stored form of a secret: SHA-256, in hex. */
  public static String hash(String secret) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
