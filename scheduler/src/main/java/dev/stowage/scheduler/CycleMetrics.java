package dev.stowage.scheduler;

import dev.stowage.engine.Explanation;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Rejection;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.context.Context;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The cycle's metrics: how long cycles and phases take, how many tasks were matched and why the
 * others were not, how long tasks queued, and why attempts failed. Names in the {@code stowage.*}
 * namespace, units as OpenTelemetry's conventions spell them.
 */
final class CycleMetrics {
  static final AttributeKey<String> PHASE = AttributeKey.stringKey("stowage.phase");
  static final AttributeKey<String> REASON = AttributeKey.stringKey("stowage.reason");

  /** Every reason {@link #category} gives. */
  static final List<String> REASONS = reasons();

  private static List<String> reasons() {
    var out = new java.util.ArrayList<String>();
    for (int d = 0; d < dev.stowage.engine.Resources.DIMENSIONS.length; d++) {
      out.add(new Rejection.Insufficient(d, 0, 0, 0).kind());
    }
    out.add(new Rejection.Constraint("", "").kind());
    out.add(new Rejection.Untolerated(new dev.stowage.engine.Taint("k", "", "NoSchedule")).kind());
    out.add(new Rejection.Taken().kind());
    out.addAll(List.of("no offers", "fits", "not examined"));
    return List.copyOf(out);
  }

  /** Unmatched tasks are explained per kind of task, for this many kinds a cycle at most. */
  private static final int EXPLAINED_KINDS = 32;

  private final DoubleHistogram cycleDuration;
  private final DoubleHistogram phaseDuration;
  private final LongCounter matched;

  /** The last cycle's unmatched tasks by reason, read when the gauge is. */
  private volatile Map<String, Long> unmatched = Map.of();

  private final DoubleHistogram queueWait;
  private final LongCounter attemptsFailed;
  private final LongCounter attemptsStarted;
  private final LongCounter attemptsSucceeded;
  private final LongCounter preemptions;
  private final Map<String, Attributes> phaseAttributes = new HashMap<>();

  CycleMetrics(Meter meter) {
    cycleDuration =
        meter
            .histogramBuilder("stowage.cycle.duration")
            .setDescription("How long one scheduling cycle took, all phases and writes included")
            .setUnit("s")
            .setExplicitBucketBoundariesAdvice(DurationBuckets.CYCLE)
            .build();
    phaseDuration =
        meter
            .histogramBuilder("stowage.cycle.phase.duration")
            .setDescription("How long each phase of a scheduling cycle took")
            .setUnit("s")
            .setExplicitBucketBoundariesAdvice(DurationBuckets.CYCLE)
            .build();
    matched =
        meter
            .counterBuilder("stowage.tasks.matched")
            .setDescription("Processable tasks a cycle matched to an offer")
            .setUnit("{task}")
            .build();
    // A gauge, not a counter: a task blocked for an hour is one blocked task, not 3,600.
    meter
        .gaugeBuilder("stowage.tasks.unmatched")
        .ofLongs()
        .setDescription("Processable tasks the last cycle left unmatched, by the main reason")
        .setUnit("{task}")
        .buildWithCallback(
            m -> {
              Map<String, Long> now = unmatched;
              now.forEach((reason, n) -> m.record(n, Attributes.of(REASON, reason)));
              // And every other reason at zero, so that a chart or alert of one has a series
              // before it happens.
              for (String reason : REASONS) {
                if (!now.containsKey(reason)) {
                  m.record(0, Attributes.of(REASON, reason));
                }
              }
            });
    queueWait =
        meter
            .histogramBuilder("stowage.task.queue.wait")
            .setDescription("From queued (or the end of a retry's backoff) to assigned")
            .setUnit("s")
            .setExplicitBucketBoundariesAdvice(DurationBuckets.LONG)
            .build();
    attemptsFailed =
        meter
            .counterBuilder("stowage.attempts.failed")
            .setDescription(
                "Task attempts that failed, by cause (exit, timeout, oom, lost, launch, staging,"
                    + " outputs)")
            .setUnit("{attempt}")
            .build();
    attemptsStarted =
        meter
            .counterBuilder("stowage.attempts.started")
            .setDescription("Task attempts launched (their processes started)")
            .setUnit("{attempt}")
            .build();
    attemptsSucceeded =
        meter
            .counterBuilder("stowage.attempts.succeeded")
            .setDescription(
                "Task attempts that succeeded: with stowage.attempts.failed, the failure ratio")
            .setUnit("{attempt}")
            .build();
    preemptions =
        meter
            .counterBuilder("stowage.preemptions")
            .setDescription(
                "Running attempts evicted for a task that fit nowhere, by the evicted task's queue"
                    + " (stowage.queue) and the preempting task's (stowage.preemptor.queue)")
            .setUnit("{attempt}")
            .build();
    attemptsStarted.add(0);
    attemptsSucceeded.add(0);
    preemptions.add(
        0, Attributes.of(QUEUE, TaskSpec.DEFAULT_QUEUE, PREEMPTOR_QUEUE, TaskSpec.DEFAULT_QUEUE));
    // Every series from the start, at zero: a rate of a series that appears on first use is
    // unknown until then, and an alert on it never fires.
    matched.add(0);
    for (Failure f : Failure.values()) {
      attemptsFailed.add(0, f.attributes);
    }
  }

