package dev.stowage.backend.sim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The cycle over a simulated cluster on a simulated clock: capacity is held while tasks run. */
class SimulatedClusterTest {

  static final class SimClock extends Clock {
    Instant now = Instant.parse("2026-11-25T00:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  @Test
  void tasksRunForTheirDeclaredDurationAndFreeTheirNodes() {
    var clock = new SimClock();
    var nodes = new ArrayList<SimulatedCluster.Node>();
    for (int i = 0; i < 3; i++) {
      nodes.add(
          new SimulatedCluster.Node(
              "n" + i, new Resources(2000, 4096, 10_000, 0), Map.of("zone", "a")));
    }
    var cluster = new SimulatedCluster(nodes, clock);
    var store = new InMemoryTaskStore();
    var cycle =
        new SchedulingCycle(
            store,
            cluster,
            Matcher.fast(),
            MatchMode.PACK,
            1000,
            clock,
            OpenTelemetry.noop().getTracer("t"));
    var tasks = new ArrayList<TaskSpec>();
    for (int i = 0; i < 12; i++) {
      tasks.add(
          TaskSpec.of("t" + i, "sim")
              .withResources(new Resources(1000, 1024, 100, 0))
              .withEnv(Map.of("STOWAGE_SIM_DURATION_MS", "60000")));
    }
    store.submit(tasks, clock.instant());

    cycle.runOnce();
    assertThat(cluster.runningCount()).as("3 nodes x 2 tasks of 1 core").isEqualTo(6);
    assertThat(store.list(TaskState.QUEUED, null, 100)).hasSize(6);

    clock.now = clock.now.plus(Duration.ofSeconds(60));
    cycle.runOnce(); // the first six exit, the other six start
    assertThat(store.list(TaskState.SUCCEEDED, null, 100)).hasSize(6);
    assertThat(cluster.runningCount()).isEqualTo(6);

    clock.now = clock.now.plus(Duration.ofSeconds(60));
    cycle.runOnce();
    assertThat(store.list(TaskState.SUCCEEDED, null, 100)).hasSize(12);
    assertThat(cluster.offers())
        .allSatisfy(o -> assertThat(o.available()).isEqualTo(new Resources(2000, 4096, 10_000, 0)));
  }

  @Test
  void aSecondLaunchOfAnAttemptHoldsNothingMoreAndSaysWhatBecameOfTheFirst() {
    var clock = new SimClock();
    var cluster =
        new SimulatedCluster(
            java.util.List.of(
                new SimulatedCluster.Node("n0", new Resources(2000, 4096, 10_000, 0), Map.of())),
            clock);
    var id = new dev.stowage.scheduler.AttemptId("t", 1);
    var launch =
        new dev.stowage.scheduler.Launch(
            id,
            "n0",
            java.util.List.of("sim"),
            Map.of("STOWAGE_SIM_DURATION_MS", "60000"),
            new Resources(1500, 1024, 100, 0),
            null);
    cluster.launch(launch);
    cluster.launch(launch);
    assertThat(cluster.runningCount()).isEqualTo(1);
    assertThat(cluster.offers().getFirst().available().cpuMillis()).isEqualTo(500);
    assertThat(cluster.drainEvents())
        .extracting(e -> e.kind().name() + " " + e.message())
        .containsExactly("STARTED started", "STARTED launched before: running");
  }
}
