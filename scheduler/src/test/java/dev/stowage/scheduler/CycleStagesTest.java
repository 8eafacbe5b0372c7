package dev.stowage.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.Assignment;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Rejection;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.TaskEvent.Kind;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.SpanContext;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Each stage of the cycle alone, with the in-memory store and a scripted backend. */
class CycleStagesTest {
  final SchedulingCycleTest.TestClock clock =
      new SchedulingCycleTest.TestClock(Instant.parse("2026-12-02T05:00:00Z"));
  final InMemoryTaskStore store = new InMemoryTaskStore();
  final SchedulingCycleTest.ScriptedBackend backend = new SchedulingCycleTest.ScriptedBackend();
  final ClusterNodes nodes = new ClusterNodes();
  final CycleMetrics metrics =
      new CycleMetrics(OpenTelemetry.noop().getMeter("dev.stowage.scheduler"));
  final AttemptSpans spans = new AttemptSpans(OpenTelemetry.noop().getTracer("test"));
  final AttemptEnds ends = new AttemptEnds(store, metrics, spans);
  final CycleParts parts = parts(backend);
  final StagingHandOff handOff = new StagingHandOff(parts, null);
  final ApplyEvents events = new ApplyEvents(parts, nodes, handOff);

  private CycleParts parts(ClusterBackend on) {
    return new CycleParts(store, on, spans, ends, metrics, CrashPoints.NONE, clock);
  }

  private static Offer node(String name, long cpu, Map<String, String> attributes) {
    return new Offer(name, name, new Resources(cpu, 8192, 100_000, 0), attributes);
  }

  private static TaskSpec task(String id, long cpu) {
    return TaskSpec.of(id, "true").withResources(new Resources(cpu, 0, 0, 0));
  }

  /** Submits, places on {@code node} and launches; returns the attempt. */
  private AttemptId launched(TaskSpec spec, String node) {
    store.submit(List.of(spec), clock.instant());
    int attempt = store.assign(spec.id(), node, clock.instant());
    store.transition(spec.id(), TaskState.ASSIGNED, TaskState.LAUNCHED, clock.instant());
    return new AttemptId(spec.id(), attempt);
  }

  @Test
  void applyEventsKeepsTheNodesAndLosesTheAttemptsOfANodeThatLeft() {
    backend.nodeEvents.add(new NodeEvent.Added(node("a", 4000, Map.of("zone", "z1"))));
    backend.nodeEvents.add(new NodeEvent.Added(node("b", 4000, Map.of())));
    assertThat(events.apply()).isEqualTo(2);
    List<Offer> two = nodes.capacities();
    assertThat(two).extracting(Offer::name).containsExactly("a", "b");

    // An unchanged node reported again changes nothing, not even the snapshot's instance.
    backend.nodeEvents.add(new NodeEvent.Changed(node("a", 4000, Map.of("zone", "z1"))));
    assertThat(events.apply()).isZero();
    assertThat(nodes.capacities()).isSameAs(two);

    var onA =
        launched(
            task("on-a", 1000).withRetry(new RetryPolicy(2, Duration.ZERO, Duration.ZERO)), "a");
    var onB = launched(task("on-b", 1000), "b");
    backend.nodeEvents.add(new NodeEvent.Removed("a", "deleted"));
    events.apply();

    assertThat(nodes.capacities()).extracting(Offer::name).containsExactly("b");
    StoredTask lost = store.get(onA.taskId()).orElseThrow();
    assertThat(lost.state()).isEqualTo(TaskState.QUEUED); // retried: it had an attempt left
    assertThat(lost.lastError()).isEqualTo("lost: its node a left the cluster (deleted)");
    assertThat(store.get(onB.taskId()).orElseThrow().state()).isEqualTo(TaskState.LAUNCHED);

    // What the backend still held of it was stopped (its KILLED news is stale, and ignored).
    assertThat(backend.killed).containsExactly(onA);
    // The backend's own news of the lost attempt, arriving later, changes nothing more.
    backend.report(onA, Kind.LOST, null);
    assertThat(events.apply()).isZero();
    assertThat(store.get(onA.taskId()).orElseThrow().state()).isEqualTo(TaskState.QUEUED);
  }

  @Test
  void anEvictedAttemptFailsWithItsCauseAndIsRetried() {
    var a =
        launched(
            task("evicted", 1000).withRetry(new RetryPolicy(2, Duration.ZERO, Duration.ZERO)), "a");
    backend.pending.add(
        new TaskEvent(a, Kind.EVICTED, null, "the node was low on memory", clock.instant()));

    assertThat(events.apply()).isEqualTo(1);

    StoredTask t = store.get("evicted").orElseThrow();
    assertThat(t.state()).isEqualTo(TaskState.QUEUED);
    assertThat(t.lastError()).isEqualTo("evicted from its node: the node was low on memory");
  }

  @Test
  void gatherOffersReturnsAFlaggedTaskToTheQueueOnceANodeCanHostIt() {
    var offers = new GatherOffers(backend, store, nodes);
    var big = task("big", 8000);
    store.submit(
        List.of(big),
        Feasibility.neverSchedulable(List.of(big), List.of(node("a", 4000, Map.of()))),
        clock.instant());
    nodes.apply(List.of(new NodeEvent.Added(node("a", 4000, Map.of()))));
    offers.offers();
    assertThat(store.get("big").orElseThrow().neverSchedulable()).isNotNull();

    nodes.apply(List.of(new NodeEvent.Added(node("b", 16_000, Map.of()))));
    offers.offers();
    assertThat(store.get("big").orElseThrow().neverSchedulable()).isNull();
  }

