package dev.stowage.scheduler;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The launch stage: each prepared attempt, and each whose inputs staging has put in place, handed
 * to the backend, then all marked launched in one write. An attempt cancelled while it was launched
 * is killed again; a backend that throws fails that attempt only.
 */
final class LaunchAttempts {
  private final ClusterBackend backend;
  private final TaskStore store;
  private final StagingHandOff handOff;
  private final AttemptEnds ends;
  private final AttemptSpans spans;
  private final CycleMetrics metrics;
  private final CrashPoints crashPoints;
  private final Clock clock;

  LaunchAttempts(
      ClusterBackend backend,
      TaskStore store,
      StagingHandOff handOff,
      AttemptEnds ends,
      AttemptSpans spans,
      CycleMetrics metrics,
      CrashPoints crashPoints,
      Clock clock) {
    this.backend = backend;
    this.store = store;
    this.handOff = handOff;
    this.ends = ends;
    this.spans = spans;
    this.metrics = metrics;
    this.crashPoints = crashPoints;
    this.clock = clock;
  }

  /** Launches {@code prepared} (their tasks assigned) and the staged ones; returns how many. */
  int launch(List<Launch> prepared) {
    return launch(prepared, TaskState.ASSIGNED) + launch(handOff.takeStaged(), TaskState.STAGING);
  }

  private int launch(List<Launch> launches, TaskState from) {
    if (launches.isEmpty()) {
      return 0;
    }
    Instant now = clock.instant();
    var started = new ArrayList<Launch>(launches.size());
    for (Launch l : launches) {
      try {
        crashPoints.launching(() -> backend.launch(l));
        started.add(l);
        if (started.size() == 1 && launches.size() > 1) {
          crashPoints.reach(CrashPoints.Point.DURING_LAUNCH);
        }
      } catch (RuntimeException e) {
        // A backend that throws instead of reporting: that attempt failed, the cycle goes on.
        ends.failed(
            l.attempt(),
            from,
            now,
            CycleMetrics.Failure.LAUNCH,
            "launch failed: " + e.getMessage());
      }
    }
    if (!started.isEmpty()) {
      crashPoints.reach(CrashPoints.Point.AFTER_LAUNCH);
      crashPoints.reach(CrashPoints.Point.LAUNCHED_UNRECORDED);
    }
    var attempts = started.stream().map(Launch::attempt).toList();
    var moved = store.transitionAll(attempts, from, TaskState.LAUNCHED, now);
    for (Launch l : started) {
      if (moved.contains(l.attempt().taskId())) {
        spans.step(l.attempt(), "launched");
      } else {
        backend.kill(l.attempt()); // cancelled while it was being launched
        spans.cancelled(l.attempt(), "cancelled while it was launched");
      }
    }
    metrics.attemptsStarted(moved.size());
    return moved.size();
  }
}
