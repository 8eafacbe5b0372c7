package dev.stowage.scheduler.history;

import java.time.Instant;
import java.util.List;
import java.util.function.Consumer;

/**
 * Where the cluster's samples are kept, so that the charts over time outlive a restart. Each
 * service samples on its own clock: a sample at an instant already kept is not kept again.
 */
public interface ClusterHistory {
  /** Keeps {@code sample}, and forgets every sample taken before {@code keepFrom}. */
  void append(ClusterSample sample, Instant keepFrom);

  /**
   * The samples taken at or after {@code from}, oldest first. A kept sample that cannot be read
   * back is left out and passed to {@code unreadable}, so that one bad sample costs only itself.
   */
  List<ClusterSample> since(Instant from, Consumer<Unreadable> unreadable);

  /** A kept sample that could not be read back: when it was taken, and what is wrong with it. */
  record Unreadable(Instant at, String problem) {}

  /** A history in memory, empty: for tests and for embedding. */
  static ClusterHistory inMemory() {
    return new InMemoryClusterHistory();
  }
}
