package dev.stowage.scheduler;

import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The cycle's first stage: what the cluster reported since the last cycle, applied to the
 * parts.store(). Node changes first (a node that left loses its attempts), then staging results,
 * then the attempts' own events in the order they happened.
 */
final class ApplyEvents {
  private final CycleParts parts;
  private final ClusterNodes nodes;
  private final StagingHandOff handOff;

  ApplyEvents(CycleParts parts, ClusterNodes nodes, StagingHandOff handOff) {
    this.parts = parts;
    this.nodes = nodes;
    this.handOff = handOff;
  }

  /** Applies everything waiting; returns how many events changed something. */
  int apply() {
    Instant now = parts.clock().instant();
    return applyNodeEvents(now) + handOff.applyResults(now) + applyAttemptEvents(now);
  }

  /** Node changes only: what reconcile needs before it can tell which attempts were lost. */
  int applyNodeEvents(Instant now) {
    List<NodeEvent> changes = parts.backend().drainNodeEvents();
    if (changes.isEmpty()) {
      return 0;
    }
    int applied = nodes.apply(changes);
    var removed = new HashMap<String, String>();
    for (NodeEvent e : changes) {
      if (e instanceof NodeEvent.Removed r) {
        removed.put(r.node(), r.why());
      } else {
        removed.remove(e.node()); // back before this cycle: its attempts are the backend's news
      }
    }
    if (!removed.isEmpty()) {
      for (StoredTask t : parts.store().inFlight()) {
        String why = t.offer() == null ? null : removed.get(t.offer());
        if (why != null) {
          var attempt = new AttemptId(t.id(), t.attempt());
          // Whatever the backend still holds of it (a pod object on a deleted node) goes too.
          parts.backend().kill(attempt);
          parts
              .ends()
              .failed(
                  attempt,
                  t.state(),
                  now,
                  CycleMetrics.Failure.LOST,
                  "lost: its node " + t.offer() + " left the cluster (" + why + ")");
        }
      }
    }
    return applied;
  }

  private int applyAttemptEvents(Instant now) {
    List<TaskEvent> events = parts.backend().drainEvents();
    if (events.isEmpty()) {
      return 0;
    }
    // The bulk of a busy cycle's news, attempts that started, is one write and needs no read:
    // the store moves only attempts still current and still launched.
    var started = new ArrayList<AttemptId>();
    var others = new LinkedHashSet<String>();
    for (TaskEvent e : events) {
      if (e.kind() == TaskEvent.Kind.STARTED) {
        started.add(e.attempt());
      } else {
        others.add(e.attempt().taskId());
      }
    }
    var running = parts.store().transitionAll(started, TaskState.LAUNCHED, TaskState.RUNNING, now);
    for (AttemptId a : started) {
      if (running.contains(a.taskId())) {
        parts.spans().step(a, "started");
      }
    }
    int applied = running.size();
    if (others.isEmpty()) {
      return applied;
    }
    parts.crashPoints().reach(CrashPoints.Point.DURING_EVENTS);
    // The rest, read once. Successes, the bulk of a busy cycle's other news, are one write per
    // state they succeed from (20,000 one at a time took 12 s); the rest are applied in order,
    // one task at a time, as they may doom others.
    Map<String, StoredTask> tasks = new HashMap<>(parts.store().getAll(others));
    applied += applySuccesses(events, tasks, now);
    for (TaskEvent e : events) {
      StoredTask t = tasks.get(e.attempt().taskId());
      if (e.kind() == TaskEvent.Kind.STARTED
          || t == null
          || t.attempt() != e.attempt().attempt()
          || !placed(t)) {
        continue; // started: done above; or news of an attempt that has already ended
      }
      if (applyOne(e, t, now)) {
        applied++;
        // The attempt has ended (or gone back to the queue under a new number): any later event
        // for it in this batch is stale, as it would be against the parts.store().
        tasks.remove(t.id());
      }
    }
    return applied;
  }

