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
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
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
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(SchedulingCycle.class);
  static final AttributeKey<Long> OFFERS = AttributeKey.longKey("stowage.offers");
  static final AttributeKey<Long> TASKS = AttributeKey.longKey("stowage.tasks.considered");
  static final AttributeKey<Long> MATCHED = AttributeKey.longKey("stowage.tasks.matched");
  static final AttributeKey<Long> UNMATCHED = AttributeKey.longKey("stowage.tasks.unmatched");
  static final AttributeKey<Long> LAUNCHED = AttributeKey.longKey("stowage.tasks.launched");
  static final AttributeKey<Long> EVENTS = AttributeKey.longKey("stowage.events");
  static final AttributeKey<String> MODE = AttributeKey.stringKey("stowage.match.mode");

  /** On a cycle's root span: true when it applied no event and placed or launched nothing. */
  public static final AttributeKey<Boolean> IDLE = AttributeKey.booleanKey("stowage.idle");

  static final AttributeKey<String> SCORER = AttributeKey.stringKey("stowage.match.scorer");

  /** The last cycle's match, kept so that {@code why} can read its counts without redoing it. */
  private record LastMatch(Map<String, Integer> unassigned, MatchResult result, Instant at) {}

  private volatile LastMatch lastMatch;

  /**
   * What one cycle did, with the time each phase took.
   *
   * @param traceId the cycle's trace (kept only when it changed something), or null untraced
   * @param took the whole cycle
   */
  public record Report(
      int eventsApplied,
      int offers,
      int considered,
      int matched,
      int launched,
      Map<String, Duration> phases,
      String traceId,
      Duration took) {}

  private final TaskStore store;
  private List<Offer> checkedCapacities; // the node list flagged tasks were last checked against
  private final ClusterBackend backend;
  private final Matcher matcher;
  private final MatchMode mode;
  private final int maxTasksPerCycle;
  private final Clock clock;
  private final Tracer tracer;
  private final CycleMetrics metrics;
  private final Stager stager; // null: tasks with inputs fail their attempt
  // Attempts being staged, with the launch each gets once its inputs are in place. In memory
  // only: after a restart (or a failed cycle) reconcile sends staging tasks back to the queue.
  private final Map<AttemptId, Launch> staging = new HashMap<>();
  private final List<Launch> staged = new ArrayList<>(); // staged, not launched yet
  // Attempts whose process exited with 0 and whose outputs are being copied out; their tasks stay
  // running until that ends. In memory: after a restart, reconcile collects them again.
  private final java.util.Set<AttemptId> collecting = new java.util.HashSet<>();
  private final AttemptSpans attemptSpans;
  private final CrashPoints crashPoints;
  private long reconciledGeneration; // the store's generation the backend was last checked against

  /** A cycle without a stager: a task that declares inputs fails its attempt, saying so. */
  public SchedulingCycle(
      TaskStore store,
      ClusterBackend backend,
      Matcher matcher,
      MatchMode mode,
      int maxTasksPerCycle,
      Clock clock,
      Tracer tracer) {
    this(store, backend, null, matcher, mode, maxTasksPerCycle, clock, tracer);
  }

  public SchedulingCycle(
      TaskStore store,
      ClusterBackend backend,
      Stager stager,
      Matcher matcher,
      MatchMode mode,
      int maxTasksPerCycle,
      Clock clock,
      Tracer tracer) {
    this(
        store,
        backend,
        stager,
        matcher,
        mode,
        maxTasksPerCycle,
        clock,
        tracer,
        io.opentelemetry.api.OpenTelemetry.noop().getMeter("dev.stowage.scheduler"),
        CrashPoints.NONE);
  }

  /**
   * With metrics recorded through {@code meter} (see {@link CycleMetrics}) and the crash tests'
   * {@code crashPoints} armed ({@link CrashPoints#NONE} but in those tests).
   */
  public SchedulingCycle(
      TaskStore store,
      ClusterBackend backend,
      Stager stager,
      Matcher matcher,
      MatchMode mode,
      int maxTasksPerCycle,
      Clock clock,
      Tracer tracer,
      io.opentelemetry.api.metrics.Meter meter,
      CrashPoints crashPoints) {
    this.crashPoints = crashPoints;
    this.metrics = new CycleMetrics(meter);
    this.stager = stager;
    this.store = store;
    this.backend = backend;
    this.matcher = matcher;
    this.mode = mode;
    this.maxTasksPerCycle = maxTasksPerCycle;
    this.clock = clock;
    this.tracer = tracer;
    this.attemptSpans = new AttemptSpans(tracer);
    this.reconciledGeneration = store.generation();
  }

  /** Runs one cycle. Never two at once: callers from several threads queue up here. */
  public synchronized Report runOnce() {
    if (store.generation() != reconciledGeneration) {
      // The store lost writes this cycle made: check the backend first, as after a restart.
      LOG.warn("the task store was loaded again: reconciling with the backend before this cycle");
      reconcile();
    }
    long started = System.nanoTime();
    var phases = new LinkedHashMap<String, Duration>();
    Span cycle = tracer.spanBuilder("scheduling_cycle").startSpan();
    boolean idle = false;
    Duration took = null;
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
              () -> prepare(tasks, result.assignments(), cycle.getSpanContext()),
              l -> (long) l.size(),
              LAUNCHED);
      int launched =
          phase(
              phases,
              "launch",
              () -> launch(launches, TaskState.ASSIGNED) + launchStaged(),
              n -> (long) n,
              LAUNCHED);
      cycle.setAttribute(OFFERS, (long) offers.size());
      cycle.setAttribute(TASKS, (long) tasks.size());
      cycle.setAttribute(MATCHED, (long) result.matchedCount());
      cycle.setAttribute(LAUNCHED, (long) launched);
      // A cycle that changed nothing (no news applied, nothing placed or launched), however many
      // blocked tasks it looked at: telemetry may leave it out of its traces.
      idle = events == 0 && result.matchedCount() == 0 && launched == 0;
      cycle.setAttribute(IDLE, idle);
      metrics.matchResult(result, tasks);
      took = Duration.ofNanos(System.nanoTime() - started);
      if (!idle) {
        // Inside the cycle's span: the record carries its trace_id.
        LOG.info(
            "cycle: {} offers, {} tasks considered, {} matched, {} launched, {} events applied",
            offers.size(),
            tasks.size(),
            result.matchedCount(),
            launched,
            events);
      }
      String traceId =
          cycle.getSpanContext().isValid() ? cycle.getSpanContext().getTraceId() : null;
      return new Report(
          events,
          offers.size(),
          tasks.size(),
          result.matchedCount(),
          launched,
          phases,
          traceId,
          took);
    } catch (RuntimeException e) {
      cycle.recordException(e);
      cycle.setStatus(StatusCode.ERROR);
      throw e;
    } finally {
      // The same duration as the report's; a failed cycle's, measured here. A failed cycle's
      // trace is kept, so its durations carry it as their exemplar.
      metrics.cycle(
          took != null ? took : Duration.ofNanos(System.nanoTime() - started),
          phases,
          idle ? Context.root() : Context.root().with(cycle));
      attemptSpans.endOfCycle();
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

  private List<Launch> prepare(
      List<StoredTask> tasks, List<Assignment> assignments, SpanContext cycle) {
    var byId = HashMap.<String, StoredTask>newHashMap(tasks.size());
    for (StoredTask t : tasks) {
      byId.put(t.id(), t);
    }
    var offerByTask = LinkedHashMap.<String, String>newLinkedHashMap(assignments.size());
    for (Assignment a : assignments) {
      offerByTask.put(a.task(), a.offer());
    }
    // One write for the whole cycle; tasks cancelled since they were read are left out.
    Instant now = clock.instant();
    crashPoints.reach(CrashPoints.Point.BEFORE_PLACEMENT);
    Map<String, Integer> attempts = store.assignAll(offerByTask, now);
    crashPoints.reach(CrashPoints.Point.AFTER_PLACEMENT);
    var out = new ArrayList<Launch>(attempts.size());
    for (Assignment a : assignments) {
      Integer attempt = attempts.get(a.task());
      if (attempt == null) {
        continue;
      }
      StoredTask t = byId.get(a.task());
      var id = new AttemptId(t.id(), attempt);
      Duration waited = Duration.between(t.queuedSince(), now);
      if (waited.isNegative()) {
        waited = Duration.ZERO;
      }
      TraceContext trace = attemptSpans.start(t, id, a.offer(), cycle, waited);
      metrics.queued(waited, attemptSpans.context(id));
      out.add(
          new Launch(
              id,
              a.offer(),
              t.spec().command(),
              withTrace(t.spec().env(), trace),
              t.spec().resources(),
              t.spec().timeout()));
    }
    return startStaging(out, byId);
  }

  /**
   * The task's environment with the OpenTelemetry environment-variable carrier, so that the
   * process's spans join the attempt: built once, as the immutable map the launch keeps.
   */
  private static Map<String, String> withTrace(Map<String, String> env, TraceContext trace) {
    if (trace == null) {
      return env;
    }
    boolean state = trace.tracestate() != null;
    var entries = new ArrayList<Map.Entry<String, String>>(env.size() + 2);
    for (var e : env.entrySet()) {
      if (!e.getKey().equals("TRACEPARENT") && !(state && e.getKey().equals("TRACESTATE"))) {
        entries.add(e);
      }
    }
    entries.add(Map.entry("TRACEPARENT", trace.traceparent()));
    if (state) {
      entries.add(Map.entry("TRACESTATE", trace.tracestate()));
    }
    @SuppressWarnings("unchecked")
    Map.Entry<String, String>[] array = entries.toArray(Map.Entry[]::new);
    return Map.ofEntries(array);
  }

  /**
   * The staging hook: hands each launch whose task declares inputs to the stager (its task moves to
   * staging) and returns the launches that can go now.
   */
  private List<Launch> startStaging(List<Launch> launches, Map<String, StoredTask> byId) {
    var direct = new ArrayList<Launch>(launches.size());
    var toStage = new ArrayList<Launch>();
    for (Launch l : launches) {
      (byId.get(l.attempt().taskId()).spec().inputs().isEmpty() ? direct : toStage).add(l);
    }
    if (toStage.isEmpty()) {
      return direct;
    }
    Instant now = clock.instant();
    var dirs = new HashMap<AttemptId, java.nio.file.Path>();
    var ready = new ArrayList<AttemptId>();
    for (Launch l : toStage) {
      var dir = backend.workDirectory(l.attempt());
      if (stager == null || dir.isEmpty()) {
        failAttempt(
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
    var moved = store.transitionAll(ready, TaskState.ASSIGNED, TaskState.STAGING, now);
    for (Launch l : toStage) {
      if (moved.contains(l.attempt().taskId()) && dirs.containsKey(l.attempt())) {
        staging.put(l.attempt(), l);
        // The stager's span nests under the attempt's.
        try (Scope ignored = attemptSpans.context(l.attempt()).makeCurrent()) {
          stager.stage(
              l.attempt(), byId.get(l.attempt().taskId()).spec().inputs(), dirs.get(l.attempt()));
        }
      }
    }
    return direct;
  }

  /** Launches the attempts whose staging succeeded, if their tasks are still staging them. */
  private int launchStaged() {
    if (staged.isEmpty()) {
      return 0;
    }
    var ids = staged.stream().map(l -> l.attempt().taskId()).toList();
    Map<String, StoredTask> now = store.getAll(ids);
    var stillStaging = new ArrayList<Launch>();
    for (Launch l : staged) {
      StoredTask t = now.get(l.attempt().taskId());
      // Cancelled (or sent back) while its inputs were copied: not started.
      if (t != null && t.state() == TaskState.STAGING && t.attempt() == l.attempt().attempt()) {
        stillStaging.add(l);
      } else {
        attemptSpans.cancelled(l.attempt(), "cancelled while its inputs were staged");
      }
    }
    staged.clear();
    return launch(stillStaging, TaskState.STAGING);
  }

  private int launch(List<Launch> launches, TaskState from) {
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
        failAttempt(
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
        attemptSpans.step(l.attempt(), "launched");
      } else {
        backend.kill(l.attempt()); // cancelled while it was being launched
        attemptSpans.cancelled(l.attempt(), "cancelled while it was launched");
      }
    }
    metrics.attemptsStarted(moved.size());
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
    return applyStagingResults() + applyBackendEvents();
  }

  /**
   * Staging that ended since the last cycle: a success waits for this cycle's launch phase, a
   * failure fails its attempt (retried per the task's policy) with the reason recorded.
   */
  private int applyStagingResults() {
    if (stager == null) {
      return 0;
    }
    int applied = 0;
    Instant now = clock.instant();
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
        attemptSpans.step(r.attempt(), "staged");
        staged.add(launch);
      } else {
        failAttempt(
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
      if (!store.succeedAll(List.of(r.attempt()), TaskState.RUNNING, now).isEmpty()) {
        succeededAttempt(r.attempt());
      }
    } else {
      failAttempt(
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
  private boolean collectOutputs(StoredTask t, AttemptId attempt, Instant now) {
    var dir = backend.workDirectory(attempt);
    if (stager == null || dir.isEmpty()) {
      failAttempt(
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
        && !store.transition(t.id(), TaskState.LAUNCHED, TaskState.RUNNING, now)) {
      return false;
    }
    collecting.add(attempt);
    attemptSpans.step(attempt, "exited");
    // The collector's span nests under the attempt's.
    try (Scope ignored = attemptSpans.context(attempt).makeCurrent()) {
      stager.collect(attempt, t.spec().outputs(), dir.get());
    }
    return true;
  }

  private int applyBackendEvents() {
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
    var running = store.transitionAll(started, TaskState.LAUNCHED, TaskState.RUNNING, now);
    for (AttemptId a : started) {
      if (running.contains(a.taskId())) {
        attemptSpans.step(a, "started");
      }
    }
    int applied = running.size();
    if (others.isEmpty()) {
      return applied;
    }
    crashPoints.reach(CrashPoints.Point.DURING_EVENTS);
    // The rest, read once. Successes, the bulk of a busy cycle's other news, are one write per
    // state they succeed from (20,000 one at a time took 12 s); the rest are applied in order,
    // one task at a time, as they may doom others.
    Map<String, StoredTask> tasks = new HashMap<>(store.getAll(others));
    applied += applySuccesses(events, tasks, now);
    for (TaskEvent e : events) {
      StoredTask t = tasks.get(e.attempt().taskId());
      if (e.kind() == TaskEvent.Kind.STARTED || t == null || t.attempt() != e.attempt().attempt()) {
        continue; // started: done above; or an older attempt's news
      }
      TaskState next =
          switch (e.kind()) {
            case EXITED ->
                e.exitCode() == 0
                    ? (active(t) && !t.spec().outputs().isEmpty()
                        ? (collectOutputs(t, e.attempt(), now) ? TaskState.RUNNING : null)
                        : active(t) && store.transition(t.id(), t.state(), TaskState.SUCCEEDED, now)
                            ? succeeded(e.attempt())
                            : null)
                    : failAttempt(
                            e.attempt(),
                            t.state(),
                            now,
                            CycleMetrics.Failure.EXIT,
                            "exited with code " + e.exitCode(),
                            e.exitCode())
                        ? TaskState.QUEUED
                        : null;
            case TIMED_OUT, OUT_OF_MEMORY, LOST, LAUNCH_FAILED ->
                failAttempt(e.attempt(), t.state(), now, cause(e), failure(e), e.exitCode())
                    ? TaskState.QUEUED
                    : null;
            case KILLED ->
                active(t) && store.transition(t.id(), t.state(), TaskState.CANCELLED, now)
                    ? cancelled(e.attempt())
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
   * Records every success among {@code events} whose attempt is still current and launched or
   * running, and removes those tasks from {@code tasks}; returns how many succeeded.
   */
  private int applySuccesses(List<TaskEvent> events, Map<String, StoredTask> tasks, Instant now) {
    var byState = new java.util.EnumMap<TaskState, List<AttemptId>>(TaskState.class);
    int applied = 0;
    var earlierNews = new java.util.HashSet<String>();
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
        if (t.spec().outputs().isEmpty()) {
          byState.computeIfAbsent(t.state(), s -> new ArrayList<>()).add(e.attempt());
        } else {
          if (collectOutputs(t, e.attempt(), now)) {
            applied++;
          }
          tasks.remove(t.id()); // applied: its later news in this batch is stale
        }
      }
    }
    for (var entry : byState.entrySet()) {
      var succeeded = store.succeedAll(entry.getValue(), entry.getKey(), now);
      for (AttemptId a : entry.getValue()) {
        if (succeeded.contains(a.taskId())) {
          succeededAttempt(a);
          tasks.remove(a.taskId()); // its attempt has ended: later news of it is stale
          applied++;
        }
      }
    }
    return applied;
  }

  /** An attempt ended well: its span, and the count a success ratio is charted from. */
  private void succeededAttempt(AttemptId attempt) {
    metrics.attemptSucceeded();
    attemptSpans.succeeded(attempt);
  }

  private TaskState succeeded(AttemptId attempt) {
    succeededAttempt(attempt);
    return TaskState.SUCCEEDED;
  }

  private TaskState cancelled(AttemptId attempt) {
    try (var ignored = attemptSpans.enter(attempt);
        var fields =
            new LogFields(
                "stowage.task",
                attempt.taskId(),
                "stowage.attempt",
                Integer.toString(attempt.attempt()))) {
      LOG.info(
          "attempt {} of {} stopped: the task is cancelled", attempt.attempt(), attempt.taskId());
    }
    attemptSpans.cancelled(attempt, "killed on request");
    return TaskState.CANCELLED;
  }

  /** What the backend's event says went wrong, for a person. */
  private static String failure(TaskEvent e) {
    String what =
        switch (e.kind()) {
          case TIMED_OUT -> "timed out";
          case OUT_OF_MEMORY -> "out of memory";
          case LOST -> "lost by the backend";
          default -> "launch failed";
        };
    return e.message() == null || e.message().isBlank() ? what : what + ": " + e.message();
  }

  /** The same event as the failed-attempts metric counts it. */
  private static CycleMetrics.Failure cause(TaskEvent e) {
    return switch (e.kind()) {
      case TIMED_OUT -> CycleMetrics.Failure.TIMEOUT;
      case OUT_OF_MEMORY -> CycleMetrics.Failure.OOM;
      case LOST -> CycleMetrics.Failure.LOST;
      default -> CycleMetrics.Failure.LAUNCH;
    };
  }

  /**
   * After a restart, before the first cycle: brings every task the store holds as placed but not
   * finished in line with what the backend knows of its attempt. Running attempts are watched again
   * (their end arrives as an event); finished ones are recorded; one the backend never launched is
   * queued again without counting as a failure; one it lost is a failed attempt, retried per its
   * policy. Nothing already launched is launched again. Returns how many tasks it checked.
   */
  public synchronized int reconcile() {
    reconciledGeneration = store.generation();
    Instant now = clock.instant();
    // Staging in flight is forgotten: its tasks go back to the queue below, and a result that
    // still arrives for one of them finds no launch waiting.
    staging.clear();
    staged.clear();
    collecting.clear();
    attemptSpans.endAll("the scheduler reconciled its attempts with the backend");
    List<StoredTask> inFlight = store.inFlight();
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
    backend
        .knownAttempts()
        .forEach(
            (a, offer) ->
                latest.merge(
                    a.taskId(),
                    Map.entry(a, offer),
                    (x, y) -> x.getKey().attempt() >= y.getKey().attempt() ? x : y));
    if (latest.isEmpty()) {
      return 0;
    }
    int adopted = 0;
    for (StoredTask t : store.getAll(latest.keySet()).values()) {
      var known = latest.get(t.id());
      AttemptId attempt = known.getKey();
      if (t.state() != TaskState.QUEUED || t.attempt() != attempt.attempt() - 1) {
        continue;
      }
      if (store.assign(t.id(), known.getValue(), now) != attempt.attempt()) {
        continue;
      }
      LOG.info(
          "attempt {} of {} was launched before the service stopped, its placement not recorded:"
              + " adopted",
          attempt.attempt(),
          t.id());
      reconcileAttempt(store.get(t.id()).orElseThrow(), attempt, now);
      adopted++;
    }
    return adopted;
  }

  /** Brings one task placed but not finished in line with what the backend knows of its attempt. */
  private void reconcileAttempt(StoredTask t, AttemptId attempt, Instant now) {
    TaskEvent status = backend.status(attempt);
    TaskState state = t.state();
    switch (status.kind()) {
      case NOT_LAUNCHED -> {
        if (state == TaskState.ASSIGNED || state == TaskState.STAGING) {
          if (stager != null) {
            backend.workDirectory(attempt).ifPresent(stager::discardPartial);
          }
          store.unassign(t.id(), state, now);
        } else {
          failAttempt(
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
          store.transition(t.id(), TaskState.LAUNCHED, TaskState.RUNNING, now);
        }
      }
      case EXITED -> {
        state = launched(t.id(), state, now);
        if (status.exitCode() == 0 && !t.spec().outputs().isEmpty()) {
          // Its outputs may not all be out: copy them (again; what is there is skipped).
          collectOutputs(store.get(t.id()).orElse(t), attempt, now);
        } else if (status.exitCode() == 0) {
          if (store.transition(t.id(), state, TaskState.SUCCEEDED, now)) {
            metrics.attemptSucceeded();
          }
        } else {
          failAttempt(
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
        store.transition(t.id(), state, TaskState.CANCELLED, now);
      }
      default ->
          failAttempt(attempt, state, now, cause(status), failure(status), status.exitCode());
    }
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
  private boolean failAttempt(
      AttemptId attempt, TaskState from, Instant now, CycleMetrics.Failure cause, String reason) {
    return failAttempt(attempt, from, now, cause, reason, null);
  }

  /**
   * @param exitCode how the process ended, when it did
   */
  private boolean failAttempt(
      AttemptId attempt,
      TaskState from,
      Instant now,
      CycleMetrics.Failure cause,
      String reason,
      Integer exitCode) {
    metrics.attemptFailed(cause);
    StoredTask t = store.get(attempt.taskId()).orElse(null);
    if (t != null && !t.state().isTerminal()) {
      RetryPolicy retry = t.spec().retry();
      boolean again = attempt.attempt() < retry.maxAttempts();
      // One record per failed attempt, inside its span: the record leads to the trace.
      try (var ignored = attemptSpans.enter(attempt);
          var fields =
              new LogFields(
                  "stowage.task", attempt.taskId(),
                  "stowage.attempt", Integer.toString(attempt.attempt()),
                  "stowage.failure", cause.label(),
                  "stowage.retry", Boolean.toString(again))) {
        LOG.warn(
            again
                ? "attempt {} of {} failed ({}): {}; retried after {} (attempt {} of {})"
                : "attempt {} of {} failed ({}): {}; the task failed, with no attempt left"
                    + " of {}",
            attempt.attempt(),
            attempt.taskId(),
            cause.label(),
            reason,
            again ? retry.delayBefore(attempt.attempt() + 1) : retry.maxAttempts(),
            attempt.attempt() + 1,
            retry.maxAttempts());
      }
    }
    attemptSpans.failed(attempt, reason, cause.label(), exitCode);
    store.recordError(attempt.taskId(), attempt.attempt(), reason);
    if (t == null || t.state().isTerminal()) {
      return false;
    }
    RetryPolicy retry = t.spec().retry();
    if (attempt.attempt() < retry.maxAttempts()) {
      return store.requeue(t.id(), from, now.plus(retry.delayBefore(attempt.attempt() + 1)), now);
    }
    return store.transition(t.id(), from, TaskState.FAILED, now);
  }

  /**
   * A record's own fields, in the logging context for as long as the record is written: every
   * format reads them from there (JSON lines as top-level keys, OTLP as attributes).
   */
  private static final class LogFields implements AutoCloseable {
    private final String[] keysAndValues;

    LogFields(String... keysAndValues) {
      this.keysAndValues = keysAndValues;
      for (int i = 0; i < keysAndValues.length; i += 2) {
        org.slf4j.MDC.put(keysAndValues[i], keysAndValues[i + 1]);
      }
    }

    @Override
    public void close() {
      for (int i = 0; i < keysAndValues.length; i += 2) {
        org.slf4j.MDC.remove(keysAndValues[i]);
      }
    }
  }
}
