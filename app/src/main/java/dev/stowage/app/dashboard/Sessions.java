package dev.stowage.app.dashboard;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Browser sessions of the dashboard and the one-time links that open them. A session holds the
 * token it was opened with, in this process's memory only, and every request made with it is
 * authenticated with that token again: a session never has more than the token's role, and ends
 * when the token is revoked or expires. Sessions do not survive a restart of the service.
 */
public final class Sessions {
  /** The session cookie's name. */
  public static final String COOKIE = "stowage_session";

  /** How long a session lasts after its last request: a page left open keeps it alive. */
  static final Duration IDLE = Duration.ofHours(24);

  /** The longest a session lasts, however often it is used. */
  static final Duration MAX = Duration.ofDays(7);

  /** How long a one-time sign-in link may wait to be opened. */
  static final Duration LINK = Duration.ofMinutes(2);

  /** Sessions and links held at most: past this, the oldest are dropped. */
  static final int KEPT = 10_000;

  private record Session(String secret, Instant opened, Instant lastUsed) {}

  private record Link(String secret, Instant expires) {}

  private final Map<String, Session> sessions = new ConcurrentHashMap<>();
  private final Map<String, Link> links = new ConcurrentHashMap<>();
  private final SecureRandom random = new SecureRandom();
  private final Clock clock;

  public Sessions(Clock clock) {
    this.clock = clock;
  }

  /** A new session for the token {@code secret}: its id, for the cookie. */
  public String open(String secret) {
    Instant now = clock.instant();
    forgetExpired(now);
    String id = randomId();
    sessions.put(id, new Session(secret, now, now));
    return id;
  }

  /** The {@code Authorization} header the session stands for, if it is open; it counts as used. */
  public Optional<String> authorization(String sessionId) {
    if (sessionId == null) {
      return Optional.empty();
    }
    Instant now = clock.instant();
    Session s = sessions.get(sessionId);
    if (s == null) {
      return Optional.empty();
    }
    if (!now.isBefore(s.lastUsed().plus(IDLE)) || !now.isBefore(s.opened().plus(MAX))) {
      sessions.remove(sessionId);
      return Optional.empty();
    }
    sessions.replace(sessionId, s, new Session(s.secret(), s.opened(), now));
    return Optional.of("Bearer " + s.secret());
  }

  public void close(String sessionId) {
    if (sessionId != null) {
      sessions.remove(sessionId);
    }
  }

  /** A one-time code that opens a session for the token {@code secret}, if used within LINK. */
  public String link(String secret) {
    Instant now = clock.instant();
    forgetExpired(now);
    String code = randomId();
    links.put(code, new Link(secret, now.plus(LINK)));
    return code;
  }

  /** The token of a link not used yet and not expired; the link is used up either way. */
  public Optional<String> redeem(String code) {
    Link l = code == null ? null : links.remove(code);
    if (l == null || !clock.instant().isBefore(l.expires())) {
      return Optional.empty();
    }
    return Optional.of(l.secret());
  }

  private void forgetExpired(Instant now) {
    if (sessions.size() >= KEPT) {
      sessions.entrySet().removeIf(e -> !now.isBefore(e.getValue().lastUsed().plus(IDLE)));
      while (sessions.size() >= KEPT) {
        sessions.entrySet().stream()
            .min(java.util.Comparator.comparing(e -> e.getValue().lastUsed()))
            .ifPresent(e -> sessions.remove(e.getKey()));
      }
    }
    if (links.size() >= KEPT) {
      links.entrySet().removeIf(e -> !now.isBefore(e.getValue().expires()));
      while (links.size() >= KEPT) {
        links.entrySet().stream()
            .min(java.util.Comparator.comparing(e -> e.getValue().expires()))
            .ifPresent(e -> links.remove(e.getKey()));
      }
    }
  }

  private String randomId() {
    byte[] b = new byte[32];
    random.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}