  /**
   * Records a cycle's durations once it is known whether its trace is kept. {@code trace} is the
   * cycle's context, whose span becomes the histograms' exemplar (the trace of a slow cycle), or
   * the root context for a cycle whose trace telemetry leaves out: an exemplar must lead to a trace
   * that exists.
   */
  void cycle(Duration took, Map<String, Duration> phases, Context trace) {
    cycleDuration.record(took.toNanos() / 1e9, Attributes.empty(), trace);
    phases.forEach(
        (name, d) ->
            phaseDuration.record(
                d.toNanos() / 1e9,
                phaseAttributes.computeIfAbsent(name, n -> Attributes.of(PHASE, n)),
                trace));
  }

  /**
   * Counts the cycle's matches, and its unmatched tasks by the engine's main reason: one pass over
   * the offers per kind of unmatched task, for the first {@value #EXPLAINED_KINDS} kinds.
   */
  void matchResult(MatchResult result, List<StoredTask> tasks) {
    matched.add(result.matchedCount());
    int[] left = result.unassignedTasks();
    if (left.length == 0) {
      unmatched = Map.of();
      return;
    }
    var reasonByKind = new HashMap<Object, String>();
    var counts = new HashMap<String, Long>();
    for (int i : left) {
      var spec = tasks.get(i).spec();
      Object kind = List.of(spec.resources(), spec.constraints());
      String reason = reasonByKind.get(kind);
      if (reason == null) {
        reason =
            reasonByKind.size() < EXPLAINED_KINDS ? category(result.explain(i)) : "not examined";
        reasonByKind.put(kind, reason);
      }
      counts.merge(reason, 1L, Long::sum);
    }
    unmatched = Map.copyOf(counts);
  }

  /** A low-cardinality label: the largest reason, with constraint values left out. */
  static String category(Explanation e) {
    if (e.rejections().isEmpty()) {
      return e.offers() == 0 ? "no offers" : "fits";
    }
    return e.rejections().getFirst().reason().kind();
  }

  /** {@code attempt} is the attempt's trace context: a long wait's exemplar leads to the task. */
  void queued(Duration waited, Context attempt) {
    queueWait.record(waited.toNanos() / 1e9, Attributes.empty(), attempt);
  }

  /** Why an attempt failed, as the {@code stowage.attempts.failed} metric labels it. */
  enum Failure {
    EXIT("exit"),
    TIMEOUT("timeout"),
    OOM("oom"),
    LOST("lost"),
    LAUNCH("launch"),
    EVICTED("evicted"),
    STAGING("staging"),
    OUTPUTS("outputs");

    final Attributes attributes;
    private final String label;

    Failure(String label) {
      this.label = label;
      this.attributes = Attributes.of(REASON, label);
    }

    /** As the metric and the logs name it. */
    String label() {
      return label;
    }
  }

  void attemptsStarted(int n) {
    attemptsStarted.add(n);
  }

  void attemptSucceeded() {
    attemptsSucceeded.add(1);
  }

  void attemptFailed(Failure cause) {
    attemptsFailed.add(1, cause.attributes);
  }

  private static final io.opentelemetry.api.common.AttributeKey<String> QUEUE =
      io.opentelemetry.api.common.AttributeKey.stringKey("stowage.queue");
  private static final io.opentelemetry.api.common.AttributeKey<String> PREEMPTOR_QUEUE =
      io.opentelemetry.api.common.AttributeKey.stringKey("stowage.preemptor.queue");

  void preempted(String queue, String preemptorQueue) {
    preemptions.add(1, Attributes.of(QUEUE, queue, PREEMPTOR_QUEUE, preemptorQueue));
  }
}
