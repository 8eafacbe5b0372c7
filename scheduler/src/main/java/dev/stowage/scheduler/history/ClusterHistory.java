package dev.stowage.scheduler.history;

import java.time.Instant;
import java.util.List;

/**
 * Where the cluster's samples are kept, so that the charts over time outlive a restart. Each
 * service samples on its own clock: a sample at an instant already kept is not kept again.
 */
public interface ClusterHistory {
  /** Keeps {@code sample}, and forgets every sample taken before {@code keepFrom}. */
  void append(ClusterSample sample, Instant keepFrom);

  /** The samples taken at or after {@code from}, oldest first. */
  List<ClusterSample> since(Instant from);

  /** A history in memory, empty: for tests and for embedding. */
  static ClusterHistory inMemory() {
    return new InMemoryClusterHistory();
  }
}
