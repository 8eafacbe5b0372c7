package dev.stowage.scheduler;

import dev.stowage.engine.Offer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cluster's nodes as the scheduler knows them, kept current by the backend's {@link
 * NodeEvent}s: each node's capacity and attributes. Written only by the cycle; readers on any
 * thread get an immutable snapshot that changes instance exactly when a node changes. In memory
 * only: the backend is the record of its nodes and reports them all again as added when it starts.
 */
public final class ClusterNodes {
  private final Map<String, Offer> byName = new LinkedHashMap<>();
  private volatile Snapshot snapshot = new Snapshot(List.of());

  /** The nodes as readers see them: one immutable value, so the two views always agree. */
  private record Snapshot(List<Offer> capacities, Feasibility.NodeShapes shapes) {
    Snapshot(List<Offer> capacities) {
      this(capacities, Feasibility.NodeShapes.of(capacities));
    }
  }

  /**
   * Applies a batch of changes in order; returns how many changed something. The snapshot is
   * rebuilt once per batch: a backend's first batch names every node.
   */
  int apply(List<NodeEvent> events) {
    int changed = 0;
    for (NodeEvent event : events) {
      boolean did =
          switch (event) {
            case NodeEvent.Added a -> !a.capacity().equals(byName.put(a.node(), a.capacity()));
            case NodeEvent.Changed c -> !c.capacity().equals(byName.put(c.node(), c.capacity()));
            case NodeEvent.Removed r -> byName.remove(r.node()) != null;
          };
      if (did) {
        changed++;
      }
    }
    if (changed > 0) {
      snapshot = new Snapshot(List.copyOf(byName.values()));
    }
    return changed;
  }

  /**
   * Every node's capacity, in the order they arrived: the same instance while no node changes.
   * Empty before the backend reported any.
   */
  public List<Offer> capacities() {
    return snapshot.capacities();
  }

  /** The nodes grouped by shape, for {@link Feasibility}: built once per change, not per check. */
  public Feasibility.NodeShapes shapes() {
    return snapshot.shapes();
  }
}
