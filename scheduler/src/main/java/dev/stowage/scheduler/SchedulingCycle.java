package dev.stowage.scheduler;

import dev.stowage.engine.Assignment;
import dev.stowage.engine.Explanation;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Task;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * One scheduling cycle, in five traced phases as the talk named them, after applying what the
 * cluster reported since the last cycle:
 *
 * <ol>
 *   <li>{@code get_resource_offers_from_cluster}: what each node can take now;
 *   <li>{@code get_processable_tasks}: queued tasks by priority (an indexed query);
 *   <li>{@code match_tasks_to_offers}: the engine's exact greedy best fit;
 *   <li>{@code prepare_payloads}: each placed task assigned in the store (its attempt counted) and
 *       its launch built, with the task's trace context as TRACEPARENT;
 *   <li>{@code launch}: handed to the backend and marked launched.
 * </ol>
 *
 * A task's own failure never fails the cycle: it becomes that task's retry or failure.
 */
public final class SchedulingCycle {
  static final AttributeKey<Long> OFFERS = AttributeKey.longKey("stowage.offers");
  static final AttributeKey<Long> TASKS = AttributeKey.longKey("stowage.tasks.considered");
  static final AttributeKey<Long> MATCHED = AttributeKey.longKey("stowage.tasks.matched");
  static final AttributeKey<Long> UNMATCHED = AttributeKey.longKey("stowage.tasks.unmatched");
  static final AttributeKey<Long> LAUNCHED = AttributeKey.longKey("stowage.tasks.launched");
  static final AttributeKey<Long> EVENTS = AttributeKey.longKey("stowage.events");
  static final AttributeKey<String> MODE = AttributeKey.stringKey("stowage.match.mode");
  static final AttributeKey<String> SCORER = AttributeKey.stringKey("stowage.match.scorer");

  /** The last cycle's match, kept so that {@code why} can read its counts without redoing it. */
  private record LastMatch(Map<String, Integer> unassigned, MatchResult result, Instant at) {}

  private volatile LastMatch lastMatch;

  /** What one cycle did, with the time each phase took. */
  public record Report(
      int eventsApplied,
      int offers,
      int considered,
      int matched,
      int launched,
      Map<String, Duration> phases) {}

  private final TaskStore store;
  private List<Offer> checkedCapacities; // the node list flagged tasks were last checked against
  private final ClusterBackend backend;
  private final Matcher matcher;
  private final MatchMode mode;
  private final int maxTasksPerCycle;
  private final Clock clock;
  private final Tracer tracer;

  public SchedulingCycle(
      TaskStore store,
      ClusterBackend backend,
      Matcher matcher,
      MatchMode mode,
      int maxTasksPerCycle,
      Clock clock,
      Tracer tracer) {
    this.store = store;
    this.backend = backend;
    this.matcher = matcher;
    this.mode = mode;
    this.maxTasksPerCycle = maxTasksPerCycle;
    this.clock = clock;
    this.tracer = tracer;
  }

  /** Runs one cycle. Never two at once: callers from several threads queue up here. */
  public synchronized Report runOnce() {
    var phases = new LinkedHashMap<String, Duration>();
    Span cycle = tracer.spanBuilder("scheduling_cycle").startSpan();
    try (Scope ignored = cycle.makeCurrent()) {
      int events = phase(phases, "apply_cluster_events", this::applyEvents, n -> (long) n, EVENTS);
      List<Offer> offers =
          phase(
              phases,
              "get_resource_offers_from_cluster",
              () -> {
                recheckNeverSchedulable();
                return backend.offers();
              },
              o -> (long) o.size(),
              OFFERS);
      List<StoredTask> tasks =
          phase(
              phases,
              "get_processable_tasks",
              () -> store.processable(maxTasksPerCycle, clock.instant()),
              t -> (long) t.size(),
              TASKS);
      MatchResult result =
          phase(
              phases,
              "match_tasks_to_offers",
              () -> {
                Span.current().setAttribute(MODE, mode.label());
                Span.current().setAttribute(SCORER, matcher.scorer().label());
                var match = matcher.match(engineTasks(tasks), offers, mode);
                Span.current()
                    .setAttribute(UNMATCHED, (long) (match.taskCount() - match.matchedCount()));
                return match;
              },
              m -> (long) m.matchedCount(),
              MATCHED);
      remember(tasks, result);
      List<Launch> launches =
          phase(
              phases,
              "prepare_payloads",
              () -> prepare(tasks, result.assignments()),
              l -> (long) l.size(),
              LAUNCHED);
      int launched = phase(phases, "launch", () -> launch(launches), n -> (long) n, LAUNCHED);
      cycle.setAttribute(OFFERS, (long) offers.size());
      cycle.setAttribute(TASKS, (long) tasks.size());
      cycle.setAttribute(MATCHED, (long) result.matchedCount());
      cycle.setAttribute(LAUNCHED, (long) launched);
      return new Report(
          events, offers.size(), tasks.size(), result.matchedCount(), launched, phases);
    } catch (RuntimeException e) {
      cycle.recordException(e);
      cycle.setStatus(StatusCode.ERROR);
      throw e;
    } finally {
      cycle.end();
    }
  }

