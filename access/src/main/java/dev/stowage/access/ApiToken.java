package dev.stowage.access;

import java.time.Instant;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A token as the store keeps it: never the secret itself, only what it is called and may do.
 *
 * @param name unique, chosen by whoever created it; it names the token's actions in the audit log
 *     and the tasks it submitted
 * @param expiresAt null for a token that does not expire
 * @param revokedAt null while not revoked
 * @param createdBy the name of the token that created this one, or null for the first admin token
 */
public record ApiToken(
    String name,
    Role role,
    Instant createdAt,
    Instant expiresAt,
    Instant revokedAt,
    String createdBy) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  public ApiToken {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(createdAt, "createdAt");
    String problem = nameProblem(name);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
  }

  /** Why {@code name} cannot name a token, or null when it can. */
  public static String nameProblem(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      return "a token name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter"
          + " or digit, got "
          + (name == null ? "nothing" : "'" + name + "'");
    }
    return null;
  }

  /** Neither revoked nor expired at {@code now}. */
  public boolean activeAt(Instant now) {
    return revokedAt == null && (expiresAt == null || now.isBefore(expiresAt));
  }
}
