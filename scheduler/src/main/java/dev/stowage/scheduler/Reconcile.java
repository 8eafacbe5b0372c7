package dev.stowage.scheduler;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reconcile, before the first cycle after a start (and whenever the store was loaded again): every
 * task the store holds as placed but not finished is brought in line with what the backend knows of
 * its attempt, and attempts the backend launched without a durable record are adopted. Running
 * attempts are watched again (their end arrives as an event); finished ones are recorded; one the
 * backend never launched is queued again without counting as a failure; one it lost is a failed
 * attempt, retried per its policy. Nothing already launched is launched again.
 */
final class Reconcile {
  // Under the cycle's logger name, as before the stages: what operators filter logs by.
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(SchedulingCycle.class);

  private final CycleParts parts;
  private final StagingHandOff handOff;

  Reconcile(CycleParts parts, StagingHandOff handOff) {
    this.parts = parts;
    this.handOff = handOff;
  }

  // What the last reconcile found running for tasks the store does not hold.
  private List<AttemptId> orphans = List.of();

  /**
   * Attempts the backend runs (or holds) for tasks the store does not hold, as the last reconcile
   * found them: left by another store under the same name, or by one that was reset.
   */
  List<AttemptId> orphans() {
    return orphans;
  }

  /** Returns how many tasks it checked. */
  int reconcile() {
    Instant now = parts.clock().instant();
    // Staging in flight is forgotten: its tasks go back to the queue below, and a result that
    // still arrives for one of them finds no launch waiting.
    handOff.forget();
    parts.spans().endAll("the scheduler reconciled its attempts with the backend");
    List<StoredTask> inFlight = parts.store().inFlight();
    for (StoredTask t : inFlight) {
      reconcileAttempt(t, new AttemptId(t.id(), Math.max(1, t.attempt())), now);
    }
    return inFlight.size() + adoptUnrecorded(now);
  }

  /**
   * Attempts the backend launched whose placement the store has no record of (it was not durable
   * when the service stopped): the task is queued one attempt short. Each is placed again as that
   * same attempt, on its node, and then checked like any attempt in flight. Returns how many.
   */
  private int adoptUnrecorded(Instant now) {
    var latest = new HashMap<String, Map.Entry<AttemptId, String>>();
    Map<AttemptId, String> launched = parts.backend().knownAttempts();
    launched.forEach(
        (a, offer) ->
            latest.merge(
                a.taskId(),
                Map.entry(a, offer),
                (x, y) -> x.getKey().attempt() >= y.getKey().attempt() ? x : y));
    if (latest.isEmpty()) {
      orphans = List.of();
      return 0;
    }
    Map<String, StoredTask> stored = parts.store().getAll(latest.keySet());
    orphans =
        launched.keySet().stream()
            .filter(a -> !stored.containsKey(a.taskId()))
            .sorted(
                java.util.Comparator.comparing(AttemptId::taskId)
                    .thenComparingInt(AttemptId::attempt))
            .toList();
    int adopted = 0;
    for (StoredTask t : stored.values()) {
      var known = latest.get(t.id());
      AttemptId attempt = known.getKey();
      if (t.state() != TaskState.QUEUED || t.attempt() != attempt.attempt() - 1) {
        continue;
      }
      if (parts.store().assign(t.id(), known.getValue(), now) != attempt.attempt()) {
        continue;
      }
      LOG.info(
          "attempt {} of {} was launched before the service stopped, its placement not recorded:"
              + " adopted",
          attempt.attempt(),
          t.id());
      reconcileAttempt(parts.store().get(t.id()).orElseThrow(), attempt, now);
      adopted++;
    }
    return adopted;
  }

  /** Brings one task placed but not finished in line with what the backend knows of its attempt. */
  private void reconcileAttempt(StoredTask t, AttemptId attempt, Instant now) {
    TaskEvent status = parts.backend().status(attempt);
    TaskState state = t.state();
    switch (status.kind()) {
      case NOT_LAUNCHED -> {
        if (state == TaskState.ASSIGNED || state == TaskState.STAGING) {
          handOff.discardPartial(attempt);
          parts.store().unassign(t.id(), state, now);
        } else {
          parts
              .ends()
              .failed(
                  attempt,
                  state,
                  now,
                  CycleMetrics.Failure.LOST,
                  "lost: the store had it " + state.label() + ", the backend never started it");
        }
      }
      case STARTED -> {
        state = launched(t.id(), state, now);
        if (state == TaskState.LAUNCHED) {
          parts.store().transition(t.id(), TaskState.LAUNCHED, TaskState.RUNNING, now);
        }
      }
      case EXITED -> {
        state = launched(t.id(), state, now);
        if (status.exitCode() == 0
            && !t.spec().outputs().isEmpty()
            && !parts.backend().stagesOnNode()) {
          // Its outputs may not all be out: copy them (again; what is there is skipped).
          handOff.collectOutputs(parts.store().get(t.id()).orElse(t), attempt, now);
        } else if (status.exitCode() == 0) {
          if (parts.store().transition(t.id(), state, TaskState.SUCCEEDED, now)) {
            parts.metrics().attemptSucceeded();
          }
        } else {
          parts
              .ends()
              .failed(
                  attempt,
                  state,
                  now,
                  CycleMetrics.Failure.EXIT,
                  "exited with code " + status.exitCode() + " while Stowage was down",
                  status.exitCode());
        }
      }
      case KILLED -> {
        // Cancelled, and stopped, while the record of it was not yet durable.
        state = launched(t.id(), state, now);
        parts.store().transition(t.id(), state, TaskState.CANCELLED, now);
      }
      default ->
          parts
              .ends()
              .failed(
                  attempt,
                  state,
                  now,
                  AttemptEnds.cause(status),
                  AttemptEnds.failure(status),
                  status.exitCode());
    }
  }

  /** Moves a task that the backend did start past the states before launch; returns its state. */
  private TaskState launched(String id, TaskState state, Instant now) {
    if (state == TaskState.ASSIGNED || state == TaskState.STAGING) {
      parts.store().transition(id, state, TaskState.LAUNCHED, now);
      return TaskState.LAUNCHED;
    }
    return state;
  }
}
