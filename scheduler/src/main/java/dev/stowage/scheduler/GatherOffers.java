package dev.stowage.scheduler;

import dev.stowage.engine.Offer;
import java.util.List;

/**
 * The offers stage: what each node can take now. When the nodes have changed since it last looked
 * (and on the first cycle), tasks flagged never schedulable are checked against them first; those
 * that now fit a node rejoin the queue.
 */
final class GatherOffers {
  private final ClusterBackend backend;
  private final TaskStore store;
  private final ClusterNodes nodes;
  private List<Offer> checked; // the nodes flagged tasks were last checked against

  GatherOffers(ClusterBackend backend, TaskStore store, ClusterNodes nodes) {
    this.backend = backend;
    this.store = store;
    this.nodes = nodes;
  }

  List<Offer> offers() {
    recheckNeverSchedulable();
    return backend.offers();
  }

  private void recheckNeverSchedulable() {
    List<Offer> capacities = nodes.capacities();
    if (capacities == checked || capacities.isEmpty()) {
      return;
    }
    List<StoredTask> flagged = store.neverSchedulable();
    if (!flagged.isEmpty()) {
      var still =
          Feasibility.neverSchedulable(
              flagged.stream().map(StoredTask::spec).toList(), nodes.shapes());
      store.clearNeverSchedulable(
          flagged.stream().map(StoredTask::id).filter(id -> !still.containsKey(id)).toList());
    }
    checked = capacities;
  }
}
