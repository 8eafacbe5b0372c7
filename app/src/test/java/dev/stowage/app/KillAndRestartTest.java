package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.scheduler.CrashPoints;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The service in its own JVM, killed with SIGKILL while a task runs, then started again on the same
 * data directory: no task is lost and none runs twice, wherever in a cycle the kill lands.
 */
class KillAndRestartTest {
  @TempDir Path tmp;

  @Test
  void aServiceKilledMidTaskLosesNothingAndLaunchesNothingTwice() throws Exception {
    Path data = tmp.resolve("data");
    Path runs = runsFile();
    int port = freePort();
    String url = "http://127.0.0.1:" + port;
    Path dag = tmp.resolve("dag.json");
    Files.writeString(
        dag,
        """
        {"tasks": [
          {"id": "slow", "command": ["sh", "-c", "echo slow-start >> %s; sleep 4; echo slow-end >> %s"]},
          {"id": "after", "command": ["sh", "-c", "echo after >> %s"], "dependsOn": ["slow"]}
        ]}
        """
            .formatted(runs, runs, runs));

    Process first = service(data, port);
    Process second = null;
    try {
      awaitHealthy(url, first, data);
      assertThat(cli(data, "submit", dag.toString(), "--url", url).exit()).isZero();
      awaitRunsContain(runs, "slow-start");

      first.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL, mid-task

      second = service(data, port);
      awaitHealthy(url, second, data);
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (!cli(data, "status", "after", "--url", url).out().startsWith("after: succeeded")) {
        assertThat(System.nanoTime()).as("'after' succeeds after the restart").isLessThan(deadline);
        Thread.sleep(200);
      }

      assertThat(Files.readAllLines(runs)).containsExactly("slow-start", "slow-end", "after");
      String slow = cli(data, "status", "slow", "--url", url).out();
      assertThat(slow).startsWith("slow: succeeded (attempt 1 of 1)");
      // Its one attempt, kept by the store across the kill.
      assertThat(slow.lines().skip(1).findFirst())
          .get()
          .asString()
          .matches("  attempt 1 on local: placed \\S+Z, .*succeeded \\+\\d+ (ms|s)");
    } finally {
      first.destroyForcibly();
      if (second != null) {
        second.destroy(); // SIGTERM: a clean shutdown stops its PostgreSQL
        second.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Killed at each step of a cycle (the service sends itself SIGKILL there), then started again:
   * each of the DAG's tasks runs exactly once and succeeds in its one allowed attempt.
   */
  @ParameterizedTest
  @EnumSource(CrashPoints.Point.class)
  void aServiceKilledAtAnyStepOfACycleEndsEveryTaskExactlyOnce(CrashPoints.Point point)
      throws Exception {
    Path data = tmp.resolve("data");
    Path runs = runsFile();
    int port = freePort();
    String url = "http://127.0.0.1:" + port;
    var ids = List.of("a", "b", "c", "d", "ab", "abcd");
    String task = "{\"id\": \"%s\", \"command\": [\"sh\", \"-c\", \"echo %s >> %s\"]%s}";
    Path dag = tmp.resolve("dag.json");
    Files.writeString(
        dag,
        "{\"tasks\": ["
            + String.join(
                ",\n",
                task.formatted("a", "a", runs, ""),
                task.formatted("b", "b", runs, ""),
                task.formatted("c", "c", runs, ""),
                task.formatted("d", "d", runs, ""),
                task.formatted("ab", "ab", runs, ", \"dependsOn\": [\"a\", \"b\"]"),
                task.formatted("abcd", "abcd", runs, ", \"dependsOn\": [\"ab\", \"c\", \"d\"]"))
            + "]}");

    Process first = service(data, port, point);
    Process second = null;
    try {
      awaitHealthy(url, first, data);
      // The cycle the submit wakes may reach the crash point before the submit is answered: then
      // the client has no answer, and does what a client does, submits again after the restart.
      MainTest.Run submitted = cli(data, "submit", dag.toString(), "--url", url);
      assertThat(first.waitFor(60, TimeUnit.SECONDS)).as("killed at " + point.label()).isTrue();
      assertThat(first.exitValue()).as("the exit of a SIGKILL").isEqualTo(137);

      second = service(data, port, null);
      awaitHealthy(url, second, data);
      submitAgainIfUnanswered(submitted, data, dag, url);
      awaitSucceeded(data, url, ids);
      for (String id : ids) {
        assertThat(cli(data, "status", id, "--url", url).out())
            .startsWith(id + ": succeeded (attempt 1 of 1)");
      }
      assertThat(Files.readAllLines(runs)).containsExactlyInAnyOrderElementsOf(ids);
    } finally {
      first.destroyForcibly();
      if (second != null) {
        second.destroy();
        second.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  /** The file the tasks append to, in a directory they can write to (as nobody, under root). */
  private Path runsFile() throws java.io.IOException {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path shared = Files.createDirectories(tmp.resolve("shared"));
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
    return shared.resolve("runs.txt");
  }

  /**
   * A submit the killed service never answered is submitted again, as a client would: stored before
   * the kill, the batch is refused whole as already stored; else it is stored now.
   */
  static void submitAgainIfUnanswered(MainTest.Run submitted, Path data, Path dag, String url) {
    if (submitted.exit() != 0) {
      MainTest.Run again = cli(data, "submit", dag.toString(), "--url", url);
      assertThat(again.exit() == 0 || again.err().contains("already"))
          .as("submitted again: %s%s", again.out(), again.err())
          .isTrue();
    }
  }

  /** Waits, 60 s at most, for every task to succeed after the restart. */
  static void awaitSucceeded(Path data, String url, List<String> ids) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    for (String id : ids) {
      while (!cli(data, "status", id, "--url", url).out().startsWith(id + ": succeeded")) {
        assertThat(System.nanoTime())
            .as("'%s' succeeds after the restart", id)
            .isLessThan(deadline);
        Thread.sleep(200);
      }
    }
  }

  static int freePort() throws java.io.IOException {
    try (var socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static Process service(Path data, int port) throws Exception {
    return service(data, port, null);
  }

  private static Process service(Path data, int port, CrashPoints.Point crashAt) throws Exception {
    return service(
        data, port, crashAt == null ? Map.of() : Map.of("STOWAGE_CRASH_AT", crashAt.label()));
  }

  /** The real service in a JVM of its own, with these variables and further options to up. */
  static Process service(Path data, int port, Map<String, String> env, String... options)
      throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    var command =
        new java.util.ArrayList<>(
            List.of(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "up",
                "--data-dir",
                data.toString(),
                "--port",
                Integer.toString(port)));
    command.addAll(List.of(options));
    var builder =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(data.resolveSibling("service-" + System.nanoTime() + ".log").toFile());
    builder.environment().putAll(env);
    return builder.start();
  }

  /** A command against the service, with the admin token it wrote in its data directory. */
  static MainTest.Run cli(Path data, String... args) {
    var all = new java.util.ArrayList<>(List.of(args));
    all.add("--token-file");
    all.add(data.resolve("admin.token").toString());
    return MainTest.run(all.toArray(String[]::new));
  }

  static void awaitHealthy(String url, Process service, Path data) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      assertThat(service.isAlive())
          .as(() -> "the service is running; its output ends:\n" + lastOutput(data))
          .isTrue();
      var r =
          Files.exists(data.resolve("admin.token"))
              ? cli(data, "status", "health-probe", "--url", url)
              : MainTest.run("status", "health-probe", "--url", url);
      if (r.err().contains("no task with id")) {
        return; // the API answers
      }
      assertThat(System.nanoTime()).as("the service answers within 60 s").isLessThan(deadline);
      Thread.sleep(200);
    }
  }

  /** The last lines the newest service started on {@code data} wrote, for a failure's message. */
  static String lastOutput(Path data) {
    try (var logs = Files.list(data.getParent())) {
      var newest =
          logs.filter(f -> f.getFileName().toString().startsWith("service-"))
              .max(java.util.Comparator.comparing(Path::getFileName));
      if (newest.isEmpty()) {
        return "(no output)";
      }
      var lines = Files.readAllLines(newest.get());
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (java.io.IOException e) {
      return "(unreadable: " + e.getMessage() + ")";
    }
  }

  private static void awaitRunsContain(Path runs, String line) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!Files.exists(runs) || !Files.readAllLines(runs).contains(line)) {
      assertThat(System.nanoTime()).as(runs + " gets " + line).isLessThan(deadline);
      Thread.sleep(100);
    }
  }
}
