package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.backend.local.LocalProcessBackend;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import dev.stowage.store.Database;
import dev.stowage.store.EmbeddedPostgres;
import dev.stowage.store.PostgresTaskStore;
import io.opentelemetry.api.OpenTelemetry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pieces together for real: PostgreSQL, OS processes, the engine, the cycle. */
class CycleIntegrationTest {
  @TempDir Path tmp;

  @Test
  void aDagRunsToTheEndOnThisMachine() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path out = tmp.resolve("out.txt");
    try (var pg = EmbeddedPostgres.start(tmp.resolve("pgdata"));
        var db = Database.open(pg);
        var backend =
            new LocalProcessBackend(
                tmp.resolve("work"),
                new Resources(2000, 1024, 10_000, 0),
                "this-machine",
                Clock.systemUTC())) {
      var store = new PostgresTaskStore(db.dataSource());
      var cycle =
          new SchedulingCycle(
              store,
              backend,
              Matcher.fast(),
              MatchMode.PACK,
              100,
              Clock.systemUTC(),
              OpenTelemetry.noop().getTracer("test"));
      store.submit(
          List.of(
              shell("extract", "echo extracted >> " + out),
              shell("transform", "echo transformed >> " + out).withDependsOn("extract"),
              shell("load", "echo loaded >> " + out).withDependsOn("transform"),
              shell("broken", "exit 4"),
              shell("after-broken", "echo never >> " + out).withDependsOn("broken")),
          Clock.systemUTC().instant());

      Set<TaskState> ends =
          Set.of(TaskState.SUCCEEDED, TaskState.FAILED, TaskState.UPSTREAM_FAILED);
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      List<String> ids = List.of("extract", "transform", "load", "broken", "after-broken");
      while (!ids.stream().allMatch(id -> ends.contains(store.get(id).orElseThrow().state()))) {
        assertThat(System.nanoTime()).as("all tasks end within 30 s").isLessThan(deadline);
        cycle.runOnce();
        Thread.sleep(50);
      }

      assertThat(ids.stream().map(id -> store.get(id).orElseThrow().state()))
          .containsExactly(
              TaskState.SUCCEEDED,
              TaskState.SUCCEEDED,
              TaskState.SUCCEEDED,
              TaskState.FAILED,
              TaskState.UPSTREAM_FAILED);
      assertThat(Files.readAllLines(out)).containsExactly("extracted", "transformed", "loaded");
      assertThat(backend.dirOf(new AttemptId("broken", 1)).resolve("exit_code")).hasContent("4");
    }
  }

  private static TaskSpec shell(String id, String script) {
    return TaskSpec.of(id, "sh", "-c", script).withResources(new Resources(500, 64, 10, 0));
  }
}