  @Test
  void orderTakesQueuedTasksByPriorityThenSubmission() {
    store.submit(
        List.of(task("first", 1), task("urgent", 1).withPriority(5), task("second", 1)),
        clock.instant());

    assertThat(OrderTasks.byPriority(store).take(10, clock.instant()))
        .extracting(StoredTask::id)
        .containsExactly("urgent", "first", "second");
    assertThat(OrderTasks.byPriority(store).take(1, clock.instant()))
        .extracting(StoredTask::id)
        .containsExactly("urgent");
  }

  @Test
  void matchKeepsTypedReasonsForWhatItLeftUnplaced() {
    var match = new MatchTasks(Matcher.fast(), MatchMode.PACK, clock);
    store.submit(
        List.of(task("fits", 1000), task("too-big", 6000).withConstraints(Map.of("zone", "z2"))),
        clock.instant());
    var tasks = store.processable(10, clock.instant());

    var result = match.match(tasks, List.of(node("a", 4000, Map.of("zone", "z1"))));

    assertThat(result.assignments()).extracting(Assignment::task).containsExactly("fits");
    var why = match.lastExplanation(store.get("too-big").orElseThrow()).orElseThrow().getValue();
    assertThat(why.fitting()).isZero();
    assertThat(why.rejections())
        .extracting(Rejection.Count::reason)
        .containsExactly(new Rejection.Constraint("zone", "z2"));
  }

  @Test
  void payloadsRecordPlacementsAndCarryTheDataForABackendThatStagesOnItsNode() {
    var onNode = new SchedulingCycleTest.ScriptedBackend();
    onNode.stagesOnNode = true;
    var payloads = new PreparePayloads(parts(onNode), new StagingHandOff(parts(onNode), null));
    var input = new StagedInput("s3://bucket/in.csv", "in.csv");
    var output = new StagedOutput("out.csv", "s3://bucket/out.csv");
    store.submit(
        List.of(task("etl", 1000).withInputs(List.of(input)).withOutputs(List.of(output))),
        clock.instant());
    var tasks = store.processable(10, clock.instant());

    var launches =
        payloads.prepare(tasks, List.of(new Assignment("etl", "a")), SpanContext.getInvalid());

    assertThat(launches)
        .singleElement()
        .satisfies(
            l -> {
              assertThat(l.attempt()).isEqualTo(new AttemptId("etl", 1));
              assertThat(l.offer()).isEqualTo("a");
              assertThat(l.inputs()).containsExactly(input);
              assertThat(l.outputs()).containsExactly(output);
            });
    // No stager here, and none needed: the task was not failed, it waits for its launch.
    assertThat(store.get("etl").orElseThrow().state()).isEqualTo(TaskState.ASSIGNED);
  }

  @Test
  void aZeroExitOfABackendThatStagesOnItsNodeMeansTheOutputsAreOut() {
    var onNode = new SchedulingCycleTest.ScriptedBackend();
    onNode.stagesOnNode = true;
    var stage = new ApplyEvents(parts(onNode), nodes, new StagingHandOff(parts(onNode), null));
    var a =
        launched(
            task("etl", 1000).withOutputs(List.of(new StagedOutput("out.csv", "s3://b/out.csv"))),
            "a");
    onNode.report(a, Kind.EXITED, 0);

    assertThat(stage.apply()).isEqualTo(1);

    assertThat(store.get("etl").orElseThrow().state()).isEqualTo(TaskState.SUCCEEDED);
  }

  @Test
  void launchFailsOnlyTheAttemptWhoseLaunchThrew() {
    var launch = new LaunchAttempts(parts, handOff);
    store.submit(List.of(task("ok", 1), task("broken", 1)), clock.instant());
    var prepared =
        List.of("ok", "broken").stream()
            .map(
                id ->
                    new Launch(
                        new AttemptId(id, store.assign(id, "a", clock.instant())),
                        "a",
                        List.of("true"),
                        Map.of(),
                        Resources.NONE,
                        null))
            .toList();
    backend.throwOn = "broken";

    assertThat(launch.launch(prepared)).isEqualTo(1);

    assertThat(store.get("ok").orElseThrow().state()).isEqualTo(TaskState.LAUNCHED);
    StoredTask broken = store.get("broken").orElseThrow();
    assertThat(broken.state()).isEqualTo(TaskState.FAILED);
    assertThat(broken.lastError()).isEqualTo("launch failed: backend down");
  }

  @Test
  void reconcileQueuesAnAttemptTheBackendNeverStartedWithoutCountingAFailure() {
    var reconcile = new Reconcile(parts, handOff);
    store.submit(List.of(task("placed", 1)), clock.instant());
    int attempt = store.assign("placed", "a", clock.instant());
    var id = new AttemptId("placed", attempt);
    backend.statuses.put(id, new TaskEvent(id, Kind.NOT_LAUNCHED, null, "no trace", null));

    assertThat(reconcile.reconcile()).isEqualTo(1);

    StoredTask t = store.get("placed").orElseThrow();
    assertThat(t.state()).isEqualTo(TaskState.QUEUED);
    assertThat(t.lastError()).isNull();
  }
}
