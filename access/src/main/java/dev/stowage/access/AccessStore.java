package dev.stowage.access;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Where tokens and the audit log are kept. PostgreSQL in the service; in memory for tests. */
public interface AccessStore {
  /**
   * Keeps a new token under the hash of its secret.
   *
   * @throws TokenNameTakenException when a token of that name exists, revoked or not (names stay
   *     unique so the audit log keeps meaning one token by one name)
   */
  void addToken(ApiToken token, String secretHash);

  /** The token whose secret hashes to {@code secretHash}, revoked and expired ones included. */
  Optional<ApiToken> tokenByHash(String secretHash);

  /** Every token, in the order they were created. */
  List<ApiToken> tokens();

  /** Revokes the named token; false when there is none, or it was already revoked. */
  boolean revoke(String name, Instant at);

  /** Appends one entry to the audit log. */
  void record(AuditEntry entry);

  /** Entries after {@code afterId} (0 for the first), oldest first, at most {@code limit}. */
  List<AuditEntry> auditLog(long afterId, int limit);

  /** A token of that name exists. */
  final class TokenNameTakenException extends RuntimeException {
    public TokenNameTakenException(String name) {
      super("a token named '" + name + "' exists already");
    }
  }
}
