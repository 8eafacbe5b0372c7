package dev.stowage.app.dashboard;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.history.ClusterHistory;
import dev.stowage.scheduler.history.ClusterSample;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
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
 *
 * <p>A sample holds primitive arrays, queue and phase names as indexes into this history's lists of
 * them, and only the queues with tasks in flight: a day of samples of a hundred busy queues stays a
 * few megabytes.
 */
final class History {
  private static final Logger LOG = LoggerFactory.getLogger(History.class);
  static final java.time.Duration EVERY = java.time.Duration.ofSeconds(10);
  static final int KEPT = 8_640;
  static final java.time.Duration SPAN = EVERY.multipliedBy(KEPT);

  /**
   * What the cluster held, how the tasks stood, and how the cycles went, at one moment.
   *
   * @param used per resource dimension, the fraction of the cluster's total in use
   * @param queues the queues with tasks in flight, as indexes into {@link #queues()}, ascending
   * @param shares the dominant share of each of those queues
   * @param placed tasks placed since the sample before (the first: since the start)
   * @param finished tasks that succeeded or failed since the sample before
   * @param cycles cycles run since the sample before
   * @param phaseMs per phase of {@link #phases()}, its mean time (ms) over those cycles
   */
  record Sample(
      Instant at,
      float[] used,
      int[] queues,
      float[] shares,
      long placed,
      long finished,
      long failed,
      long cycles,
      float[] phaseMs) {

    /** The mean time of {@code phase} (an index into {@link #phases()}); 0 if none ran. */
    double phaseMs(int phase) {
      return phase < phaseMs.length ? phaseMs[phase] : 0;
    }

    /** The share of {@code queue} (an index into {@link #queues()}); 0 if none in flight. */
    double share(int queue) {
      int i = Arrays.binarySearch(queues, queue);
      return i < 0 ? 0 : shares[i];
    }
  }

  private final ArrayDeque<Sample> samples = new ArrayDeque<>();
  private final ClusterHistory kept;
  private long added; // samples ever added: tells a reader whether anything changed
  private long lastSucceeded = -1;
  private long lastFailed = -1;
  private final Names queueNames = new Names();
  private final Names phaseNames = new Names(); // in the order the cycles ran them

  // Since the last sample, written by the cycle's thread.
  private long cyclesSince;
  private long placedSince;
  private double[] phaseSumMs = new double[0];

