package dev.stowage.app.dashboard;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.TaskState;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The overview's charts over time: one sample every {@link #EVERY}, the last {@link #KEPT} of them
 * (a day), so that a page left open, and the service, hold a bounded amount.
 */
final class History {
  static final java.time.Duration EVERY = java.time.Duration.ofSeconds(10);
  static final int KEPT = 8_640;

  /** What the cluster held, and how the tasks stood, at one moment. */
  record Sample(
      Instant at,
      double[] used, // per resource dimension, the fraction of the cluster's total in use
      Map<String, Double> queueShares, // dominant share of each queue with tasks in flight
      long placed, // tasks placed since the sample before
      long finished, // tasks that succeeded or failed since the sample before
      long failed) {}

  private final ArrayDeque<Sample> samples = new ArrayDeque<>();
  private long lastSucceeded = -1;
  private long lastFailed = -1;
  private long lastPlaced = -1;

  /** Takes a sample of {@code data} now; {@code placedSoFar} counts every placement since start. */
  synchronized void sample(DashboardData data, long placedSoFar) {
    long[] total = new long[4];
    long[] used = new long[4];
    for (DashboardData.Node n : data.nodes()) {
      for (int d = 0; d < 4; d++) {
        used[d] += n.used().get(d);
        total[d] += n.used().get(d) + n.free().get(d);
      }
    }
    double[] fraction = new double[4];
    for (int d = 0; d < 4; d++) {
      fraction[d] = total[d] == 0 ? 0 : (double) used[d] / total[d];
    }
    var shares = new TreeMap<String, Double>();
    for (Map.Entry<String, Resources> q : data.runningByQueue().entrySet()) {
      double share = 0;
      for (int d = 0; d < 4; d++) {
        if (total[d] > 0) {
          share = Math.max(share, (double) q.getValue().get(d) / total[d]);
        }
      }
      shares.put(q.getKey(), share);
    }
    Map<TaskState, Long> counts = data.countByState();
    long succeeded = counts.getOrDefault(TaskState.SUCCEEDED, 0L);
    long failed = counts.getOrDefault(TaskState.FAILED, 0L);
    long newlyFailed = lastFailed < 0 ? 0 : Math.max(0, failed - lastFailed);
    long newlySucceeded = lastSucceeded < 0 ? 0 : Math.max(0, succeeded - lastSucceeded);
    long placed = lastPlaced < 0 ? 0 : Math.max(0, placedSoFar - lastPlaced);
    lastFailed = failed;
    lastSucceeded = succeeded;
    lastPlaced = placedSoFar;
    samples.addLast(
        new Sample(
            data.now(), fraction, shares, placed, newlySucceeded + newlyFailed, newlyFailed));
    while (samples.size() > KEPT) {
      samples.removeFirst();
    }
  }

  synchronized List<Sample> samples() {
    return new ArrayList<>(samples);
  }
}
