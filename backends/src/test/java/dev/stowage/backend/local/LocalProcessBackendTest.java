package dev.stowage.backend.local;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.Launch;
import dev.stowage.scheduler.TaskEvent;
import dev.stowage.scheduler.TaskEvent.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real OS processes: exit codes, captured output, timeouts, killing whole trees, restarts. */
class LocalProcessBackendTest {
  @TempDir Path root;
  LocalProcessBackend backend;
  final List<TaskEvent> seen = new ArrayList<>();
  static final Resources NODE = new Resources(4000, 8192, 100_000, 0);

  @BeforeEach
  void start() throws Exception {
    backend = new LocalProcessBackend(root, NODE, "this-machine", Clock.systemUTC());
  }

  @AfterEach
  void stop() {
    backend.close();
  }

  @Test
  void runsAProcessCapturesItsOutputAndReportsItsExitCode() throws Exception {
    var id = new AttemptId("etl/extract", 1);
    backend.launch(
        launch(
            id,
            null,
            Map.of("GREETING", "hello"),
            "sh",
            "-c",
            "echo \"$GREETING from $STOWAGE_TASK_ID#$STOWAGE_ATTEMPT\"; echo oops >&2; exit 3"));

    TaskEvent end = awaitEnd(id);

    assertThat(end.kind()).isEqualTo(Kind.EXITED);
    assertThat(end.exitCode()).isEqualTo(3);
    Path dir = backend.dirOf(id);
    assertThat(dir).isEqualTo(root.resolve("etl/extract/attempt-1"));
    assertThat(Files.readString(dir.resolve("stdout.log"))).isEqualTo("hello from etl/extract#1\n");
    assertThat(Files.readString(dir.resolve("stderr.log"))).isEqualTo("oops\n");
    assertThat(seen).extracting(TaskEvent::kind).startsWith(Kind.STARTED);
  }

  @Test
  void aRunningAttemptHoldsItsResourcesUntilItEnds() throws Exception {
    var id = new AttemptId("holder", 1);
    backend.launch(
        new Launch(
            id,
            "this-machine",
            List.of("sleep", "30"),
            Map.of(),
            new Resources(1500, 2048, 0, 0),
            null));

    assertThat(backend.offers().getFirst().available())
        .isEqualTo(new Resources(2500, 6144, 100_000, 0));
    backend.kill(id);
    assertThat(awaitEnd(id).kind()).isEqualTo(Kind.KILLED);
    assertThat(backend.offers().getFirst().available()).isEqualTo(NODE);
  }

  @Test
  void aTimeoutStopsTheWholeProcessTree() throws Exception {
    var id = new AttemptId("slow", 1);
    Path pids = root.resolve("pids");
    backend.launch(
        launch(
            id,
            Duration.ofMillis(500),
            Map.of(),
            "sh",
            "-c",
            "sleep 60 & echo $! >> " + pids + "; sleep 60 & echo $! >> " + pids + "; wait"));

    TaskEvent end = awaitEnd(id);

    assertThat(end.kind()).isEqualTo(Kind.TIMED_OUT);
    List<Long> children = Files.readAllLines(pids).stream().map(Long::parseLong).toList();
    assertThat(children).hasSize(2);
    for (long pid : children) {
      awaitGone(pid);
    }
  }

  @Test
  void aMissingProgramEndsWithTheShellsNotFoundCode() throws Exception {
    var id = new AttemptId("typo", 1);
    backend.launch(launch(id, null, Map.of(), "no-such-program-stowage"));

    TaskEvent end = awaitEnd(id);

    assertThat(end.kind()).isEqualTo(Kind.EXITED);
    assertThat(end.exitCode()).isEqualTo(127);
    assertThat(Files.readString(backend.dirOf(id).resolve("stderr.log")))
        .contains("no-such-program-stowage");
  }

  @Test
  void aRestartedBackendReconcilesRunningFinishedAndUnknownAttempts() throws Exception {
    var stillRunning = new AttemptId("long", 1);
    var finished = new AttemptId("short", 1);
    backend.launch(launch(stillRunning, null, Map.of(), "sleep", "2"));
    backend.launch(launch(finished, null, Map.of(), "sh", "-c", "exit 7"));
    awaitEnd(finished);
    backend.close(); // the service goes away; its processes do not

    var restarted = new LocalProcessBackend(root, NODE, "this-machine", Clock.systemUTC());
    try {
      assertThat(restarted.status(finished).kind()).isEqualTo(Kind.EXITED);
      assertThat(restarted.status(finished).exitCode()).isEqualTo(7);
      assertThat(restarted.status(new AttemptId("never-launched", 1)).kind())
          .isEqualTo(Kind.NOT_LAUNCHED);
      Path staged = Files.createDirectories(restarted.dirOf(new AttemptId("staged-only", 1)));
      Files.writeString(staged.resolve("input.csv"), "inputs staged, no start tried");
      assertThat(restarted.status(new AttemptId("staged-only", 1)).kind())
          .as("a work directory with staged inputs only")
          .isEqualTo(Kind.NOT_LAUNCHED);
      Path half = Files.createDirectories(restarted.dirOf(new AttemptId("half-launched", 1)));
      Files.writeString(half.resolve("launching"), "");
      assertThat(restarted.status(new AttemptId("half-launched", 1)).kind())
          .as("a start was tried, but there is no process and no exit code")
          .isEqualTo(Kind.LOST);
      assertThat(restarted.status(stillRunning).kind()).isEqualTo(Kind.STARTED);

      backend = restarted;
      TaskEvent end = awaitEnd(stillRunning);
      assertThat(end.kind()).isEqualTo(Kind.EXITED);
      assertThat(end.exitCode()).isZero();
    } finally {
      restarted.close();
    }
  }

  private static Launch launch(
      AttemptId id, Duration timeout, Map<String, String> env, String... command) {
    return new Launch(id, "this-machine", List.of(command), env, Resources.NONE, timeout);
  }

  /** Waits (bounded) for the attempt's final event. */
  private TaskEvent awaitEnd(AttemptId id) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      for (TaskEvent e : backend.drainEvents()) {
        seen.add(e);
      }
      for (TaskEvent e : seen) {
        if (e.attempt().equals(id) && e.kind() != Kind.STARTED) {
          return e;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no end event for " + id + " within 20 s; saw " + seen);
  }

  private static void awaitGone(long pid) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("process " + pid + " still alive");
      }
      Thread.sleep(20);
    }
  }
}
