package dev.stowage.scheduler.queues;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.testing.Draw;
import dev.stowage.testing.PropertyCheck;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class FairShareTest {
  private static final Instant T0 = Instant.parse("2026-12-02T10:00:00Z");
  private static final long[] CLUSTER = {12_000, 48_000, 0, 0};

  private static TaskSpec task(String id, String queue, long cpu) {
    return TaskSpec.of(id, "true").withQueue(queue).withResources(new Resources(cpu, 0, 0, 0));
  }

  private static List<String> take(InMemoryTaskStore store, FairShare turns, int max) {
    return store.processable(max, T0, turns).stream().map(StoredTask::id).toList();
  }

  @Test
  void aQueueOfTwiceTheWeightTakesTwiceAsManyOfTheSameTasks() {
    var store = new InMemoryTaskStore();
    var tasks = new ArrayList<TaskSpec>();
    for (int i = 1; i <= 4; i++) {
      tasks.add(task("a" + i, "a", 1000));
      tasks.add(task("b" + i, "b", 1000));
    }
    store.submit(tasks, T0);
    var turns =
        new FairShare(List.of(new Queue("a", 1, null), new Queue("b", 2, null)), Map.of(), CLUSTER);

    // Both at 0: a first by name; then b (0 < 1/12), b again (1/24 < 1/12), a (tie at 1/12, by
    // name), b, b.
    assertThat(take(store, turns, 6)).containsExactly("a1", "b1", "b2", "a2", "b3", "b4");
  }

  @Test
  void whatAQueueHoldsRunningCountsAgainstItsShare() {
    var store = new InMemoryTaskStore();
    store.submit(List.of(task("a1", "a", 1000), task("b1", "b", 1000), task("b2", "b", 1000)), T0);
    var turns =
        new FairShare(
            List.of(new Queue("a", 1, null), new Queue("b", 1, null)),
            Map.of("a", new Resources(3000, 0, 0, 0)),
            CLUSTER);

    // a holds 3/12 of the CPU already: b takes until it holds as much (2/12 < 3/12 after b2).
    assertThat(take(store, turns, 3)).containsExactly("b1", "b2", "a1");
  }

  @Test
  void theDominantResourceIsTheLargestFractionOfAnyOne() {
    var store = new InMemoryTaskStore();
    // a's task takes 1/12 of the CPU, b's 1/4 of the memory: b's share is the larger.
    store.submit(
        List.of(
            task("a1", "a", 1000),
            task("a2", "a", 1000),
            TaskSpec.of("b1", "true").withQueue("b").withResources(new Resources(0, 12_000, 0, 0)),
            TaskSpec.of("b2", "true").withQueue("b").withResources(new Resources(0, 12_000, 0, 0))),
        T0);
    var turns =
        new FairShare(List.of(new Queue("a", 1, null), new Queue("b", 1, null)), Map.of(), CLUSTER);

    assertThat(take(store, turns, 4)).containsExactly("a1", "b1", "a2", "b2");
  }

  @Test
  void aQueueAtItsLimitTakesNothingMoreAndSaysWhereItStopped() {
    var store = new InMemoryTaskStore();
    store.submit(
        List.of(
            task("a1", "a", 1000),
            task("a2", "a", 1000),
            task("a3", "a", 1000),
            task("a4", "a", 500),
            task("b1", "b", 1000)),
        T0);
    var turns =
        new FairShare(
            List.of(new Queue("a", 1, Map.of("cpuMillis", 3500L)), new Queue("b", 1, null)),
            Map.of("a", new Resources(1000, 0, 0, 0)),
            CLUSTER);

    // a holds 1000 of 3500: a1 and a2 fit, a3 would make 4000. a4 (500) behind it waits too.
    assertThat(take(store, turns, 10)).containsExactlyInAnyOrder("a1", "a2", "b1");
    assertThat(turns.atLimit())
        .containsExactly(new FairShare.AtLimit("a", "a3", "cpuMillis", 3000, 1000, 3500));
    assertThat(turns.atLimit().getFirst().describe())
        .isEqualTo("queue a is at its limit of cpuMillis: 3000 held + 1000 asked > 3500");
  }

  @Test
  void priorityOrdersTasksWithinAQueue() {
    var store = new InMemoryTaskStore();
    store.submit(
        List.of(
            task("low", "a", 1000), task("high", "a", 1000).withPriority(5), task("b1", "b", 1000)),
        T0);
    var turns =
        new FairShare(List.of(new Queue("a", 1, null), new Queue("b", 1, null)), Map.of(), CLUSTER);

    assertThat(take(store, turns, 3)).containsExactly("high", "b1", "low");
  }

  @Test
  void aTaskInAQueueNoLongerConfiguredWeighsOneUnlimited() {
    var store = new InMemoryTaskStore();
    store.submit(List.of(task("gone1", "gone", 1000), task("gone2", "gone", 1000)), T0);
    var turns = new FairShare(List.of(Queue.DEFAULT), Map.of(), CLUSTER);

    assertThat(take(store, turns, 5)).containsExactly("gone1", "gone2");
  }

  @Test
  void aTurnOutOfOrderIsRefused() {
    var turns =
        new FairShare(List.of(new Queue("a", 1, null), new Queue("b", 1, null)), Map.of(), CLUSTER);
    turns.start(List.of("a", "b"));

    assertThat(turns.next()).isZero();
    assertThatThrownBy(() -> turns.drained(1))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("queue 1 does not have the turn");
  }

  @Test
  void aQueueIsRefusedWithEveryProblemNamed() {
    assertThat(Queue.problems("Team A", 0, Map.of("cpus", 1L, "gpus", -1L)))
        .containsExactly(
            "name: must be 1-63 lowercase letters, digits or '-', starting and ending with a"
                + " letter or digit, got \"Team A\"",
            "weight: must be a number in (0, 1000000], got 0.0",
            "limits.cpus: not a resource (cpuMillis, memoryMiB, diskMiB, gpus)",
            "limits.gpus: must be an integer in [0, 2^53], got -1");
  }

  /** Queues, what they hold, the cluster, and the tasks waiting: one state of the order stage. */
  record Case(
      List<Queue> queues,
      Map<String, Resources> running,
      List<Long> capacity,
      List<TaskSpec> tasks,
      int max) {}

  private static final List<String> NAMES = List.of("a", "b", "c", "d", "unconfigured");

  private static Resources amounts(Draw d) {
    return new Resources(
        d.between(0L, 8L) * 500,
        d.between(0L, 4L) * 1024,
        d.between(0L, 2L) * 100,
        d.between(0L, 1L));
  }

  private static Case draw(Draw d) {
    var queues = new ArrayList<Queue>();
    var running = new TreeMap<String, Resources>();
    for (String name : NAMES.subList(0, 4)) {
      if (d.chance(0.8)) {
        Map<String, Long> limits = new TreeMap<>();
        if (d.chance(0.3)) {
          limits.put("cpuMillis", d.between(0L, 20L) * 500);
        }
        if (d.chance(0.2)) {
          limits.put("gpus", d.between(0L, 3L));
        }
        queues.add(new Queue(name, d.oneOf(0.5, 1.0, 1.0, 2.0, 3.0), limits));
      }
      if (d.chance(0.5)) {
        running.put(name, amounts(d));
      }
    }
    List<Long> capacity =
        List.of(
            d.between(0L, 40L) * 1000,
            d.between(0L, 64L) * 1024,
            d.between(0L, 10L) * 1000,
            d.between(0L, 4L));
    var tasks = new ArrayList<TaskSpec>();
    int n = d.between(1, 40);
    for (int i = 0; i < n; i++) {
      tasks.add(
          TaskSpec.of("t" + i, "true")
              .withQueue(d.oneOf(NAMES))
              .withPriority(d.between(0, 2))
              .withResources(amounts(d)));
    }
    return new Case(queues, running, capacity, tasks, d.between(0, 45));
  }

  @Test
  void theHeapOrderIsTheObviousLoopsOrder() {
    PropertyCheck.forAll(
        500,
        FairShareTest::draw,
        c -> {
          var store = new InMemoryTaskStore();
          store.submit(c.tasks(), T0);
          long[] capacity = c.capacity().stream().mapToLong(Long::longValue).toArray();
          var fast =
              store.processable(c.max(), T0, new FairShare(c.queues(), c.running(), capacity));
          var byQueue = new TreeMap<String, List<StoredTask>>();
          for (StoredTask t : store.processable(Integer.MAX_VALUE, T0)) {
            byQueue.computeIfAbsent(t.spec().queue(), q -> new ArrayList<>()).add(t);
          }
          var reference =
              FairShareReference.order(c.queues(), c.running(), capacity, byQueue, c.max());
          assertThat(fast.stream().map(StoredTask::id).toList())
              .isEqualTo(reference.stream().map(StoredTask::id).toList());
        });
  }
}
