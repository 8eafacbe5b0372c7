package dev.stowage.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.SchedulingCycleTest.ScriptedBackend;
import dev.stowage.scheduler.SchedulingCycleTest.TestClock;
import dev.stowage.scheduler.TaskEvent.Kind;
import dev.stowage.scheduler.preemption.PriorityClass;
import dev.stowage.scheduler.preemption.PriorityClassStore;
import dev.stowage.scheduler.queues.Queue;
import dev.stowage.scheduler.queues.QueueStore;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Preemption in the cycle, with the store in memory and a scripted backend of one node. */
class PreemptionTest {
  private final TestClock clock = new TestClock(Instant.parse("2026-12-02T12:00:00Z"));
  private final InMemoryTaskStore store = new InMemoryTaskStore();
  private final ScriptedBackend backend = new ScriptedBackend();
  private final QueueStore queues = QueueStore.inMemory();
  private final PriorityClassStore classes = PriorityClassStore.inMemory();
  private SchedulingCycle cycle;

  @BeforeEach
  void setUp() {
    backend.free = new Resources(4000, 8192, 0, 0);
    backend.nodeEvents.add(
        new NodeEvent.Added(new Offer("node-1", "node-1", new Resources(4000, 8192, 0, 0))));
    classes.create(new PriorityClass("urgent", 100, true, true));
    classes.create(new PriorityClass("prod", 50, false, false));
    classes.create(new PriorityClass("reclaim", 0, true, true));
    cycle =
        new SchedulingCycle(
            store,
            backend,
            null,
            Matcher.fast(),
            MatchMode.PACK,
            1000,
            clock,
            OpenTelemetry.noop().getTracer("test"),
            OpenTelemetry.noop().getMeter("test"),
            CrashPoints.NONE,
            queues,
            classes);
  }

  private static TaskSpec task(String id, long cpu) {
    return TaskSpec.of(id, "true").withResources(new Resources(cpu, 0, 0, 0));
  }

  /** One cycle, a minute after the last, so that each placement has its own age. */
  private void cycle() {
    clock.advance(Duration.ofMinutes(1));
    cycle.runOnce();
  }

  /** The killed attempts' processes end: their room is free again. */
  private void killedProcessesEnd() {
    backend.launched.removeIf(l -> backend.killed.contains(l.attempt()));
  }

  private StoredTask get(String id) {
    return store.get(id).orElseThrow();
  }

  @Test
  void aTaskThatFitsNowhereEvictsTheFewestYoungestOfLowerPriorityAndTheirAttemptsDoNotCount() {
    for (int i = 0; i < 4; i++) {
      store.submit(List.of(task("low-" + i, 1000)), clock.instant());
      cycle();
    }
    assertThat(backend.launched).hasSize(4);

    store.submit(
        List.of(task("urgent-1", 2000).withPriority(100).withPriorityClass("urgent")),
        clock.instant());
    cycle();

    assertThat(backend.killed)
        .extracting(AttemptId::toString)
        .containsExactly("low-3#1", "low-2#1");
    StoredTask victim = get("low-3");
    assertThat(victim.state()).isEqualTo(TaskState.QUEUED);
    assertThat(victim.preemptedBy()).isEqualTo("urgent-1");
    assertThat(victim.preemptions()).isEqualTo(1);
    assertThat(victim.attemptsCounted()).isZero();
    assertThat(victim.lastError()).isEqualTo("attempt 1 preempted by urgent-1");
    assertThat(cycle.preempted("urgent-1").orElseThrow().describe())
        .startsWith("preempted low-3, low-2 on node-1 at ");
    assertThat(get("low-0").state()).isEqualTo(TaskState.LAUNCHED);

    // Until the victims' processes have stopped, nothing more is evicted and nothing placed.
    cycle();
    assertThat(backend.killed).hasSize(2);
    killedProcessesEnd();
    cycle();
    assertThat(get("urgent-1").state()).isEqualTo(TaskState.LAUNCHED);
    assertThat(get("low-3").state()).isEqualTo(TaskState.QUEUED);

    // Room again: the victim gets the attempt its one allowed was, and a failure of it is final.
    backend.report(new AttemptId("urgent-1", 1), Kind.EXITED, 0);
    backend.launched.removeIf(l -> l.attempt().taskId().equals("urgent-1"));
    cycle();
    assertThat(get("low-3").attempt()).isEqualTo(2);
    backend.report(new AttemptId("low-3", 2), Kind.EXITED, 1);
    cycle();
    assertThat(get("low-3").state()).isEqualTo(TaskState.FAILED);
  }

