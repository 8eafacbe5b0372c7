package dev.stowage.app.dashboard;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.history.ClusterHistory;
import dev.stowage.scheduler.history.ClusterSample;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The overview's charts over time: one sample every {@link #EVERY}, the last {@link #KEPT} of them
 * (a day), so that a page left open, and the service, hold a bounded amount. The cycles run between
 * two samples are tallied as they run, so that none is missed however fast they come. Each sample
 * is also kept in a {@link ClusterHistory}, from which a restarted service takes up the last day.
 */
final class History {
  private static final Logger LOG = LoggerFactory.getLogger(History.class);
  static final java.time.Duration EVERY = java.time.Duration.ofSeconds(10);
  static final int KEPT = 8_640;
  static final java.time.Duration SPAN = EVERY.multipliedBy(KEPT);

  /** What the cluster held, how the tasks stood, and how the cycles went, at one moment. */
  record Sample(
      Instant at,
      double[] used, // per resource dimension, the fraction of the cluster's total in use
      Map<String, Double> queueShares, // dominant share of each queue with tasks in flight
      long placed, // tasks placed since the sample before (the first: since the start)
      long finished, // tasks that succeeded or failed since the sample before
      long failed,
      long cycles, // cycles run since the sample before
      double[] phaseMs) { // per phase of phases(), their mean time (ms) over those cycles

    /** The mean time of {@code phase} (an index into {@link #phases()}); 0 if none ran. */
    double phaseMs(int phase) {
      return phase < phaseMs.length ? phaseMs[phase] : 0;
    }
  }

  private final ArrayDeque<Sample> samples = new ArrayDeque<>();
  private final ClusterHistory kept;
  private long lastSucceeded = -1;
  private long lastFailed = -1;

  // Since the last sample, written by the cycle's thread.
  private long cyclesSince;
  private long placedSince;
  private final List<String> phases = new ArrayList<>(); // every phase seen, in the order seen
  private double[] phaseSumMs = new double[0];

  /** Takes up the last day's samples from {@code kept}, if it can read them. */
  History(ClusterHistory kept, Instant now) {
    this.kept = kept;
    try {
      for (ClusterSample s : kept.since(now.minus(SPAN))) {
        add(fromKept(s));
      }
    } catch (RuntimeException e) {
      // The charts start empty rather than the service not at all.
      LOG.warn(
          "the dashboard's charts start empty: their history could not be read: {}", e.toString());
    }
  }

  /** Counts a cycle that ran. Called on the cycle's thread: takes no more than a short lock. */
  synchronized void cycleRan(DashboardData.Cycle cycle) {
    cyclesSince++;
    placedSince += cycle.launched();
    for (Map.Entry<String, Double> p : cycle.phasesMs().entrySet()) {
      int i = phases.indexOf(p.getKey());
      if (i < 0) {
        phases.add(p.getKey());
        i = phases.size() - 1;
        phaseSumMs = Arrays.copyOf(phaseSumMs, phases.size());
      }
      phaseSumMs[i] += p.getValue();
    }
  }

  /** Takes a sample of {@code data} now. Reads the data before it takes the lock. */
  void sample(DashboardData data) {
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
    Instant at = data.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    Sample sample;
    List<String> phaseNames;
    synchronized (this) {
      long newlyFailed = lastFailed < 0 ? 0 : Math.max(0, failed - lastFailed);
      long newlySucceeded = lastSucceeded < 0 ? 0 : Math.max(0, succeeded - lastSucceeded);
      lastFailed = failed;
      lastSucceeded = succeeded;
      double[] meanMs = new double[phaseSumMs.length];
      for (int i = 0; i < meanMs.length && cyclesSince > 0; i++) {
        meanMs[i] = phaseSumMs[i] / cyclesSince;
      }
      long placed = placedSince;
      long cycles = cyclesSince;
      sample =
          new Sample(
              at,
              fraction,
              shares,
              placed,
              newlySucceeded + newlyFailed,
              newlyFailed,
              cycles,
              cycles == 0 ? new double[0] : meanMs);
      phaseNames = List.copyOf(phases);
      cyclesSince = 0;
      placedSince = 0;
      Arrays.fill(phaseSumMs, 0);
      add(sample);
    }
    try {
      kept.append(toKept(sample, phaseNames), at.minus(SPAN));
    } catch (RuntimeException e) {
      // Kept in memory all the same: only a restart within the outage loses it.
      LOG.warn("a sample of the cluster for the dashboard's charts was not kept: {}", e.toString());
    }
  }

  private void add(Sample sample) {
    samples.addLast(sample);
    while (samples.size() > KEPT) {
      samples.removeFirst();
    }
  }

  private static ClusterSample toKept(Sample s, List<String> phaseNames) {
    var used = new ArrayList<Double>();
    for (double u : s.used()) {
      used.add(u);
    }
    var phases = new LinkedHashMap<String, Double>();
    for (int p = 0; p < s.phaseMs().length; p++) {
      phases.put(phaseNames.get(p), s.phaseMs()[p]);
    }
    return new ClusterSample(
        s.at(), used, s.queueShares(), s.placed(), s.finished(), s.failed(), s.cycles(), phases);
  }

  // Called while constructing only, so that the phase names need no lock.
  private Sample fromKept(ClusterSample s) {
    double[] used = new double[4];
    for (int d = 0; d < used.length && d < s.used().size(); d++) {
      used[d] = s.used().get(d);
    }
    double[] meanMs = new double[0];
    for (Map.Entry<String, Double> p : s.phaseMeanMs().entrySet()) {
      int i = phases.indexOf(p.getKey());
      if (i < 0) {
        phases.add(p.getKey());
        i = phases.size() - 1;
        phaseSumMs = Arrays.copyOf(phaseSumMs, phases.size());
      }
      if (meanMs.length <= i) {
        meanMs = Arrays.copyOf(meanMs, i + 1);
      }
      meanMs[i] = p.getValue();
    }
    return new Sample(
        s.at(), used, s.queueShares(), s.placed(), s.finished(), s.failed(), s.cycles(), meanMs);
  }

  synchronized List<Sample> samples() {
    return new ArrayList<>(samples);
  }

  /** The phases the samples' {@code phaseMs} are indexed by. */
  synchronized List<String> phases() {
    return List.copyOf(phases);
  }
}
