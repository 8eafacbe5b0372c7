package dev.stowage.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.TaskEvent.Kind;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The cycle with in-memory ports: the store in memory, a scripted backend, a settable clock. */
class SchedulingCycleTest {
  final InMemorySpanExporter spans = InMemorySpanExporter.create();
  final SdkTracerProvider tracing =
      SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build();
  final TestClock clock = new TestClock(Instant.parse("2026-11-25T12:00:00Z"));
  final InMemoryTaskStore store = new InMemoryTaskStore();
  final ScriptedBackend backend = new ScriptedBackend();
  SchedulingCycle cycle;

  @BeforeEach
  void setUp() {
    cycle =
        new SchedulingCycle(
            store, backend, Matcher.fast(), MatchMode.PACK, 1000, clock, tracing.get("test"));
  }

  @Test
  void placesQueuedTasksAndTracesEveryPhase() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    store.submit(
        List.of(
            task("small", 1000).withPriority(1),
            task("big", 3000),
            task("too-big", 8000),
            TaskSpec.of("traced", "true")
                .withTrace(
                    new TraceContext(
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null))),
        clock.instant());

    SchedulingCycle.Report report = cycle.runOnce();

    assertThat(report.considered()).isEqualTo(4);
    assertThat(report.matched()).isEqualTo(3);
    assertThat(report.launched()).isEqualTo(3);
    assertThat(report.took()).isPositive();
    assertThat(backend.launched)
        .extracting(l -> l.attempt().toString())
        .containsExactly("small#1", "big#1", "traced#1");
    // The process continues the submitter's trace, below its attempt's span.
    assertThat(backend.launched.getLast().env().get("TRACEPARENT"))
        .startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        .doesNotContain("00f067aa0ba902b7");
    assertThat(state("small")).isEqualTo(TaskState.LAUNCHED);
    assertThat(state("too-big")).isEqualTo(TaskState.QUEUED);

