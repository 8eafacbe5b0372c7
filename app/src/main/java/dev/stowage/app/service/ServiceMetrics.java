package dev.stowage.app.service;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TaskStore;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.Meter;
import java.util.List;
import java.util.Map;

/**
 * What the service reports when read (a scrape, an OTLP export): tasks by state and how much of the
 * cluster is in use, per resource.
 */
final class ServiceMetrics {
  static final AttributeKey<String> STATE = AttributeKey.stringKey("stowage.task.state");
  static final AttributeKey<String> RESOURCE = AttributeKey.stringKey("stowage.resource");

  /** Counting a million tasks is a full scan: at most once per this many nanoseconds. */
  private static final long COUNT_EVERY_NANOS = 10_000_000_000L;

  private ServiceMetrics() {}

  static final AttributeKey<String> QUEUE = AttributeKey.stringKey("stowage.queue");

  /**
   * Per queue, each configured queue from zero: its tasks queued and in flight, its dominant share
   * of the cluster and its fair share (its weight over those of the queues with work).
   */
  static void registerQueues(
      Meter meter,
      TaskStore store,
      dev.stowage.scheduler.queues.QueueStore queues,
      dev.stowage.scheduler.ClusterNodes nodes) {
    meter
        .gaugeBuilder("stowage.queue.tasks")
        .ofLongs()
        .setDescription("Each queue's tasks: queued (waiting to be placed) and running (in flight)")
        .setUnit("{task}")
        .buildWithCallback(
            m -> {
              var loads = store.queueLoads(false);
              for (var q : queues.list()) {
                var load = loads.getOrDefault(q.name(), dev.stowage.scheduler.QueueLoad.EMPTY);
                m.record(load.queued(), Attributes.of(QUEUE, q.name(), STATE, "queued"));
                m.record(load.runningTasks(), Attributes.of(QUEUE, q.name(), STATE, "running"));
              }
            });
    meter
        .gaugeBuilder("stowage.queue.dominant_share")
        .setDescription(
            "The largest fraction of any one of the cluster's resources each queue's tasks in"
                + " flight hold")
        .setUnit("1")
        .buildWithCallback(
            m -> {
              var running = store.runningByQueue();
              long[] capacity = dev.stowage.scheduler.queues.FairShare.capacity(nodes.capacities());
              for (var q : queues.list()) {
                m.record(
                    dev.stowage.scheduler.queues.FairShare.dominantShare(
                        running.getOrDefault(q.name(), Resources.NONE), capacity),
                    Attributes.of(QUEUE, q.name()));
              }
            });
    meter
        .gaugeBuilder("stowage.queue.fair_share")
        .setDescription(
            "Each queue's weight over the weights of the queues with tasks queued or in flight"
                + " (itself counted): the share it is due when all want more than the cluster")
        .setUnit("1")
        .buildWithCallback(
            m -> {
              var fair =
                  dev.stowage.scheduler.queues.FairShare.fairShares(
                      queues.list(), store.queueLoads(false).keySet());
              fair.forEach((q, share) -> m.record(share, Attributes.of(QUEUE, q)));
            });
  }

  static void register(
      Meter meter,
      TaskStore store,
      ClusterBackend backend,
      dev.stowage.scheduler.ClusterNodes nodes) {
    record Counts(Map<TaskState, Long> byState, long neverSchedulable) {}
    var counts =
        new Object() {
          Counts last = new Counts(Map.of(), 0);
          long at = Long.MIN_VALUE;

          synchronized Counts get() {
            long now = System.nanoTime();
            if (at == Long.MIN_VALUE || now - at >= COUNT_EVERY_NANOS) {
              last = new Counts(store.countByState(), store.countNeverSchedulable());
              at = now;
            }
            return last;
          }
        };
    meter
        .gaugeBuilder("stowage.tasks")
        .ofLongs()
        .setDescription(
            "Tasks by state; queued tasks that no node could ever host are counted apart, in"
                + " stowage.tasks.never_schedulable, not as queued")
        .setUnit("{task}")
        .buildWithCallback(
            m -> {
              Counts now = counts.get();
              for (TaskState s : TaskState.values()) {
                long n = now.byState().getOrDefault(s, 0L);
                if (s == TaskState.QUEUED) {
                  n -= now.neverSchedulable();
                }
                m.record(n, Attributes.of(STATE, s.label()));
              }
            });
    meter
        .gaugeBuilder("stowage.tasks.never_schedulable")
        .ofLongs()
        .setDescription(
            "Queued tasks that no node of the cluster could ever host, kept out of the queue until"
                + " the nodes change")
        .setUnit("{task}")
        .buildWithCallback(m -> m.record(counts.get().neverSchedulable()));
    meter
        .gaugeBuilder("stowage.cluster.utilization")
        .setDescription("The share of the cluster's capacity in use, per resource")
        .setUnit("1")
        .buildWithCallback(
            m -> {
              double[] used = utilization(nodes.capacities(), backend.offers());
              for (int d = 0; d < 4; d++) {
                if (!Double.isNaN(used[d])) {
                  m.record(used[d], Attributes.of(RESOURCE, Resources.DIMENSIONS[d]));
                }
              }
            });
  }

  /** Per dimension, 1 - free/capacity over all nodes; NaN where no node has any. */
  static double[] utilization(List<Offer> capacities, List<Offer> offers) {
    double[] capacity = new double[4];
    double[] free = new double[4];
    for (Offer o : capacities) {
      for (int d = 0; d < 4; d++) {
        capacity[d] += o.available().get(d);
      }
    }
    for (Offer o : offers) {
      for (int d = 0; d < 4; d++) {
        free[d] += o.available().get(d);
      }
    }
    double[] out = new double[4];
    for (int d = 0; d < 4; d++) {
      out[d] = capacity[d] == 0 ? Double.NaN : 1 - free[d] / capacity[d];
    }
    return out;
  }
}
