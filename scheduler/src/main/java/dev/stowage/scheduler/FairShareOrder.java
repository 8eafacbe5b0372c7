package dev.stowage.scheduler;

import dev.stowage.scheduler.queues.FairShare;
import dev.stowage.scheduler.queues.QueueStore;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The order stage with queues: they take turns by dominant resource fairness ({@link FairShare}),
 * each in priority order, against the cluster's nodes as the cycle last knew them. Keeps which
 * queues stopped at a limit in its last take, for {@code why}.
 */
final class FairShareOrder implements OrderTasks {
  private final TaskStore store;
  private final QueueStore queues;
  private final ClusterNodes nodes;
  private volatile Map<String, FairShare.AtLimit> lastAtLimit = Map.of();

  FairShareOrder(TaskStore store, QueueStore queues, ClusterNodes nodes) {
    this.store = store;
    this.queues = queues;
    this.nodes = nodes;
  }

  @Override
  public List<StoredTask> take(int max, Instant now) {
    var turns =
        new FairShare(
            queues.list(), store.runningByQueue(), FairShare.capacity(nodes.capacities()));
    List<StoredTask> taken = store.processable(max, now, turns);
    var atLimit = new java.util.HashMap<String, FairShare.AtLimit>();
    for (var a : turns.atLimit()) {
      atLimit.put(a.queue(), a);
    }
    lastAtLimit = Map.copyOf(atLimit);
    return taken;
  }

  /** The limit {@code queue} stopped at in the last take, if it did. Safe from any thread. */
  Optional<FairShare.AtLimit> atLimit(String queue) {
    return Optional.ofNullable(lastAtLimit.get(queue));
  }
}
