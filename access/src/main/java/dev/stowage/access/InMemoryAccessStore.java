package dev.stowage.access;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The access store in memory: the twin of the PostgreSQL one, for tests. */
public final class InMemoryAccessStore implements AccessStore {
  private final Map<String, ApiToken> byName = new LinkedHashMap<>();
  private final Map<String, String> nameByHash = new LinkedHashMap<>();
  private final List<AuditEntry> audit = new ArrayList<>();

  @Override
  public synchronized void addToken(ApiToken token, String secretHash) {
    if (byName.containsKey(token.name())) {
      throw new TokenNameTakenException(token.name());
    }
    byName.put(token.name(), token);
    nameByHash.put(secretHash, token.name());
  }

  @Override
  public synchronized Optional<ApiToken> tokenByHash(String secretHash) {
    return Optional.ofNullable(nameByHash.get(secretHash)).map(byName::get);
  }

  @Override
  public synchronized List<ApiToken> tokens() {
    return List.copyOf(byName.values());
  }

  @Override
  public synchronized boolean revoke(String name, Instant at) {
    ApiToken t = byName.get(name);
    if (t == null || t.revokedAt() != null) {
      return false;
    }
    byName.put(
        name, new ApiToken(t.name(), t.role(), t.createdAt(), t.expiresAt(), at, t.createdBy()));
    return true;
  }

  @Override
  public synchronized void record(AuditEntry e) {
    audit.add(
        new AuditEntry(audit.size() + 1, e.at(), e.actor(), e.action(), e.target(), e.detail()));
  }

  @Override
  public synchronized List<AuditEntry> auditLog(long afterId, int limit) {
    return audit.stream().filter(e -> e.id() > afterId).limit(limit).toList();
  }
}
