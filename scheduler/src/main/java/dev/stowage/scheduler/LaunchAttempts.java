package dev.stowage.scheduler;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The launch stage: each prepared attempt, and each whose inputs staging has put in place, handed
 * to the backend, then all marked launched in one write. An attempt cancelled while it was launched
 * is killed again; a backend that throws fails that attempt only.
 */
final class LaunchAttempts {
  private final CycleParts parts;
  private final StagingHandOff handOff;

  LaunchAttempts(CycleParts parts, StagingHandOff handOff) {
    this.parts = parts;
    this.handOff = handOff;
  }

  /** Launches {@code prepared} (their tasks assigned) and the staged ones; returns how many. */
  int launch(List<Launch> prepared) {
    return launch(prepared, TaskState.ASSIGNED) + launch(handOff.takeStaged(), TaskState.STAGING);
  }

  private int launch(List<Launch> launches, TaskState from) {
    if (launches.isEmpty()) {
      return 0;
    }
    Instant now = parts.clock().instant();
    var started = new ArrayList<Launch>(launches.size());
    for (Launch l : launches) {
      try {
        parts.crashPoints().launching(() -> parts.backend().launch(l));
        started.add(l);
        if (started.size() == 1 && launches.size() > 1) {
          parts.crashPoints().reach(CrashPoints.Point.DURING_LAUNCH);
        }
      } catch (RuntimeException e) {
        // A backend that throws instead of reporting: that attempt failed, the cycle goes on.
        parts
            .ends()
            .failed(
                l.attempt(),
                from,
                now,
                CycleMetrics.Failure.LAUNCH,
                "launch failed: " + e.getMessage());
      }
    }
    if (!started.isEmpty()) {
      parts.crashPoints().reach(CrashPoints.Point.AFTER_LAUNCH);
      parts.crashPoints().reach(CrashPoints.Point.LAUNCHED_UNRECORDED);
    }
    var attempts = started.stream().map(Launch::attempt).toList();
    var moved = parts.store().transitionAll(attempts, from, TaskState.LAUNCHED, now);
    for (Launch l : started) {
      if (moved.contains(l.attempt().taskId())) {
        parts.spans().step(l.attempt(), "launched");
      } else {
        parts.backend().kill(l.attempt()); // cancelled while it was being launched
        parts.spans().cancelled(l.attempt(), "cancelled while it was launched");
      }
    }
    parts.metrics().attemptsStarted(moved.size());
    return moved.size();
  }
}
