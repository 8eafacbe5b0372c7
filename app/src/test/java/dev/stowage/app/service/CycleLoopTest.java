package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TaskStore;
import io.opentelemetry.api.OpenTelemetry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class CycleLoopTest {
  static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-26T08:00:00Z"), ZoneOffset.UTC);

  /** A simulated cluster of one node, "n1", of this capacity. */
  private static SimulatedCluster oneNode(Resources capacity) {
    return new SimulatedCluster(
        List.of(new SimulatedCluster.Node("n1", capacity, Map.of())), CLOCK);
  }

  /** A cycle over {@code store} and {@code cluster}, packing, untraced. */
  private static SchedulingCycle cycle(
      TaskStore store, SimulatedCluster cluster, int maxTasksPerCycle) {
    return new SchedulingCycle(
        store,
        cluster,
        Matcher.fast(),
        MatchMode.PACK,
        maxTasksPerCycle,
        CLOCK,
        OpenTelemetry.noop().getTracer("test"));
  }

  @Test
  void afterACycleFailsBetweenLaunchAndItsWriteTheLoopSettlesTheAttemptWithoutLaunchingAgain()
      throws Exception {
    var real = new InMemoryTaskStore();
    var storeDown = new AtomicBoolean(false);
    // The store fails the write that records launches, after the backend has started them.
    TaskStore store =
        (TaskStore)
            Proxy.newProxyInstance(
                TaskStore.class.getClassLoader(),
                new Class<?>[] {TaskStore.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("transitionAll")
                      && args[1] == TaskState.ASSIGNED
                      && storeDown.getAndSet(false)) {
                    throw new IllegalStateException("connection to the database lost");
                  }
                  try {
                    return method.invoke(real, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    var cluster = oneNode(new Resources(4000, 8192, 0, 0));
    var cycle = cycle(store, cluster, 100);
    storeDown.set(true);
    real.submit(
        List.of(
            TaskSpec.of("long", "sim")
                .withResources(new Resources(1000, 512, 0, 0))
                .withEnv(Map.of("STOWAGE_SIM_DURATION_MS", "3600000"))),
        CLOCK.instant());

    try (var loop = new CycleLoop(cycle, Duration.ofMillis(20))) {
      loop.wakeUp();
      StoredTask settled = await(real, "long", t -> t.state() == TaskState.RUNNING);

      assertThat(storeDown).isFalse(); // the failure did happen
      assertThat(settled.attempt()).isEqualTo(1);
      assertThat(cluster.runningCount()).isEqualTo(1);
    }
  }

  @Test
  void itCountsTheCyclesStartedSinceAMoment() throws Exception {
    var store = new InMemoryTaskStore();
    var cycle = cycle(store, oneNode(new Resources(1000, 1024, 0, 0)), 10);
    var ticking = new java.util.concurrent.atomic.AtomicLong();
    // Each cycle starts one second after the last, on a clock the test controls.
    var clock =
        new Clock() {
          @Override
          public ZoneOffset getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(java.time.ZoneId zone) {
            return this;
          }

          @Override
          public Instant instant() {
            return CLOCK.instant().plusSeconds(ticking.getAndIncrement());
          }
        };
    try (var loop = new CycleLoop(cycle, Duration.ofMillis(5), clock)) {
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (loop.cycles() < 5 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      loop.close();
      long total = loop.cycles();
      assertThat(total).isGreaterThanOrEqualTo(5);
      assertThat(loop.cyclesSince(CLOCK.instant())).isEqualTo(total);
      assertThat(loop.cyclesSince(CLOCK.instant().plusSeconds(2))).isEqualTo(total - 2);
      assertThat(loop.cyclesSince(CLOCK.instant().plusSeconds(1_000_000))).isZero();
    }
  }

  private static StoredTask await(TaskStore store, String id, Predicate<StoredTask> condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    StoredTask t = store.get(id).orElseThrow();
    while (!condition.test(t) && System.nanoTime() < deadline) {
      Thread.sleep(10);
      t = store.get(id).orElseThrow();
    }
    assertThat(condition).as("task %s in state %s", id, t.state()).accepts(t);
    return t;
  }
}
