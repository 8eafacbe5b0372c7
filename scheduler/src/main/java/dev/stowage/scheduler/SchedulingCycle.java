package dev.stowage.scheduler;

import dev.stowage.engine.Explanation;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * One scheduling cycle: small stages, each its own class and each a traced phase, wired here and
 * run in this order (the phase names are the ones the talk used):
 *
 * <ol>
 *   <li>{@code apply_cluster_events} ({@link ApplyEvents}): node changes, staging results and
 *       attempts' events since the last cycle;
 *   <li>{@code get_resource_offers_from_cluster} ({@link GatherOffers}): what each node can take;
 *   <li>{@code get_processable_tasks} ({@link FairShareOrder}): the queued tasks, in the order they
 *       are placed: queues take turns by fair share, each in priority order;
 *   <li>{@code match_tasks_to_offers} ({@link MatchTasks}): the engine's exact greedy best fit;
 *   <li>{@code prepare_payloads} ({@link PreparePayloads}): placements recorded, launches built,
 *       inputs handed to staging ({@link StagingHandOff});
 *   <li>{@code launch} ({@link LaunchAttempts}): handed to the backend and marked launched.
 * </ol>
 *
 * {@link Reconcile} runs before the first cycle and whenever the store was loaded again. Every
 * attempt's end goes through {@link AttemptEnds}. A task's own failure never fails the cycle: it
 * becomes that task's retry or failure.
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
  static final AttributeKey<Long> PREEMPTED = AttributeKey.longKey("stowage.tasks.preempted");
  static final AttributeKey<String> MODE = AttributeKey.stringKey("stowage.match.mode");

  /** On a cycle's root span: true when it applied no event and placed or launched nothing. */
  public static final AttributeKey<Boolean> IDLE = AttributeKey.booleanKey("stowage.idle");

  static final AttributeKey<String> SCORER = AttributeKey.stringKey("stowage.match.scorer");

  /** The phases of a cycle, by their span names, in the order each cycle runs them. */
  public static final List<String> PHASES =
      List.of(
          "apply_cluster_events",
          "get_resource_offers_from_cluster",
          "get_processable_tasks",
          "match_tasks_to_offers",
          "prepare_payloads",
          "launch");

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
  private final ClusterNodes nodes = new ClusterNodes();
  private final int maxTasksPerCycle;
  private final Clock clock;
  private final Tracer tracer;
  private final CycleMetrics metrics;
  private final AttemptSpans attemptSpans;
  private final ApplyEvents events;
  private final GatherOffers offers;
  private final FairShareOrder order;
  private final MatchTasks match;
  private final PlaceGangs gangs;
  private final PreemptForWaiting preemption;
  private final PreparePayloads payloads;
  private final LaunchAttempts launches;
  private final Reconcile reconciler;
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

  /** With only the default queue. */
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
    this(
        store,
        backend,
        stager,
        matcher,
        mode,
        maxTasksPerCycle,
        clock,
        tracer,
        meter,
        crashPoints,
        dev.stowage.scheduler.queues.QueueStore.inMemory());
  }

  /** With no priority classes: nothing preempts. */
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
      CrashPoints crashPoints,
      dev.stowage.scheduler.queues.QueueStore queues) {
    this(
        store,
        backend,
        stager,
        matcher,
        mode,
        maxTasksPerCycle,
        clock,
        tracer,
        meter,
        crashPoints,
        queues,
        dev.stowage.scheduler.preemption.PriorityClassStore.inMemory());
  }

  /**
   * With metrics recorded through {@code meter} (see {@link CycleMetrics}) and the crash tests'
   * {@code crashPoints} armed ({@link CrashPoints#NONE} but in those tests). The stages are wired
   * here, and only here.
   *
   * @param stager null: a task that declares inputs or outputs fails its attempt, saying so
   * @param queues the queues the order stage shares the cluster between
   * @param classes the priority classes, whose policies say who may preempt whom
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
      CrashPoints crashPoints,
      dev.stowage.scheduler.queues.QueueStore queues,
      dev.stowage.scheduler.preemption.PriorityClassStore classes) {
    this.store = store;
    this.maxTasksPerCycle = maxTasksPerCycle;
    this.clock = clock;
    this.tracer = tracer;
    this.metrics = new CycleMetrics(meter);
    this.attemptSpans = new AttemptSpans(tracer);
    var ends = new AttemptEnds(store, metrics, attemptSpans);
    var parts = new CycleParts(store, backend, attemptSpans, ends, metrics, crashPoints, clock);
    var handOff = new StagingHandOff(parts, stager);
    this.events = new ApplyEvents(parts, nodes, handOff);
    this.offers = new GatherOffers(backend, store, nodes);
    this.order = new FairShareOrder(store, queues, nodes);
    this.match = new MatchTasks(matcher, mode, clock);
    this.gangs = new PlaceGangs(store, match);
    this.preemption = new PreemptForWaiting(parts, classes, queues, nodes, matcher);
    this.payloads = new PreparePayloads(parts, handOff);
    this.launches = new LaunchAttempts(parts, handOff);
    this.reconciler = new Reconcile(parts, handOff);
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
      int events = phase(phases, "apply_cluster_events", this.events::apply, n -> (long) n, EVENTS);
      List<Offer> offers =
          phase(
              phases,
              "get_resource_offers_from_cluster",
              this.offers::offers,
              o -> (long) o.size(),
              OFFERS);
      List<StoredTask> taken =
          phase(
              phases,
              "get_processable_tasks",
              () -> order.take(maxTasksPerCycle, clock.instant()),
              t -> (long) t.size(),
              TASKS);
      PlaceGangs.Placed placed =
          phase(
              phases,
              "match_tasks_to_offers",
              () -> {
                Span.current().setAttribute(MODE, match.mode().label());
                Span.current().setAttribute(SCORER, match.scorer());
                var matched = gangs.place(taken, offers);
                Span.current()
                    .setAttribute(
                        UNMATCHED, (long) (taken.size() - matched.result().matchedCount()));
                // Room for what fits nowhere, freed for a later cycle to place it in.
                int evicted = preemption.preempt(matched.tasks(), matched.result(), offers);
                Span.current().setAttribute(PREEMPTED, (long) evicted);
                return matched;
              },
              m -> (long) m.result().matchedCount(),
              MATCHED);
      // A gang left out waits whole: its tasks are not among those matched.
      List<StoredTask> tasks = placed.tasks();
      MatchResult result = placed.result();
      List<Launch> prepared =
          phase(
              phases,
              "prepare_payloads",
              () -> payloads.prepare(tasks, result.assignments(), cycle.getSpanContext()),
              l -> (long) l.size(),
              LAUNCHED);
      int launched =
          phase(phases, "launch", () -> launches.launch(prepared), n -> (long) n, LAUNCHED);
      cycle.setAttribute(OFFERS, (long) offers.size());
      cycle.setAttribute(TASKS, (long) taken.size());
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
            taken.size(),
            result.matchedCount(),
            launched,
            events);
      }
      String traceId =
          cycle.getSpanContext().isValid() ? cycle.getSpanContext().getTraceId() : null;
      return new Report(
          events,
          offers.size(),
          taken.size(),
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
      Function<T, Long> count,
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

  /**
   * Why this queued task is not placed, as the last cycle saw the cluster, and when that cycle ran:
   * see {@link MatchTasks#lastExplanation}. Empty before the first cycle. Safe from any thread.
   */
  public Optional<Map.Entry<Instant, Explanation>> lastExplanation(StoredTask task) {
    return match.lastExplanation(task);
  }

  /**
   * The limit {@code queue} stopped at in the last cycle, when it did: why its next task was not
   * offered to the matcher. Safe from any thread.
   */
  public Optional<dev.stowage.scheduler.queues.FairShare.AtLimit> queueAtLimit(String queue) {
    return order.atLimit(queue);
  }

  /**
   * Why the gang of that name was not placed in the last cycle (how many of its tasks were ready,
   * how many fit), if it was not. Safe from any thread.
   */
  public Optional<GangWait> gangWaiting(String gang) {
    return gangs.waiting(gang);
  }

  /**
   * What the task preempted, when it did lately: the offer and the tasks it evicted there, and
   * when. Safe from any thread.
   */
  public Optional<Preempted> preempted(String task) {
    return preemption.preempted(task);
  }

  /** The cluster's nodes as the last cycle (or reconcile) knew them. Safe from any thread. */
  public ClusterNodes nodes() {
    return nodes;
  }

  /**
   * Only applies what the cluster reported since the last cycle, placing nothing: what a paused
   * scheduler still does, so that running tasks finish and release their dependants.
   */
  public synchronized int applyClusterEvents() {
    return events.apply();
  }

  /**
   * After a restart, before the first cycle: the nodes the backend reports, then {@link Reconcile}.
   * Returns how many tasks it checked.
   */
  public synchronized int reconcile() {
    reconciledGeneration = store.generation();
    events.applyNodeEvents(clock.instant());
    return reconciler.reconcile();
  }

  /**
   * What the last {@link #reconcile} found the backend running for tasks the store does not hold
   * (orphans), by task id and attempt: for the service to report, or stop when told to.
   */
  public synchronized List<AttemptId> orphans() {
    return reconciler.orphans();
  }
}
