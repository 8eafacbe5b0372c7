package dev.stowage.scheduler;

import dev.stowage.engine.Offer;
import java.util.List;

/**
 * The node events of a backend whose nodes never change: every node added, on the first call, and
 * nothing after.
 */
public final class FixedNodes {
  private final List<NodeEvent> added;
  private boolean reported;

  public FixedNodes(List<Offer> capacities) {
    this.added = capacities.stream().<NodeEvent>map(NodeEvent.Added::new).toList();
  }

  /** What {@link ClusterBackend#drainNodeEvents} answers. */
  public synchronized List<NodeEvent> drain() {
    if (reported) {
      return List.of();
    }
    reported = true;
    return added;
  }
}