  private <T> T phase(
      Map<String, Duration> phases,
      String name,
      Supplier<T> work,
      java.util.function.Function<T, Long> count,
      AttributeKey<Long> countKey) {
    Span span = tracer.spanBuilder(name).startSpan();
    long start = System.nanoTime();
    try (Scope ignored = span.makeCurrent()) {
      T result = work.get();
      span.setAttribute(countKey, count.apply(result));
      return result;
    } catch (RuntimeException e) {
      span.recordException(e);
      span.setStatus(StatusCode.ERROR);
      throw e;
    } finally {
      phases.put(name, Duration.ofNanos(System.nanoTime() - start));
      span.end();
    }
  }

  private static List<Task> engineTasks(List<StoredTask> tasks) {
    var out = new ArrayList<Task>(tasks.size());
    for (StoredTask t : tasks) {
      out.add(new Task(t.id(), t.spec().resources(), t.spec().constraints()));
    }
    return out;
  }

  private List<Launch> prepare(List<StoredTask> tasks, List<Assignment> assignments) {
    var byId = new HashMap<String, StoredTask>();
    for (StoredTask t : tasks) {
      byId.put(t.id(), t);
    }
    var offerByTask = new LinkedHashMap<String, String>();
    for (Assignment a : assignments) {
      offerByTask.put(a.task(), a.offer());
    }
    // One write for the whole cycle; tasks cancelled since they were read are left out.
    Map<String, Integer> attempts = store.assignAll(offerByTask, clock.instant());
    var out = new ArrayList<Launch>(attempts.size());
    for (Assignment a : assignments) {
      Integer attempt = attempts.get(a.task());
      if (attempt == null) {
        continue;
      }
      StoredTask t = byId.get(a.task());
      var env = new HashMap<>(t.spec().env());
      if (t.spec().traceParent() != null) {
        env.put("TRACEPARENT", t.spec().traceParent());
      }
      out.add(
          new Launch(
              new AttemptId(t.id(), attempt),
              a.offer(),
              t.spec().command(),
              env,
              t.spec().resources(),
              t.spec().timeout()));
    }
    return out;
  }

  private int launch(List<Launch> launches) {
    Instant now = clock.instant();
    var started = new ArrayList<Launch>(launches.size());
    for (Launch l : launches) {
      try {
        backend.launch(l);
        started.add(l);
      } catch (RuntimeException e) {
        // A backend that throws instead of reporting: that attempt failed, the cycle goes on.
        failAttempt(l.attempt(), TaskState.ASSIGNED, now);
      }
    }
    var attempts = started.stream().map(Launch::attempt).toList();
    var moved = store.transitionAll(attempts, TaskState.ASSIGNED, TaskState.LAUNCHED, now);
    for (Launch l : started) {
      if (!moved.contains(l.attempt().taskId())) {
        backend.kill(l.attempt()); // cancelled while it was being launched
      }
    }
    return moved.size();
  }

  private void remember(List<StoredTask> tasks, MatchResult result) {
    var unassigned = new HashMap<String, Integer>();
    for (int i : result.unassignedTasks()) {
      unassigned.put(tasks.get(i).id(), i);
    }
    lastMatch = new LastMatch(unassigned, result, clock.instant());
  }

  /**
   * Why this queued task is not placed, as the last cycle saw the cluster, and when that cycle ran:
   * the engine's counts from that cycle if it considered the task (after the tasks ahead of it took
   * their offers), else the task checked against the capacity that cycle left. Empty before the
   * first cycle. Safe from any thread: one pass over that cycle's offers, nothing copied.
   */
  public java.util.Optional<Map.Entry<Instant, Explanation>> lastExplanation(StoredTask task) {
    LastMatch last = lastMatch;
    if (last == null) {
      return java.util.Optional.empty();
    }
    Integer index = last.unassigned().get(task.id());
    Explanation e =
        index != null
            ? last.result().explain(index)
            : last.result()
                .explain(new Task(task.id(), task.spec().resources(), task.spec().constraints()));
    return java.util.Optional.of(Map.entry(last.at(), e));
  }

  /**
   * When the cluster's nodes change (and on the first cycle), tasks flagged never schedulable are
   * checked against the new nodes; those that now fit one rejoin the queue.
   */
  private void recheckNeverSchedulable() {
    List<Offer> capacities = backend.capacities();
    if (capacities == checkedCapacities || capacities.isEmpty()) {
      return;
    }
    List<StoredTask> flagged = store.neverSchedulable();
    if (!flagged.isEmpty()) {
      var still =
          Feasibility.neverSchedulable(flagged.stream().map(StoredTask::spec).toList(), capacities);
      var fitNow =
          flagged.stream().map(StoredTask::id).filter(id -> !still.containsKey(id)).toList();
      store.clearNeverSchedulable(fitNow);
    }
    checkedCapacities = capacities;
  }