  /** One event of an attempt still current and placed; returns whether it changed its task. */
  private boolean applyOne(TaskEvent e, StoredTask t, Instant now) {
    return switch (e.kind()) {
      case EXITED -> {
        if (e.exitCode() != 0) {
          yield parts
              .ends()
              .failed(
                  e.attempt(),
                  t.state(),
                  now,
                  CycleMetrics.Failure.EXIT,
                  "exited with code " + e.exitCode(),
                  e.exitCode());
        }
        if (!active(t)) {
          yield false;
        }
        if (collectsOutputs(t)) {
          yield handOff.collectOutputs(t, e.attempt(), now);
        }
        if (parts.store().transition(t.id(), t.state(), TaskState.SUCCEEDED, now)) {
          parts.ends().succeeded(e.attempt());
          yield true;
        }
        yield false;
      }
      case TIMED_OUT, OUT_OF_MEMORY, LOST, LAUNCH_FAILED, EVICTED, STAGING_FAILED ->
          parts
              .ends()
              .failed(
                  e.attempt(),
                  t.state(),
                  now,
                  AttemptEnds.cause(e),
                  AttemptEnds.failure(e),
                  e.exitCode());
      case KILLED -> {
        if (active(t) && parts.store().transition(t.id(), t.state(), TaskState.CANCELLED, now)) {
          parts.ends().cancelled(e.attempt());
          yield true;
        }
        yield false;
      }
      case STARTED, NOT_LAUNCHED -> false; // started: applied in bulk; the other only from status
    };
  }

  /**
   * Records every success among {@code events} whose attempt is still current and launched or
   * running, and removes those tasks from {@code tasks}; returns how many succeeded.
   */
  private int applySuccesses(List<TaskEvent> events, Map<String, StoredTask> tasks, Instant now) {
    var byState = new EnumMap<TaskState, List<AttemptId>>(TaskState.class);
    int applied = 0;
    var earlierNews = new HashSet<String>();
    for (TaskEvent e : events) {
      if (e.kind() == TaskEvent.Kind.STARTED) {
        continue;
      }
      StoredTask t = tasks.get(e.attempt().taskId());
      // Only a success that is its task's first news here: one after a kill, say, keeps its place
      // in the order below.
      if (earlierNews.add(e.attempt().taskId())
          && e.kind() == TaskEvent.Kind.EXITED
          && e.exitCode() == 0
          && t != null
          && t.attempt() == e.attempt().attempt()
          && active(t)) {
        if (!collectsOutputs(t)) {
          byState.computeIfAbsent(t.state(), s -> new ArrayList<>()).add(e.attempt());
        } else {
          if (handOff.collectOutputs(t, e.attempt(), now)) {
            applied++;
          }
          tasks.remove(t.id()); // applied: its later news in this batch is stale
        }
      }
    }
    for (var entry : byState.entrySet()) {
      var succeeded = parts.store().succeedAll(entry.getValue(), entry.getKey(), now);
      for (AttemptId a : entry.getValue()) {
        if (succeeded.contains(a.taskId())) {
          parts.ends().succeeded(a);
          tasks.remove(a.taskId()); // its attempt has ended: later news of it is stale
          applied++;
        }
      }
    }
    return applied;
  }

  /** Whether a 0 exit still leaves outputs for the scheduler's stager to copy out. */
  private boolean collectsOutputs(StoredTask t) {
    return !t.spec().outputs().isEmpty() && !parts.backend().stagesOnNode();
  }

  static boolean active(StoredTask t) {
    return t.state() == TaskState.LAUNCHED || t.state() == TaskState.RUNNING;
  }

  /** Placed on a node and not ended: the only states an attempt's news can change. */
  private static boolean placed(StoredTask t) {
    return switch (t.state()) {
      case ASSIGNED, STAGING, LAUNCHED, RUNNING -> true;
      default -> false;
    };
  }
}
