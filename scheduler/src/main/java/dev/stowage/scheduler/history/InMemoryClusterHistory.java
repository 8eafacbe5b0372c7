package dev.stowage.scheduler.history;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Consumer;

/** The in-memory twin of the history the store keeps: the same rules, nothing outlives it. */
final class InMemoryClusterHistory implements ClusterHistory {
  private final TreeMap<Instant, ClusterSample> samples = new TreeMap<>();

  @Override
  public synchronized void append(ClusterSample sample, Instant keepFrom) {
    samples.putIfAbsent(sample.at(), sample);
    samples.headMap(keepFrom).clear();
  }

  @Override
  public synchronized List<ClusterSample> since(Instant from, Consumer<Unreadable> unreadable) {
    // Kept as objects: every one reads back.
    return new ArrayList<>(samples.tailMap(from, true).values());
  }
}
