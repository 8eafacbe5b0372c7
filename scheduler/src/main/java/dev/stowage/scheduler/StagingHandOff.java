package dev.stowage.scheduler;

import io.opentelemetry.context.Scope;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The hand-off between the cycle and the stager: attempts whose inputs are being copied in, those
 * copied and waiting for the launch stage, and those whose outputs are being copied out. In memory
 * only: after a restart (or a store that lost writes) reconcile forgets it all, sends staging tasks
 * back to the queue and collects outputs again.
 */
final class StagingHandOff {
  private final CycleParts parts;
  private final Stager stager; // null: tasks with inputs or outputs fail their attempt
  private final Map<AttemptId, Launch> staging = new HashMap<>();
  private final List<Launch> staged = new ArrayList<>();
  private final Set<AttemptId> collecting = new HashSet<>();

  StagingHandOff(CycleParts parts, Stager stager) {
    this.parts = parts;
    this.stager = stager;
  }

  /**
   * Hands each launch whose task declares inputs to the stager (its task moves to staging), unless
   * the backend stages them on the node itself; returns the launches that can go now.
   */
  List<Launch> stageOrPass(List<Launch> launches, Instant now) {
    if (parts.backend().stagesOnNode()) {
      return launches; // each launch carries its inputs; the node copies them before it runs
    }
    var direct = new ArrayList<Launch>(launches.size());
    var toStage = new ArrayList<Launch>();
    for (Launch l : launches) {
      (l.inputs().isEmpty() ? direct : toStage).add(l);
    }
    if (toStage.isEmpty()) {
      return direct;
    }
    var dirs = new HashMap<AttemptId, Path>();
    var ready = new ArrayList<AttemptId>();
    for (Launch l : toStage) {
      var dir = parts.backend().workDirectory(l.attempt());
      if (stager == null || dir.isEmpty()) {
        parts
            .ends()
            .failed(
                l.attempt(),
                TaskState.ASSIGNED,
                now,
                CycleMetrics.Failure.STAGING,
                stager == null
                    ? "the task declares inputs, but this scheduler has no stager"
                    : "the task declares inputs, but the backend cannot receive staged files");
      } else {
        dirs.put(l.attempt(), dir.get());
        ready.add(l.attempt());
      }
    }
    var moved = parts.store().transitionAll(ready, TaskState.ASSIGNED, TaskState.STAGING, now);
    for (Launch l : toStage) {
      if (moved.contains(l.attempt().taskId()) && dirs.containsKey(l.attempt())) {
        staging.put(l.attempt(), l);
        // The stager's span nests under the attempt's.
        try (Scope ignored = parts.spans().context(l.attempt()).makeCurrent()) {
          stager.stage(l.attempt(), l.inputs(), dirs.get(l.attempt()));
        }
      }
    }
    return direct;
  }

  /**
   * Staging that ended since the last call: a success waits for the launch stage, a failure fails
   * its attempt (retried per the task's policy) with the reason recorded; outputs copied out end
   * their attempts. Returns how many results it applied.
   */
  int applyResults(Instant now) {
    if (stager == null) {
      return 0;
    }
    int applied = 0;
    for (Stager.Result r : stager.drainResults()) {
      if (r.phase() == Stager.Phase.OUTPUTS) {
        if (collecting.remove(r.attempt())) {
          applied++;
          outputsCollected(r, now);
        }
        continue;
      }
      Launch launch = staging.remove(r.attempt());
      if (launch == null) {
        continue; // an attempt reconciliation has already sent back
      }
      applied++;
      if (r.succeeded()) {
        parts.spans().step(r.attempt(), "staged");
        staged.add(launch);
      } else {
        parts
            .ends()
            .failed(
                r.attempt(),
                TaskState.STAGING,
                now,
                CycleMetrics.Failure.STAGING,
                "staging failed: " + r.detail());
      }
    }
    return applied;
  }

  /** An attempt's outputs are out (it succeeds) or could not be copied (the attempt fails). */
  private void outputsCollected(Stager.Result r, Instant now) {
    if (r.succeeded()) {
      if (!parts.store().succeedAll(List.of(r.attempt()), TaskState.RUNNING, now).isEmpty()) {
        parts.ends().succeeded(r.attempt());
      }
    } else {
      parts
          .ends()
          .failed(
              r.attempt(),
              TaskState.RUNNING,
              now,
              CycleMetrics.Failure.OUTPUTS,
              "collecting outputs failed: " + r.detail());
    }
  }

  /**
   * The process of a task that declares outputs exited with 0: its outputs are copied out first,
   * its task running meanwhile. Returns whether that started (else the attempt failed, saying why).
   */
  boolean collectOutputs(StoredTask t, AttemptId attempt, Instant now) {
    var dir = parts.backend().workDirectory(attempt);
    if (stager == null || dir.isEmpty()) {
      parts
          .ends()
          .failed(
              attempt,
              t.state(),
              now,
              CycleMetrics.Failure.OUTPUTS,
              stager == null
                  ? "the task declares outputs, but this scheduler has no stager"
                  : "the task declares outputs, but the backend keeps no work directory");
      return false;
    }
    if (t.state() == TaskState.LAUNCHED
        && !parts.store().transition(t.id(), TaskState.LAUNCHED, TaskState.RUNNING, now)) {
      return false;
    }
    collecting.add(attempt);
    parts.spans().step(attempt, "exited");
    // The collector's span nests under the attempt's.
    try (Scope ignored = parts.spans().context(attempt).makeCurrent()) {
      stager.collect(attempt, t.spec().outputs(), dir.get());
    }
    return true;
  }

  /**
   * The attempts whose inputs are in place and whose tasks are still staging them, taken from the
   * hand-off; the others (cancelled, or sent back, while their inputs were copied) are dropped.
   */
  List<Launch> takeStaged() {
    if (staged.isEmpty()) {
      return List.of();
    }
    var ids = staged.stream().map(l -> l.attempt().taskId()).toList();
    Map<String, StoredTask> now = parts.store().getAll(ids);
    var stillStaging = new ArrayList<Launch>();
    for (Launch l : staged) {
      StoredTask t = now.get(l.attempt().taskId());
      if (t != null && t.state() == TaskState.STAGING && t.attempt() == l.attempt().attempt()) {
        stillStaging.add(l);
      } else {
        parts.spans().cancelled(l.attempt(), "cancelled while its inputs were staged");
      }
    }
    staged.clear();
    return stillStaging;
  }

  /** Removes what an attempt that never started had staged, so that a later one starts clean. */
  void discardPartial(AttemptId attempt) {
    if (stager != null) {
      parts.backend().workDirectory(attempt).ifPresent(stager::discardPartial);
    }
  }

  /** Forgets every attempt in flight: a result that still arrives for one finds nothing waiting. */
  void forget() {
    staging.clear();
    staged.clear();
    collecting.clear();
  }
}