  /** Takes up the last day's samples from {@code kept}, if it can read them. */
  History(ClusterHistory kept, Instant now) {
    this.kept = kept;
    try {
      var unreadable = new ArrayList<ClusterHistory.Unreadable>();
      for (ClusterSample s : kept.since(now.minus(SPAN), unreadable::add)) {
        add(fromKept(s));
      }
      if (!unreadable.isEmpty()) {
        var first = unreadable.getFirst();
        LOG.warn(
            "the dashboard's charts leave out {} kept sample(s) that could not be read; the first,"
                + " at {}: {}",
            unreadable.size(),
            first.at(),
            first.problem());
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
      int i = phaseNames.index(p.getKey());
      if (i >= phaseSumMs.length) {
        phaseSumMs = Arrays.copyOf(phaseSumMs, i + 1);
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
    float[] fraction = new float[4];
    for (int d = 0; d < 4; d++) {
      fraction[d] = total[d] == 0 ? 0 : (float) ((double) used[d] / total[d]);
    }
    var shares = new TreeMap<String, Float>();
    for (Map.Entry<String, Resources> q : data.runningByQueue().entrySet()) {
      double share = 0;
      for (int d = 0; d < 4; d++) {
        if (total[d] > 0) {
          share = Math.max(share, (double) q.getValue().get(d) / total[d]);
        }
      }
      shares.put(q.getKey(), (float) share);
    }
    Map<TaskState, Long> counts = data.countByState();
    long succeeded = counts.getOrDefault(TaskState.SUCCEEDED, 0L);
    long failed = counts.getOrDefault(TaskState.FAILED, 0L);
    Instant at = data.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    ClusterSample toKeep;
    synchronized (this) {
      long newlyFailed = lastFailed < 0 ? 0 : Math.max(0, failed - lastFailed);
      long newlySucceeded = lastSucceeded < 0 ? 0 : Math.max(0, succeeded - lastSucceeded);
      lastFailed = failed;
      lastSucceeded = succeeded;
      float[] meanMs = new float[cyclesSince == 0 ? 0 : phaseSumMs.length];
      for (int i = 0; i < meanMs.length; i++) {
        meanMs[i] = (float) (phaseSumMs[i] / cyclesSince);
      }
      Indexed inFlight = indexed(shares);
      var sample =
          new Sample(
              at,
              fraction,
              inFlight.queues(),
              inFlight.shares(),
              placedSince,
              newlySucceeded + newlyFailed,
              newlyFailed,
              cyclesSince,
              meanMs);
      cyclesSince = 0;
      placedSince = 0;
      Arrays.fill(phaseSumMs, 0);
      add(sample);
      toKeep = toKept(sample);
    }
    try {
      kept.append(toKeep, at.minus(SPAN));
    } catch (RuntimeException e) {
      // Kept in memory all the same: only a restart within the outage loses it.
      LOG.warn("a sample of the cluster for the dashboard's charts was not kept: {}", e.toString());
    }
  }

  /** Queues as indexes into {@link #queues()}, ascending, and their shares in the same order. */
  private record Indexed(int[] queues, float[] shares) {}

  private Indexed indexed(Map<String, Float> shares) {
    var byIndex = new TreeMap<Integer, Float>();
    shares.forEach((q, share) -> byIndex.put(queueNames.index(q), share));
    int[] queues = new int[byIndex.size()];
    float[] values = new float[byIndex.size()];
    int i = 0;
    for (Map.Entry<Integer, Float> e : byIndex.entrySet()) {
      queues[i] = e.getKey();
      values[i++] = e.getValue();
    }
    return new Indexed(queues, values);
  }

  private void add(Sample sample) {
    samples.addLast(sample);
    added++;
    while (samples.size() > KEPT) {
      samples.removeFirst();
    }
  }

  private ClusterSample toKept(Sample s) {
    var used = new ArrayList<Double>();
    for (float u : s.used()) {
      used.add((double) u);
    }
    var shares = new LinkedHashMap<String, Double>();
    for (int i = 0; i < s.queues().length; i++) {
      shares.put(queueNames.name(s.queues()[i]), (double) s.shares()[i]);
    }
    var phases = new LinkedHashMap<String, Double>();
    for (int p = 0; p < s.phaseMs().length; p++) {
      phases.put(phaseNames.name(p), (double) s.phaseMs()[p]);
    }
    return new ClusterSample(
        s.at(), used, shares, s.placed(), s.finished(), s.failed(), s.cycles(), phases);
  }

  // Called while constructing only, before any other thread sees this history.
  private Sample fromKept(ClusterSample s) {
    float[] used = new float[4];
    for (int d = 0; d < used.length && d < s.used().size(); d++) {
      used[d] = s.used().get(d).floatValue();
    }
    var shares = new TreeMap<String, Float>();
    s.queueShares().forEach((q, v) -> shares.put(q, v.floatValue()));
    Indexed inFlight = indexed(shares);
    float[] meanMs = new float[0];
    for (Map.Entry<String, Double> p : s.phaseMeanMs().entrySet()) {
      int i = phaseNames.index(p.getKey());
      if (i >= meanMs.length) {
        meanMs = Arrays.copyOf(meanMs, i + 1);
      }
      meanMs[i] = p.getValue().floatValue();
    }
    return new Sample(
        s.at(),
        used,
        inFlight.queues(),
        inFlight.shares(),
        s.placed(),
        s.finished(),
        s.failed(),
        s.cycles(),
        meanMs);
  }

  synchronized List<Sample> samples() {
    return new ArrayList<>(samples);
  }

  /** The samples and the names their indexes refer to, read together. */
  record View(long added, List<Sample> samples, List<String> queues, List<String> phases) {}

  synchronized View view() {
    return new View(added, new ArrayList<>(samples), queueNames.all(), phaseNames.all());
  }

  /** How many samples were ever added: the same number, the same samples. */
  synchronized long added() {
    return added;
  }

  /** The phases the samples' {@code phaseMs} are indexed by. */
  synchronized List<String> phases() {
    return phaseNames.all();
  }

  /** The queues the samples' {@code queues} are indexes into. */
  synchronized List<String> queues() {
    return queueNames.all();
  }

  /** Names given an index each, in the order first seen. */
  private static final class Names {
    private final List<String> names = new ArrayList<>();
    private final Map<String, Integer> indexes = new HashMap<>();

    int index(String name) {
      return indexes.computeIfAbsent(
          name,
          n -> {
            names.add(n);
            return names.size() - 1;
          });
    }

    String name(int index) {
      return names.get(index);
    }

    List<String> all() {
      return List.copyOf(names);
    }
  }
}