    List<SpanData> finished = spans.getFinishedSpanItems();
    SpanData root =
        finished.stream()
            .filter(s -> s.getName().equals("scheduling_cycle"))
            .findFirst()
            .orElseThrow();
    assertThat(report.traceId()).isEqualTo(root.getTraceId());
    assertThat(finished)
        .filteredOn(s -> s.getParentSpanId().equals(root.getSpanId()))
        .extracting(SpanData::getName)
        .containsExactly(
            "apply_cluster_events",
            "get_resource_offers_from_cluster",
            "get_processable_tasks",
            "match_tasks_to_offers",
            "prepare_payloads",
            "launch")
        .isEqualTo(SchedulingCycle.PHASES);
    SpanData match =
        finished.stream()
            .filter(s -> s.getName().equals("match_tasks_to_offers"))
            .findFirst()
            .orElseThrow();
    assertThat(match.getAttributes().get(SchedulingCycle.MATCHED)).isEqualTo(3L);
    assertThat(match.getAttributes().get(SchedulingCycle.UNMATCHED)).isEqualTo(1L);
    assertThat(match.getAttributes().get(SchedulingCycle.MODE)).isEqualTo("pack");
    assertThat(root.getAttributes().get(SchedulingCycle.LAUNCHED)).isEqualTo(3L);
  }

  /** Log records of the cycle, each with the trace current when it was written. */
  static final class Records
      extends ch.qos.logback.core.AppenderBase<ch.qos.logback.classic.spi.ILoggingEvent> {
    final List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override
    protected void append(ch.qos.logback.classic.spi.ILoggingEvent e) {
      // A record's fields are in its logging context, where every log format reads them.
      var kv = new java.util.TreeMap<String, Object>(e.getMDCPropertyMap());
      lines.add(
          e.getLevel()
              + " "
              + e.getFormattedMessage()
              + " "
              + kv
              + " trace="
              + io.opentelemetry.api.trace.Span.current().getSpanContext().getTraceId());
    }
  }

  @Test
  void aFailedOrCancelledAttemptIsOneLogRecordInItsTrace() {
    var logger =
        (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(SchedulingCycle.class);
    var records = new Records();
    records.start();
    logger.addAppender(records);
    try {
      backend.free = new Resources(4000, 8192, 100_000, 0);
      var submitted =
          new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null);
      store.submit(
          List.of(
              task("flaky", 1000)
                  .withTrace(submitted)
                  .withRetry(new RetryPolicy(2, Duration.ofSeconds(5), Duration.ofSeconds(5))),
              task("doomed", 1000),
              task("stopped", 1000)),
          clock.instant());
      cycle.runOnce();
      backend.report(new AttemptId("flaky", 1), Kind.EXITED, 3);
      backend.report(new AttemptId("doomed", 1), Kind.TIMED_OUT, null);
      backend.report(new AttemptId("stopped", 1), Kind.KILLED, null);
      cycle.runOnce();

      assertThat(records.lines)
          .filteredOn(l -> !l.startsWith("INFO cycle:"))
          .containsExactlyInAnyOrder(
              "WARN attempt 1 of flaky failed (exit): exited with code 3; retried after PT5S"
                  + " (attempt 2 of 2) {stowage.attempt=1, stowage.failure=exit,"
                  + " stowage.retry=true, stowage.task=flaky}"
                  + " trace=4bf92f3577b34da6a3ce929d0e0e4736",
              "WARN attempt 1 of doomed failed (timeout): timed out: TIMED_OUT; the task failed,"
                  + " with no attempt left of 1 {stowage.attempt=1, stowage.failure=timeout,"
                  + " stowage.retry=false, stowage.task=doomed} trace="
                  + spanOf("doomed").getTraceId(),
              "INFO attempt 1 of stopped stopped: the task is cancelled {stowage.attempt=1,"
                  + " stowage.task=stopped} trace="
                  + spanOf("stopped").getTraceId());
    } finally {
      logger.detachAppender(records);
    }
  }

  private SpanData spanOf(String task) {
    return spans.getFinishedSpanItems().stream()
        .filter(s -> s.getName().equals("task_attempt"))
        .filter(s -> task.equals(s.getAttributes().get(AttemptSpans.TASK)))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void anAttemptOfATraceNotSampledIsNoSpanAndItsProcessGetsTheSubmitsContext() {
    var sampled = InMemorySpanExporter.create();
    var parentBased =
        SdkTracerProvider.builder()
            .setSampler(
                io.opentelemetry.sdk.trace.samplers.Sampler.parentBased(
                    io.opentelemetry.sdk.trace.samplers.Sampler.alwaysOn()))
            .addSpanProcessor(SimpleSpanProcessor.create(sampled))
            .build();
    var sampling =
        new SchedulingCycle(
            store, backend, Matcher.fast(), MatchMode.PACK, 1000, clock, parentBased.get("test"));
    backend.free = new Resources(4000, 8192, 100_000, 0);
    var notSampled =
        new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", null);
    var isSampled =
        new TraceContext("00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null);
    store.submit(
        List.of(
            task("dropped", 1000).withTrace(notSampled), task("kept", 1000).withTrace(isSampled)),
        clock.instant());

    sampling.runOnce();
    sampling.reconcile(); // ends the open attempt spans, to read them

    var launches = new java.util.HashMap<String, String>();
    backend.launched.forEach(l -> launches.put(l.attempt().taskId(), l.env().get("TRACEPARENT")));
    assertThat(launches.get("dropped")).isEqualTo(notSampled.traceparent());
    assertThat(launches.get("kept"))
        .startsWith("00-5bf92f3577b34da6a3ce929d0e0e4736-")
        .endsWith("-01")
        .doesNotContain("00f067aa0ba902b7");
    var attempts =
        sampled.getFinishedSpanItems().stream()
            .filter(s -> s.getName().equals("task_attempt"))
            .toList();
    assertThat(attempts).hasSize(1);
    assertThat(attempts.getFirst().getAttributes().get(AttemptSpans.TASK)).isEqualTo("kept");
    assertThat(attempts.getFirst().getAttributes().get(AttemptSpans.NODE)).isNotNull();
    assertThat(attempts.getFirst().getLinks()).hasSize(1);
  }

  @Test
  void theWaitBeforePlacementIsOnTheAttemptsSpan() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    var submitted =
        new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null);
    store.submit(List.of(task("waits", 1000).withTrace(submitted)), clock.instant());
    clock.advance(Duration.ofSeconds(5));

    cycle.runOnce();
    cycle.reconcile(); // ends the attempt's open span, to read it

    assertThat(spanOf("waits").getAttributes().get(AttemptSpans.QUEUE_WAIT)).isEqualTo(5.0);
  }

  @Test
  void eachAttemptIsASpanInTheSubmittersTraceLinkedToTheCycleThatPlacedIt() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    String submitSpan = "00f067aa0ba902b7";
    var submitted =
        new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-" + submitSpan + "-01", "k=v");
    store.submit(
        List.of(
            task("ok", 1000).withTrace(submitted),
            task("flaky", 1000)
                .withTrace(submitted)
                .withRetry(new RetryPolicy(2, Duration.ZERO, Duration.ZERO))),
        clock.instant());

    cycle.runOnce(); // places both
    backend.report(new AttemptId("ok", 1), Kind.STARTED, null);
    backend.report(new AttemptId("ok", 1), Kind.EXITED, 0);
    backend.report(new AttemptId("flaky", 1), Kind.STARTED, null);
    backend.report(new AttemptId("flaky", 1), Kind.EXITED, 3);
    cycle.runOnce(); // records both ends, places flaky's second attempt

    List<SpanData> finished = spans.getFinishedSpanItems();
    List<SpanData> cycles =
        finished.stream().filter(s -> s.getName().equals("scheduling_cycle")).toList();
    List<SpanData> attempts =
        finished.stream().filter(s -> s.getName().equals("task_attempt")).toList();
    // Ended: ok#1 and flaky#1; flaky#2 is still running, its span open.
    assertThat(attempts)
        .extracting(
            s ->
                s.getAttributes().get(AttemptSpans.TASK)
                    + "#"
                    + s.getAttributes().get(AttemptSpans.ATTEMPT))
        .containsExactlyInAnyOrder("ok#1", "flaky#1");
    for (SpanData a : attempts) {
      assertThat(a.getTraceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
      assertThat(a.getParentSpanId()).isEqualTo(submitSpan);
      assertThat(a.getParentSpanContext().isRemote())
          .as("the submit's span is this service's own")
          .isFalse();
      assertThat(a.getLinks())
          .extracting(l -> l.getSpanContext().getSpanId())
          .containsExactly(cycles.getFirst().getSpanId());
      assertThat(a.getAttributes().get(AttemptSpans.NODE)).isNotBlank();
    }
    SpanData ok = attempt(attempts, "ok");
    assertThat(ok.getEvents())
        .extracting(io.opentelemetry.sdk.trace.data.EventData::getName)
        .containsExactly("launched", "started", "succeeded");
    assertThat(ok.getStatus().getStatusCode())
        .isEqualTo(io.opentelemetry.api.trace.StatusCode.UNSET);
    SpanData flaky = attempt(attempts, "flaky");
    assertThat(flaky.getStatus().getStatusCode())
        .isEqualTo(io.opentelemetry.api.trace.StatusCode.ERROR);
    assertThat(flaky.getStatus().getDescription()).isEqualTo("exited with code 3");
    assertThat(flaky.getAttributes().get(AttributeKey.stringKey("error.type"))).isEqualTo("exit");
    assertThat(flaky.getAttributes().get(AttributeKey.longKey("process.exit.code"))).isEqualTo(3L);
    assertThat(ok.getAttributes().get(AttributeKey.stringKey("error.type"))).isNull();

    // Each process's TRACEPARENT names its own attempt's span; TRACESTATE is passed on unchanged.
    Launch first = backend.launched.getFirst();
    assertThat(first.env())
        .containsEntry("TRACEPARENT", "00-" + ok.getTraceId() + "-" + ok.getSpanId() + "-01")
        .containsEntry("TRACESTATE", "k=v");
    Launch retry = backend.launched.getLast();
    assertThat(retry.attempt()).hasToString("flaky#2");
    assertThat(retry.env().get("TRACEPARENT"))
        .startsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        .isNotEqualTo(first.env().get("TRACEPARENT"))
        .doesNotContain(flaky.getSpanId());
  }

  private static SpanData attempt(List<SpanData> attempts, String task) {
    return attempts.stream()
        .filter(s -> task.equals(s.getAttributes().get(AttemptSpans.TASK)))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void successRunsTheNextTaskOfTheDag() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    store.submit(List.of(task("a", 1000), task("b", 1000).withDependsOn("a")), clock.instant());

    cycle.runOnce();
    backend.report(new AttemptId("a", 1), Kind.STARTED, null);
    backend.report(new AttemptId("a", 1), Kind.EXITED, 0);
    cycle.runOnce();

    assertThat(state("a")).isEqualTo(TaskState.SUCCEEDED);
    // b was released while events were applied, so the same cycle launched it.
    assertThat(state("b")).isEqualTo(TaskState.LAUNCHED);
    assertThat(backend.launched)
        .extracting(l -> l.attempt().toString())
        .containsExactly("a#1", "b#1");
  }

  @Test
  void aDagSubmittedInTwoRequestsIsOneGraphOfLinksBetweenItsAttempts() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    var first = new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null);
    var second = new TraceContext("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", null);
    store.submit(List.of(task("extract", 1000).withTrace(first)), clock.instant());
    store.submit(
        List.of(
            task("load", 1000).withTrace(second).withDependsOn("extract"),
            task("report", 1000).withTrace(second).withDependsOn("load", "extract")),
        clock.instant());

    cycle.runOnce();
    backend.report(new AttemptId("extract", 1), Kind.EXITED, 0);
    cycle.runOnce();
    backend.report(new AttemptId("load", 1), Kind.EXITED, 0);
    cycle.runOnce();
    backend.report(new AttemptId("report", 1), Kind.EXITED, 0);
    cycle.runOnce();

    SpanData extract = spanOf("extract");
    SpanData load = spanOf("load");
    SpanData report = spanOf("report");
    assertThat(extract.getTraceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    assertThat(load.getTraceId()).isEqualTo("0af7651916cd43dd8448eb211c80319c");
    // Each attempt links to the cycle that placed it, and to each dependency's attempt.
    assertThat(dependencyLinks(extract)).isEmpty();
    assertThat(dependencyLinks(load)).containsExactly("extract=" + extract.getSpanId());
    assertThat(dependencyLinks(report))
        .containsExactlyInAnyOrder("load=" + load.getSpanId(), "extract=" + extract.getSpanId());
    assertThat(load.getLinks())
        .filteredOn(l -> l.getSpanContext().getTraceId().equals(extract.getTraceId()))
        .hasSize(1);
  }

  private static List<String> dependencyLinks(SpanData span) {
    return span.getLinks().stream()
        .filter(l -> l.getAttributes().get(AttemptSpans.DEPENDENCY) != null)
        .map(
            l ->
                l.getAttributes().get(AttemptSpans.DEPENDENCY)
                    + "="
                    + l.getSpanContext().getSpanId())
        .toList();
  }

  @Test
  void aFailedAttemptIsRetriedAfterItsBackoffThenFailsForGood() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    var flaky =
        TaskSpec.of("flaky", "false")
            .withResources(new Resources(1000, 0, 0, 0))
            .withRetry(new RetryPolicy(2, Duration.ofSeconds(30), Duration.ofMinutes(5)));
    store.submit(List.of(flaky), clock.instant());

    cycle.runOnce();
    backend.report(new AttemptId("flaky", 1), Kind.EXITED, 1);
    cycle.runOnce();
    assertThat(state("flaky")).as("waiting out the backoff").isEqualTo(TaskState.QUEUED);
    assertThat(backend.launched).hasSize(1);

    clock.advance(Duration.ofSeconds(30));
    cycle.runOnce();
    assertThat(backend.launched)
        .extracting(l -> l.attempt().toString())
        .containsExactly("flaky#1", "flaky#2");

    backend.report(new AttemptId("flaky", 2), Kind.TIMED_OUT, null);
    cycle.runOnce();
    assertThat(state("flaky")).isEqualTo(TaskState.FAILED);
  }

  @Test
  void aBackendThatThrowsFailsOnlyThatAttempt() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    backend.throwOn = "boom";
    store.submit(List.of(task("boom", 100), task("fine", 100)), clock.instant());

    var report = cycle.runOnce();

    assertThat(report.launched()).isEqualTo(1);
    assertThat(state("boom")).isEqualTo(TaskState.FAILED);
    assertThat(state("fine")).isEqualTo(TaskState.LAUNCHED);
  }

  @Test
  void reconcileAfterARestartFollowsWhatTheBackendKnows() {
    backend.free = new Resources(8000, 8192, 100_000, 0);
    store.submit(
        List.of(
            task("never-launched", 100),
            task("still-running", 100),
            task("finished", 100),
            task("lost", 100)),
        clock.instant());
    cycle.runOnce(); // all four launched
    backend.statuses.put(
        new AttemptId("never-launched", 1),
        new TaskEvent(
            new AttemptId("never-launched", 1), Kind.NOT_LAUNCHED, null, "", Instant.EPOCH));
    store.requeue("never-launched", TaskState.LAUNCHED, clock.instant(), clock.instant());
    store.assign("never-launched", "node-1", clock.instant()); // as if the crash hit before launch
    backend.statuses.put(
        new AttemptId("never-launched", 2),
        new TaskEvent(
            new AttemptId("never-launched", 2), Kind.NOT_LAUNCHED, null, "", Instant.EPOCH));
    backend.statuses.put(
        new AttemptId("still-running", 1),
        new TaskEvent(new AttemptId("still-running", 1), Kind.STARTED, null, "", Instant.EPOCH));
    backend.statuses.put(
        new AttemptId("finished", 1),
        new TaskEvent(new AttemptId("finished", 1), Kind.EXITED, 0, "", Instant.EPOCH));

    int checked = cycle.reconcile();

    assertThat(checked).isEqualTo(4);
    assertThat(state("never-launched")).isEqualTo(TaskState.QUEUED);
    assertThat(store.get("never-launched").orElseThrow().attempt())
        .as("the attempt that never started is given back")
        .isEqualTo(1);
    assertThat(state("still-running")).isEqualTo(TaskState.RUNNING);
    assertThat(state("finished")).isEqualTo(TaskState.SUCCEEDED);
    assertThat(state("lost")).as("lost, and out of attempts").isEqualTo(TaskState.FAILED);
    assertThat(store.get("lost").orElseThrow().lastError())
        .isEqualTo("lost by the backend: scripted");
    assertThat(store.get("never-launched").orElseThrow().lastError()).isNull();
  }

  @Test
  void reconcileRecordsACancelStoppedBeforeItWasDurableAndAdoptsAnUnrecordedPlacement() {
    backend.free = new Resources(8000, 8192, 100_000, 0);
    store.submit(List.of(task("cancelled", 100), task("unrecorded", 100)), clock.instant());
    cycle.runOnce(); // both launched as attempt 1
    // As after a crash that lost the record of the placement of 'unrecorded': queued, attempt 0.
    store.requeue("unrecorded", TaskState.LAUNCHED, clock.instant(), clock.instant());
    store.transition("unrecorded", TaskState.QUEUED, TaskState.ASSIGNED, clock.instant());
    store.unassign("unrecorded", TaskState.ASSIGNED, clock.instant());
    assertThat(store.get("unrecorded").orElseThrow().attempt()).isZero();
    backend.known.put(new AttemptId("unrecorded", 1), "node-1");
    backend.statuses.put(
        new AttemptId("unrecorded", 1),
        new TaskEvent(new AttemptId("unrecorded", 1), Kind.STARTED, null, "", Instant.EPOCH));
    backend.statuses.put(
        new AttemptId("cancelled", 1),
        new TaskEvent(new AttemptId("cancelled", 1), Kind.KILLED, 143, "stopped", Instant.EPOCH));
    int launchesBefore = backend.launched.size();

    cycle.reconcile();

    assertThat(state("cancelled")).isEqualTo(TaskState.CANCELLED);
    assertThat(state("unrecorded")).isEqualTo(TaskState.RUNNING);
    assertThat(store.get("unrecorded").orElseThrow().attempt()).isEqualTo(1);
    assertThat(store.get("unrecorded").orElseThrow().offer()).isEqualTo("node-1");
    cycle.runOnce();
    assertThat(backend.launched).as("nothing launched again").hasSize(launchesBefore);
  }

  private TaskState state(String id) {
    return store.get(id).orElseThrow().state();
  }

  private static TaskSpec task(String id, long cpu) {
    return TaskSpec.of(id, "true").withResources(new Resources(cpu, 0, 0, 0));
  }

  @Test
  void aNeverSchedulableTaskStaysOutOfTheQueueUntilTheNodesChange() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    var node = new Offer("node-1", "node-1", new Resources(4000, 8192, 100_000, 0), Map.of());
    backend.nodeEvents.add(new NodeEvent.Added(node));
    var tooBig = task("too-big", 8000);
    var fine = task("fine", 1000);
    store.submit(
        List.of(tooBig, fine),
        Feasibility.neverSchedulable(List.of(tooBig, fine), List.of(node)),
        clock.instant());

    var first = cycle.runOnce();

    assertThat(first.considered()).isEqualTo(1); // "too-big" is not even read
    assertThat(store.get("too-big").orElseThrow().neverSchedulable())
        .startsWith("never schedulable: 0/1 nodes fit it empty: 1 insufficient cpuMillis");

    // The node grows (an event says so): the flagged task is checked again and placed.
    backend.free = new Resources(16000, 8192, 100_000, 0);
    backend.nodeEvents.add(
        new NodeEvent.Changed(
            new Offer("node-1", "node-1", new Resources(16000, 8192, 100_000, 0), Map.of())));
    cycle.runOnce();

    StoredTask placed = store.get("too-big").orElseThrow();
    assertThat(placed.neverSchedulable()).isNull();
    assertThat(placed.state()).isEqualTo(TaskState.LAUNCHED);
  }

  @Test
  void theLastCycleSaysWhyItLeftATaskUnplaced() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    store.submit(
        List.of(task("first", 3000).withPriority(1), task("second", 3000)), clock.instant());

    assertThat(cycle.lastExplanation(store.get("second").orElseThrow())).isEmpty(); // no cycle yet

    cycle.runOnce();

    var why = cycle.lastExplanation(store.get("second").orElseThrow()).orElseThrow();
    assertThat(why.getKey()).isEqualTo(clock.instant());
    assertThat(why.getValue().message()).isEqualTo("0/1 offers fit: 1 insufficient cpuMillis");
    assertThat(why.getValue().neverFits()).isFalse();
    // A task the cycle did not see is checked against what the cycle left: 1000 of 4000 free.
    store.submit(List.of(task("later", 500)), clock.instant());
    var later = cycle.lastExplanation(store.get("later").orElseThrow()).orElseThrow();
    assertThat(later.getValue().message()).isEqualTo("1/1 offers fit");
  }

  @Test
  void metricsCountMatchesUnmatchedByReasonPhasesAndFailedAttempts() {
    var metrics = io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader.create();
    var meter =
        io.opentelemetry.sdk.metrics.SdkMeterProvider.builder()
            .registerMetricReader(metrics)
            .build()
            .get("test");
    backend.free = new Resources(4000, 8192, 100_000, 0);
    var measured =
        new SchedulingCycle(
            store,
            backend,
            null,
            Matcher.fast(),
            MatchMode.PACK,
            100,
            clock,
            tracing.get("t"),
            meter,
            CrashPoints.NONE);
    store.submit(
        List.of(
            task("fits", 1000),
            task("too-big", 8000),
            task("zoned", 500).withConstraints(Map.of("zone", "mars")),
            task("inputs", 500).withInputs(List.of(new StagedInput("file:///a", "a")))),
        clock.instant());

    measured.runOnce();

    var byName = new java.util.HashMap<String, io.opentelemetry.sdk.metrics.data.MetricData>();
    for (var m : metrics.collectAllMetrics()) {
      byName.put(m.getName(), m);
    }
    assertThat(byName.get("stowage.tasks.matched").getLongSumData().getPoints())
        .singleElement()
        .satisfies(p -> assertThat(p.getValue()).isEqualTo(2)); // "fits" and "inputs"
    var unmatched = new java.util.HashMap<String, Long>();
    for (var p : byName.get("stowage.tasks.unmatched").getLongGaugeData().getPoints()) {
      unmatched.put(p.getAttributes().get(CycleMetrics.REASON), p.getValue());
    }
    // Every reason is a series from zero.
    assertThat(unmatched).containsOnlyKeys(CycleMetrics.REASONS);
    assertThat(unmatched)
        .containsEntry("insufficient cpuMillis", 1L)
        .containsEntry("constraint", 1L)
        .containsEntry("insufficient memoryMiB", 0L)
        .containsEntry("no offers", 0L);
    assertThat(unmatched.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(2);
    // The same two blocked tasks a cycle later are still two, not four.
    measured.runOnce();
    var again = new java.util.HashMap<String, Long>();
    for (var m : metrics.collectAllMetrics()) {
      if (m.getName().equals("stowage.tasks.unmatched")) {
        m.getLongGaugeData()
            .getPoints()
            .forEach(p -> again.put(p.getAttributes().get(CycleMetrics.REASON), p.getValue()));
      }
    }
    assertThat(again).isEqualTo(unmatched);
    var failed = new java.util.TreeMap<String, Long>();
    for (var p : byName.get("stowage.attempts.failed").getLongSumData().getPoints()) {
      failed.put(p.getAttributes().get(CycleMetrics.REASON), p.getValue());
    }
    assertThat(byName.get("stowage.attempts.started").getLongSumData().getPoints())
        .singleElement()
        .satisfies(p -> assertThat(p.getValue()).isEqualTo(1)); // "fits"
    assertThat(byName.get("stowage.attempts.succeeded").getLongSumData().getPoints())
        .singleElement()
        .satisfies(p -> assertThat(p.getValue()).isZero());
    // Every cause from the start, at zero, so that a rate or an alert on one is defined.
    assertThat(failed)
        .isEqualTo(
            Map.of(
                "exit", 0L, "timeout", 0L, "oom", 0L, "lost", 0L, "launch", 0L, "evicted", 0L,
                "staging", 1L, "outputs", 0L));
    var phases = new java.util.HashSet<String>();
    for (var p : byName.get("stowage.cycle.phase.duration").getHistogramData().getPoints()) {
      phases.add(p.getAttributes().get(CycleMetrics.PHASE));
    }
    assertThat(phases)
        .contains(
            "get_resource_offers_from_cluster",
            "get_processable_tasks",
            "match_tasks_to_offers",
            "prepare_payloads",
            "launch");
    assertThat(byName.get("stowage.task.queue.wait").getHistogramData().getPoints())
        .singleElement()
        .satisfies(p -> assertThat(p.getCount()).isEqualTo(2));
    assertThat(byName.get("stowage.cycle.duration").getHistogramData().getPoints())
        .singleElement()
        .satisfies(p -> assertThat(p.getCount()).isEqualTo(1));
  }

  /** A stager whose results the test decides. */
  static final class ScriptedStager implements Stager {
    final List<AttemptId> asked = new ArrayList<>();
    final List<AttemptId> collecting = new ArrayList<>();
    final List<Result> results = new ArrayList<>();
    final List<java.nio.file.Path> discarded = new ArrayList<>();

    @Override
    public void discardPartial(java.nio.file.Path dir) {
      discarded.add(dir);
    }

    @Override
    public void stage(AttemptId attempt, List<StagedInput> inputs, java.nio.file.Path dir) {
      asked.add(attempt);
    }

    @Override
    public void collect(AttemptId attempt, List<StagedOutput> outputs, java.nio.file.Path dir) {
      collecting.add(attempt);
    }

    @Override
    public List<Result> drainResults() {
      var out = List.copyOf(results);
      results.clear();
      return out;
    }

    @Override
    public void onResults(Runnable wakeUp) {}

    @Override
    public void close() {}
  }

  static TaskSpec withInput(String id) {
    return task(id, 1000)
        .withInputs(List.of(new StagedInput("file:///data/" + id, "in/" + id)))
        .withRetry(new RetryPolicy(2, java.time.Duration.ZERO, java.time.Duration.ZERO));
  }

  @Test
  void aStagingCutShortByARestartIsNotAnAttemptAndLeavesNoPartialFiles() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    backend.workRoot = java.nio.file.Path.of("/work");
    var stager = new ScriptedStager();
    var before =
        new SchedulingCycle(
            store, backend, stager, Matcher.fast(), MatchMode.PACK, 100, clock, tracing.get("t"));
    store.submit(
        List.of(task("once", 100).withInputs(List.of(new StagedInput("file:///data/x", "x")))),
        clock.instant());
    before.runOnce();
    assertThat(state("once")).isEqualTo(TaskState.STAGING);

    // The service dies mid-staging; the new one finds no launch of attempt 1.
    var attempt = new AttemptId("once", 1);
    backend.statuses.put(
        attempt, new TaskEvent(attempt, Kind.NOT_LAUNCHED, null, "", Instant.EPOCH));
    var after =
        new SchedulingCycle(
            store, backend, stager, Matcher.fast(), MatchMode.PACK, 100, clock, tracing.get("t"));
    after.reconcile();

    assertThat(stager.discarded).containsExactly(java.nio.file.Path.of("/work/once-1"));
    assertThat(store.get("once").orElseThrow().attempt()).isZero();
    after.runOnce();
    assertThat(stager.asked).containsExactly(attempt, attempt);
    stager.results.add(new Stager.Result(attempt, true, ""));
    after.runOnce();
    backend.report(attempt, Kind.STARTED, null);
    backend.report(attempt, Kind.EXITED, 0);
    after.runOnce();

    StoredTask done = store.get("once").orElseThrow();
    assertThat(done.state()).isEqualTo(TaskState.SUCCEEDED);
    assertThat(done.attempt()).as("one attempt, as its policy allows").isEqualTo(1);
  }

  @Test
  void aTaskWithOutputsSucceedsOnlyOnceTheyAreCopiedOut() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    backend.workRoot = java.nio.file.Path.of("/work");
    var stager = new ScriptedStager();
    var cycle =
        new SchedulingCycle(
            store, backend, stager, Matcher.fast(), MatchMode.PACK, 100, clock, tracing.get("t"));
    var outputs = List.of(new StagedOutput("out", "s3://results/run/"));
    store.submit(
        List.of(
            task("keeps", 100).withOutputs(outputs),
            task("loses", 100)
                .withOutputs(outputs)
                .withRetry(new RetryPolicy(2, Duration.ZERO, Duration.ZERO)),
            task("after-keeps", 100).withDependsOn("keeps")),
        clock.instant());
    cycle.runOnce();
    for (String id : List.of("keeps", "loses")) {
      backend.report(new AttemptId(id, 1), Kind.STARTED, null);
      backend.report(new AttemptId(id, 1), Kind.EXITED, 0);
    }

    cycle.runOnce();

    assertThat(stager.collecting)
        .containsExactlyInAnyOrder(new AttemptId("keeps", 1), new AttemptId("loses", 1));
    assertThat(state("keeps"))
        .as("running while its outputs are copied")
        .isEqualTo(TaskState.RUNNING);
    assertThat(state("after-keeps")).isEqualTo(TaskState.WAITING);

    stager.results.add(
        new Stager.Result(new AttemptId("keeps", 1), true, "", Stager.Phase.OUTPUTS));
    stager.results.add(
        new Stager.Result(
            new AttemptId("loses", 1),
            false,
            "s3://results/run/x: no such bucket",
            Stager.Phase.OUTPUTS));
    cycle.runOnce();

    assertThat(state("keeps")).isEqualTo(TaskState.SUCCEEDED);
    assertThat(state("after-keeps")).as("released, and placed").isEqualTo(TaskState.LAUNCHED);
    assertThat(store.get("loses").orElseThrow().lastError())
        .isEqualTo("collecting outputs failed: s3://results/run/x: no such bucket");
    assertThat(store.get("loses").orElseThrow().attempt()).as("retried").isEqualTo(2);
    SpanData keeps =
        spans.getFinishedSpanItems().stream()
            .filter(sp -> "keeps".equals(sp.getAttributes().get(AttemptSpans.TASK)))
            .findFirst()
            .orElseThrow();
    assertThat(keeps.getEvents())
        .extracting(io.opentelemetry.sdk.trace.data.EventData::getName)
        .containsExactly("launched", "started", "exited", "succeeded");
  }

  @Test
  void aTaskWithInputsIsLaunchedOnlyAfterItsStagingSucceeds() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    backend.workRoot = java.nio.file.Path.of("/work");
    var stager = new ScriptedStager();
    var staging =
        new SchedulingCycle(
            store, backend, stager, Matcher.fast(), MatchMode.PACK, 100, clock, tracing.get("t"));
    store.submit(List.of(withInput("staged"), task("plain", 1000)), clock.instant());

    staging.runOnce();

    assertThat(store.get("staged").orElseThrow().state()).isEqualTo(TaskState.STAGING);
    assertThat(store.get("plain").orElseThrow().state()).isEqualTo(TaskState.LAUNCHED);
    assertThat(stager.asked).containsExactly(new AttemptId("staged", 1));
    assertThat(backend.launched).extracting(l -> l.attempt().taskId()).containsExactly("plain");

    staging.runOnce(); // still copying: nothing changes
    assertThat(store.get("staged").orElseThrow().state()).isEqualTo(TaskState.STAGING);

    stager.results.add(new Stager.Result(new AttemptId("staged", 1), true, ""));
    staging.runOnce();

    assertThat(store.get("staged").orElseThrow().state()).isEqualTo(TaskState.LAUNCHED);
    assertThat(backend.launched)
        .extracting(l -> l.attempt().taskId())
        .containsExactly("plain", "staged");
  }

  @Test
  void failedStagingFailsTheAttemptWithItsReasonAndTheRetryStagesAgain() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    backend.workRoot = java.nio.file.Path.of("/work");
    var stager = new ScriptedStager();
    var staging =
        new SchedulingCycle(
            store, backend, stager, Matcher.fast(), MatchMode.PACK, 100, clock, tracing.get("t"));
    store.submit(List.of(withInput("flaky")), clock.instant());
    staging.runOnce();

    stager.results.add(
        new Stager.Result(new AttemptId("flaky", 1), false, "source file:///data/flaky: gone"));
    staging.runOnce(); // applies the failure, then places attempt 2 at once (no backoff)

    StoredTask t = store.get("flaky").orElseThrow();
    assertThat(t.lastError()).isEqualTo("staging failed: source file:///data/flaky: gone");
    assertThat(t.state()).isEqualTo(TaskState.STAGING);
    assertThat(t.attempt()).isEqualTo(2);
    assertThat(stager.asked).containsExactly(new AttemptId("flaky", 1), new AttemptId("flaky", 2));
    assertThat(backend.launched).isEmpty();
  }

  @Test
  void withoutAStagerATaskWithInputsFailsSayingWhy() {
    backend.free = new Resources(4000, 8192, 100_000, 0);
    store.submit(
        List.of(task("x", 1000).withInputs(List.of(new StagedInput("file:///a", "a")))),
        clock.instant());

    cycle.runOnce();

    StoredTask t = store.get("x").orElseThrow();
    assertThat(t.state()).isEqualTo(TaskState.FAILED);
    assertThat(t.lastError())
        .isEqualTo("the task declares inputs, but this scheduler has no stager");
    assertThat(backend.launched).isEmpty();
  }

  /** A backend whose offers and events the test sets. */
  static final class ScriptedBackend implements ClusterBackend {
    Resources free = Resources.NONE;
    final List<NodeEvent> nodeEvents = new ArrayList<>();
    boolean stagesOnNode;

    @Override
    public boolean stagesOnNode() {
      return stagesOnNode;
    }

    java.nio.file.Path workRoot; // null: cannot receive staged files

    @Override
    public java.util.Optional<java.nio.file.Path> workDirectory(AttemptId attempt) {
      return java.util.Optional.ofNullable(workRoot)
          .map(r -> r.resolve(attempt.taskId() + "-" + attempt.attempt()));
    }

    @Override
    public List<NodeEvent> drainNodeEvents() {
      var out = List.copyOf(nodeEvents);
      nodeEvents.clear();
      return out;
    }

    String throwOn;
    final List<Launch> launched = new ArrayList<>();
    final List<TaskEvent> pending = new ArrayList<>();

    void report(AttemptId id, Kind kind, Integer code) {
      pending.add(new TaskEvent(id, kind, code, kind.name(), Instant.EPOCH));
    }

    @Override
    public List<Offer> offers() {
      long used = launched.stream().mapToLong(l -> l.resources().cpuMillis()).sum();
      return List.of(
          new Offer(
              "node-1",
              "node-1",
              new Resources(
                  Math.max(0, free.cpuMillis() - used),
                  free.memoryMiB(),
                  free.diskMiB(),
                  free.gpus()),
              Map.of()));
    }

    @Override
    public void launch(Launch launch) {
      if (launch.attempt().taskId().equals(throwOn)) {
        throw new IllegalStateException("backend down");
      }
      launched.add(launch);
    }

    final List<AttemptId> killed = new ArrayList<>();

    @Override
    public void kill(AttemptId attempt) {
      killed.add(attempt);
      report(attempt, Kind.KILLED, null);
    }

    @Override
    public List<TaskEvent> drainEvents() {
      var out = List.copyOf(pending);
      pending.clear();
      return out;
    }

    @Override
    public void onEvents(Runnable wakeUp) {}

    final Map<AttemptId, TaskEvent> statuses = new java.util.HashMap<>();
    final Map<AttemptId, String> known = new java.util.HashMap<>();

    @Override
    public Map<AttemptId, String> knownAttempts() {
      return known;
    }

    @Override
    public TaskEvent status(AttemptId attempt) {
      return statuses.getOrDefault(
          attempt, new TaskEvent(attempt, Kind.LOST, null, "scripted", Instant.EPOCH));
    }

    @Override
    public LogSlice log(AttemptId attempt, boolean stderr, long from, int maxBytes) {
      return LogSlice.EMPTY;
    }

    @Override
    public void close() {}
  }

  static final class TestClock extends Clock {
    private Instant now;

    TestClock(Instant now) {
      this.now = now;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