  /**
   * Only applies what the cluster reported since the last cycle, placing nothing: what a paused
   * scheduler still does, so that running tasks finish and release their dependants.
   */
  public synchronized int applyClusterEvents() {
    return applyEvents();
  }

  /** Applies the backend's events to the store; returns how many it applied. */
  private int applyEvents() {
    List<TaskEvent> events = backend.drainEvents();
    if (events.isEmpty()) {
      return 0;
    }
    Instant now = clock.instant();
    // The bulk of a busy cycle's news, attempts that started, is one write and needs no read:
    // the store moves only attempts still current and still launched.
    var started = new ArrayList<AttemptId>();
    var others = new java.util.LinkedHashSet<String>();
    for (TaskEvent e : events) {
      if (e.kind() == TaskEvent.Kind.STARTED) {
        started.add(e.attempt());
      } else {
        others.add(e.attempt().taskId());
      }
    }
    int applied = store.transitionAll(started, TaskState.LAUNCHED, TaskState.RUNNING, now).size();
    if (others.isEmpty()) {
      return applied;
    }
    // The rest, read once, then applied in order one task at a time: they release or doom others.
    Map<String, StoredTask> tasks = new HashMap<>(store.getAll(others));
    for (TaskEvent e : events) {
      StoredTask t = tasks.get(e.attempt().taskId());
      if (e.kind() == TaskEvent.Kind.STARTED || t == null || t.attempt() != e.attempt().attempt()) {
        continue; // started: done above; or an older attempt's news
      }
      TaskState next =
          switch (e.kind()) {
            case EXITED ->
                e.exitCode() == 0
                    ? (active(t) && store.transition(t.id(), t.state(), TaskState.SUCCEEDED, now)
                        ? TaskState.SUCCEEDED
                        : null)
                    : failAttempt(e.attempt(), t.state(), now) ? TaskState.QUEUED : null;
            case TIMED_OUT, LOST, LAUNCH_FAILED ->
                failAttempt(e.attempt(), t.state(), now) ? TaskState.QUEUED : null;
            case KILLED ->
                active(t) && store.transition(t.id(), t.state(), TaskState.CANCELLED, now)
                    ? TaskState.CANCELLED
                    : null;
            default -> null; // NOT_LAUNCHED comes only from status()
          };
      if (next != null) {
        applied++;
        // The attempt has ended (or gone back to the queue under a new number): any later event
        // for it in this batch is stale, as it would be against the store.
        tasks.remove(t.id());
      }
    }
    return applied;
  }

  /**
   * After a restart, before the first cycle: brings every task the store holds as placed but not
   * finished in line with what the backend knows of its attempt. Running attempts are watched again
   * (their end arrives as an event); finished ones are recorded; one the backend never launched is
   * queued again without counting as a failure; one it lost is a failed attempt, retried per its
   * policy. Nothing already launched is launched again. Returns how many tasks it checked.
   */
  public synchronized int reconcile() {
    Instant now = clock.instant();
    List<StoredTask> inFlight = store.inFlight();
    for (StoredTask t : inFlight) {
      var attempt = new AttemptId(t.id(), Math.max(1, t.attempt()));
      TaskEvent status = backend.status(attempt);
      TaskState state = t.state();
      switch (status.kind()) {
        case NOT_LAUNCHED -> {
          if (state == TaskState.ASSIGNED || state == TaskState.STAGING) {
            store.requeue(t.id(), state, now, now);
          } else {
            failAttempt(attempt, state, now);
          }
        }
        case STARTED -> {
          state = launched(t.id(), state, now);
          if (state == TaskState.LAUNCHED) {
            store.transition(t.id(), TaskState.LAUNCHED, TaskState.RUNNING, now);
          }
        }
        case EXITED -> {
          state = launched(t.id(), state, now);
          if (status.exitCode() == 0) {
            store.transition(t.id(), state, TaskState.SUCCEEDED, now);
          } else {
            failAttempt(attempt, state, now);
          }
        }
        default -> failAttempt(attempt, state, now);
      }
    }
    return inFlight.size();
  }

  /** Moves a task that the backend did start past the states before launch; returns its state. */
  private TaskState launched(String id, TaskState state, Instant now) {
    if (state == TaskState.ASSIGNED || state == TaskState.STAGING) {
      store.transition(id, state, TaskState.LAUNCHED, now);
      return TaskState.LAUNCHED;
    }
    return state;
  }

  private static boolean active(StoredTask t) {
    return t.state() == TaskState.LAUNCHED || t.state() == TaskState.RUNNING;
  }

  /** Retry per the task's policy, or fail it for good. */
  private boolean failAttempt(AttemptId attempt, TaskState from, Instant now) {
    StoredTask t = store.get(attempt.taskId()).orElse(null);
    if (t == null || t.state().isTerminal()) {
      return false;
    }
    RetryPolicy retry = t.spec().retry();
    if (attempt.attempt() < retry.maxAttempts()) {
      return store.requeue(t.id(), from, now.plus(retry.delayBefore(attempt.attempt() + 1)), now);
    }
    return store.transition(t.id(), from, TaskState.FAILED, now);
  }
}
