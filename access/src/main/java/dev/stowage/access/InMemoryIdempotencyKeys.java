package dev.stowage.access;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Idempotency keys in memory: the twin of the PostgreSQL table, for tests. */
public final class InMemoryIdempotencyKeys implements IdempotencyKeys {
  private record Entry(String hash, Instant at, Integer status, String body) {}

  private final Map<List<String>, Entry> entries = new HashMap<>();

  @Override
  public synchronized Claim claim(String actor, String key, String requestHash, Instant now) {
    entries.values().removeIf(e -> e.at().isBefore(now.minus(RETENTION)));
    Entry e = entries.get(List.of(actor, key));
    if (e == null) {
      entries.put(List.of(actor, key), new Entry(requestHash, now, null, null));
      return new Claim.Fresh();
    }
    if (!e.hash().equals(requestHash)) {
      return new Claim.Mismatch();
    }
    return e.status() == null ? new Claim.InProgress() : new Claim.Replay(e.status(), e.body());
  }

  @Override
  public synchronized void complete(String actor, String key, int status, String body) {
    entries.computeIfPresent(
        List.of(actor, key), (k, e) -> new Entry(e.hash(), e.at(), status, body));
  }

  @Override
  public synchronized void release(String actor, String key) {
    entries.remove(List.of(actor, key));
  }
}