  @Test
  void nothingIsEvictedWhenEvictingCannotMakeItFitOrTheRunningTasksAreNotPreemptible() {
    store.submit(
        List.of(task("prod-0", 2000).withPriority(50).withPriorityClass("prod")), clock.instant());
    store.submit(List.of(task("low-0", 2000)), clock.instant());
    cycle();
    store.submit(
        List.of(
            task("too-big", 8000).withPriority(100).withPriorityClass("urgent"),
            task("needs-prod-room", 4000).withPriority(100).withPriorityClass("urgent"),
            // A class that does not preempt never evicts, however high its priority.
            task("patient", 4000).withPriority(1000)),
        clock.instant());
    cycle();
    cycle();

    assertThat(backend.killed).isEmpty();
    assertThat(get("low-0").state()).isEqualTo(TaskState.LAUNCHED);
  }

  @Test
  void aQueueBelowItsFairShareReclaimsItFromOneAboveAndNeitherPreemptsTheOtherBack() {
    queues.create(new Queue("a", 1, null));
    queues.create(new Queue("b", 1, null));
    for (int i = 0; i < 4; i++) {
      store.submit(
          List.of(task("a-" + i, 1000).withQueue("a").withPriorityClass("reclaim")),
          clock.instant());
      cycle();
    }
    store.submit(
        List.of(
            task("b-0", 1000).withQueue("b").withPriorityClass("reclaim"),
            task("b-1", 1000).withQueue("b").withPriorityClass("reclaim"),
            task("b-2", 1000).withQueue("b").withPriorityClass("reclaim")),
        clock.instant());

    // Queue a holds the whole cluster against a fair share of half: b takes back its half, the
    // youngest of a's tasks first, and no more.
    for (int i = 0; i < 12; i++) {
      cycle();
      killedProcessesEnd();
      clock.advance(PreemptForWaiting.COOLDOWN);
    }

    assertThat(backend.killed).extracting(AttemptId::toString).containsExactly("a-3#1", "a-2#1");
    assertThat(
            store.inFlight().stream()
                .collect(
                    java.util.stream.Collectors.groupingBy(
                        t -> t.spec().queue(), java.util.stream.Collectors.counting())))
        .isEqualTo(Map.of("a", 2L, "b", 2L));
    // The evicted tasks of a wait with a's share at its fair share: they preempt nothing back.
    assertThat(get("a-3").state()).isEqualTo(TaskState.QUEUED);
    assertThat(get("b-2").state()).isEqualTo(TaskState.QUEUED);
  }

  @Test
  void aFairShareEvictionNeverTakesAQueueBelowItsShareSoTheOtherCannotTakeItBack() {
    queues.create(new Queue("a", 1, null));
    queues.create(new Queue("b", 1, null));
    store.submit(
        List.of(task("a-small", 1000).withQueue("a").withPriorityClass("reclaim")),
        clock.instant());
    cycle();
    store.submit(
        List.of(task("a-big", 3000).withQueue("a").withPriorityClass("reclaim")), clock.instant());
    cycle();
    store.submit(
        List.of(task("b-0", 1000).withQueue("b").withPriorityClass("reclaim")), clock.instant());

    cycle();

    // a-big is the younger, but evicting it would leave a at a quarter of the cluster, below its
    // half, and b above: a would then reclaim from b, and so on. The older, smaller one goes.
    assertThat(backend.killed).extracting(AttemptId::toString).containsExactly("a-small#1");
    for (int i = 0; i < 6; i++) {
      killedProcessesEnd();
      clock.advance(PreemptForWaiting.COOLDOWN);
      cycle();
    }
    assertThat(backend.killed).hasSize(1);
    assertThat(get("b-0").state()).isEqualTo(TaskState.LAUNCHED);
  }
}
