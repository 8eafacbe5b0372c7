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
    assertThat(dir)
        .isEqualTo(
            root.resolve("etl_extract-" + LocalProcessBackend.keyOf("etl/extract").substring(12))
                .resolve("attempt-1"));
    assertThat(dir.getParent().resolve("task-id")).hasContent("etl/extract\n");
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
  void aMissingProgramFailsTheLaunchNamingIt() throws Exception {
    var id = new AttemptId("typo", 1);
    backend.launch(launch(id, null, Map.of(), "no-such-program-stowage"));

    TaskEvent end = awaitEnd(id);

    assertThat(end.kind()).isEqualTo(Kind.LAUNCH_FAILED);
    assertThat(end.message())
        .startsWith("'no-such-program-stowage' is not a program on the task's PATH");
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

  @Test
  void aTaskGetsACleanEnvironmentWithOnlyThePassedVariablesOfTheService() throws Exception {
    var service =
        Map.of(
            "PATH", System.getenv("PATH"),
            "AWS_SECRET_ACCESS_KEY", "service-secret",
            "PGPASSWORD", "db-secret",
            "SHARED_CONFIG", "for-tasks");
    restart(root, new TaskIsolation(List.of("SHARED_CONFIG"), service::get, null, false));
    var id = new AttemptId("env/probe", 1);
    backend.launch(launch(id, null, Map.of("MINE", "it's \"quoted\" $HOME"), "env"));

    assertThat(awaitEnd(id).exitCode()).isZero();
    Path work = backend.workDirectory(id).orElseThrow();
    var env = new java.util.TreeMap<String, String>();
    for (String line : Files.readAllLines(backend.dirOf(id).resolve("stdout.log"))) {
      int eq = line.indexOf('=');
      env.put(line.substring(0, eq), line.substring(eq + 1));
    }
    assertThat(env)
        .containsEntry("SHARED_CONFIG", "for-tasks")
        .containsEntry("MINE", "it's \"quoted\" $HOME")
        .containsEntry("HOME", work.toString())
        .containsEntry("TMPDIR", work.resolve(".tmp").toString())
        .containsEntry("STOWAGE_TASK_ID", "env/probe")
        .containsEntry("STOWAGE_WORK_DIR", work.toString())
        .containsKeys("PATH", "LANG")
        .doesNotContainKeys("AWS_SECRET_ACCESS_KEY", "PGPASSWORD");
    assertThat(String.join("\n", env.values())).doesNotContain("secret");
    assertThat(backend.dirOf(id).resolve("env")).as("the environment file is gone").doesNotExist();
  }

  @Test
  void aShellBuiltinOrAMissingProgramFailsTheLaunchSayingWhy() throws Exception {
    var exit = new AttemptId("builtin/exit", 1);
    var cd = new AttemptId("builtin/cd", 1);
    backend.launch(launch(exit, null, Map.of(), "exit", "0"));
    backend.launch(launch(cd, null, Map.of(), "cd", "/tmp"));

    TaskEvent end = awaitEnd(exit);
    assertThat(end.kind()).isEqualTo(Kind.LAUNCH_FAILED);
    assertThat(end.message())
        .startsWith("'exit' is not a program on the task's PATH")
        .endsWith("a shell builtin needs a shell: [\"sh\", \"-c\", \"...\"]");
    assertThat(awaitEnd(cd).kind()).isEqualTo(Kind.LAUNCH_FAILED);
    assertThat(Path.of("/tmp/exit_code")).doesNotExist();
  }

  @Test
  void whatATaskWritesInItsWorkDirectoryNeverPassesForTheServicesRecords() throws Exception {
    var id = new AttemptId("forger", 1);
    backend.launch(
        launch(
            id,
            null,
            Map.of(),
            "sh",
            "-c",
            "echo 0 > exit_code; echo forged > stdout.log; echo 1 > pid; exit 1"));

    TaskEvent end = awaitEnd(id);
    assertThat(end.kind()).isEqualTo(Kind.EXITED);
    assertThat(end.exitCode()).isEqualTo(1);
    assertThat(backend.status(id).exitCode()).isEqualTo(1);
    assertThat(backend.dirOf(id).resolve("stdout.log")).hasContent("");
  }

  @Test
  void idsThatLookLikeEachOthersPathsGetDirectoriesOfTheirOwn() throws Exception {
    var outer = new AttemptId("a/t", 1);
    var inner = new AttemptId("a/t/attempt-1/stdout.log", 1);
    var underscore = new AttemptId("a_t", 1);
    backend.launch(launch(outer, null, Map.of(), "sh", "-c", "echo outer"));
    backend.launch(launch(inner, null, Map.of(), "sh", "-c", "echo inner"));
    backend.launch(launch(underscore, null, Map.of(), "sh", "-c", "echo underscore"));

    assertThat(awaitEnd(outer).exitCode()).isZero();
    assertThat(awaitEnd(inner).exitCode()).isZero();
    assertThat(awaitEnd(underscore).exitCode()).isZero();
    assertThat(backend.dirOf(outer).resolve("stdout.log")).hasContent("outer\n");
    assertThat(backend.dirOf(inner).resolve("stdout.log")).hasContent("inner\n");
    assertThat(backend.dirOf(underscore).resolve("stdout.log")).hasContent("underscore\n");
    assertThat(
            java.util.Set.of(backend.dirOf(outer), backend.dirOf(inner), backend.dirOf(underscore)))
        .hasSize(3);
  }

  @Test
  void aStoppedTasksResourcesStayHeldUntilItsWholeTreeIsGone() throws Exception {
    var id = new AttemptId("slow-to-stop", 1);
    Path ready = root.resolve("trapped");
    backend.launch(
        new Launch(
            id,
            "this-machine",
            List.of(
                "sh",
                "-c",
                "trap 'sleep 1; exit 0' TERM; touch " + ready + "; while :; do sleep 0.1; done"),
            Map.of(),
            new Resources(1000, 0, 0, 0),
            null));
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!Files.exists(ready)) {
      assertThat(System.nanoTime()).isLessThan(deadline);
      Thread.sleep(20);
    }
    backend.kill(id);
    Thread.sleep(300); // the wrapper is gone by now; the task still runs its trap
    assertThat(backend.offers().getFirst().available().cpuMillis()).isEqualTo(3000);

    assertThat(awaitEnd(id).kind()).isEqualTo(Kind.KILLED);
    assertThat(backend.offers().getFirst().available().cpuMillis()).isEqualTo(4000);
  }

  @Test
  void asRootAnAttemptRunsAsAnUnprivilegedUserWhoCannotReadTheServicesFiles() throws Exception {
    boolean asRoot = ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    org.junit.jupiter.api.Assumptions.assumeTrue(
        asRoot, "only root can run attempts as another user");
    Files.setPosixFilePermissions(
        this.root, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Path secret = Files.writeString(this.root.resolve("admin.token"), "service-secret");
    Files.setPosixFilePermissions(
        secret, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    restart(
        this.root.resolve("work"),
        new TaskIsolation(List.of(), System::getenv, TaskIsolation.RunAs.lookup("nobody"), false));
    var id = new AttemptId("confined", 1);
    Path work = backend.workDirectory(id).orElseThrow();
    Files.createDirectories(work.resolve("in"));
    Files.writeString(work.resolve("in/staged.csv"), "a,b\n"); // as staging leaves it: root's

    backend.launch(
        launch(
            id,
            null,
            Map.of(),
            "sh",
            "-c",
            "id -u; echo more >> in/staged.csv; cat " + secret + " || echo refused"));

    assertThat(awaitEnd(id).exitCode()).isZero();
    assertThat(Files.readAllLines(backend.dirOf(id).resolve("stdout.log")))
        .containsExactly("65534", "refused");
    assertThat(Files.readString(backend.dirOf(id).resolve("stderr.log")))
        .contains("Permission denied");
    assertThat(work.resolve("in/staged.csv")).hasContent("a,b\nmore\n");
    assertThat(Files.getAttribute(work, "unix:uid")).isEqualTo(65534);
    assertThat(Files.getAttribute(backend.dirOf(id).resolve("exit_code"), "unix:uid")).isEqualTo(0);
  }

  @Test
  void eachAttemptIsLimitedToItsRequestAndAnOomKillIsReportedAsSuch() throws Exception {
    restart(root, new TaskIsolation(List.of(), System::getenv, null, true));
    org.junit.jupiter.api.Assumptions.assumeTrue(
        backend.limitsNotEnforced().isEmpty(),
        () -> "control groups are not writable here: " + backend.limitsNotEnforced().get());
    var limited = new AttemptId("limits/cpu", 1);
    backend.launch(
        new Launch(
            limited,
            "this-machine",
            List.of("sh", "-c", "cat /proc/self/cgroup; sleep 1"),
            Map.of(),
            new Resources(500, 64, 0, 0),
            null));
    assertThat(awaitEnd(limited).exitCode()).isZero();
    String groups = Files.readString(backend.dirOf(limited).resolve("stdout.log"));
    String group = LocalProcessBackend.groupOf(limited);
    assertThat(groups).containsPattern(":cpu[^:]*:/.*stowage/" + group + "\n");
    assertThat(groups).containsPattern(":memory:/.*stowage/" + group + "\n");

    var hungry = new AttemptId("limits/memory", 1);
    backend.launch(
        new Launch(
            hungry,
            "this-machine",
            // tail keeps a line without end in memory: 256 MB of it, against a 16 MiB limit.
            List.of("sh", "-c", "head -c 268435456 /dev/zero | tail -n 1 > /dev/null"),
            Map.of(),
            new Resources(1000, 16, 0, 0),
            null));
    TaskEvent end = awaitEnd(hungry);
    assertThat(end.kind()).isEqualTo(Kind.OUT_OF_MEMORY);
    assertThat(end.message())
        .startsWith("killed by the kernel for using more than its memory limit of 16 MiB");
    assertThat(Path.of("/sys/fs/cgroup/memory")).isDirectory();
  }

  @Test
  void finishedTasksDirectoriesGoWhenPickedAndARunningOnesNeverIsOffered() throws Exception {
    var done = new AttemptId("retention/done", 1);
    var kept = new AttemptId("retention/kept", 1);
    var busy = new AttemptId("retention/busy", 1);
    backend.launch(launch(done, null, Map.of(), "sh", "-c", "echo done > out.txt"));
    backend.launch(launch(kept, null, Map.of(), "true"));
    awaitEnd(done);
    awaitEnd(kept);
    backend.launch(launch(busy, null, Map.of(), "sleep", "5"));
    Files.createDirectories(root.resolve("not-a-task"));
    var offered = new java.util.ArrayList<String>();

    int removed =
        backend.removeFinished(
            ids -> {
              offered.addAll(ids);
              return java.util.Set.of("retention/done", "retention/busy", "ghost");
            });

    assertThat(removed).isEqualTo(1);
    assertThat(offered).containsExactlyInAnyOrder("retention/done", "retention/kept");
    assertThat(backend.dirOf(done).getParent()).doesNotExist();
    assertThat(backend.dirOf(kept)).isDirectory();
    assertThat(backend.dirOf(busy)).isDirectory();
    assertThat(root.resolve("not-a-task")).isDirectory();
    backend.kill(busy);
    awaitEnd(busy);
  }

  /** This test's backend replaced by one on {@code work} with {@code isolation}. */
  @Test
  void aSecondLaunchOfAnAttemptStartsNothingAndSaysWhatBecameOfTheFirst() throws Exception {
    var once = new AttemptId("once", 1);
    Path marks = root.resolve("marks.txt");
    backend.launch(launch(once, null, Map.of(), "sh", "-c", "echo ran >> " + marks));
    assertThat(awaitEnd(once).exitCode()).isZero();
    backend.close();

    // As after a crash that lost the record of the launch: the same attempt launched again.
    backend = new LocalProcessBackend(root, NODE, "this-machine", Clock.systemUTC());
    assertThat(backend.knownAttempts()).containsEntry(once, "this-machine");
    seen.clear();
    backend.launch(launch(once, null, Map.of(), "sh", "-c", "echo ran >> " + marks));
    TaskEvent adopted = awaitEnd(once);
    assertThat(adopted.kind()).isEqualTo(Kind.EXITED);
    assertThat(adopted.exitCode()).isZero();
    assertThat(adopted.message()).startsWith("launched before");
    assertThat(Files.readAllLines(marks)).containsExactly("ran");
  }

  @Test
  void anAttemptStoppedOnRequestIsReportedStoppedAfterARestart() throws Exception {
    var cancelled = new AttemptId("cancelled", 1);
    backend.launch(launch(cancelled, null, Map.of(), "sleep", "30"));
    backend.kill(cancelled);
    assertThat(awaitEnd(cancelled).kind()).isEqualTo(Kind.KILLED);
    backend.close(); // as if the service died before it recorded the cancel

    backend = new LocalProcessBackend(root, NODE, "this-machine", Clock.systemUTC());
    TaskEvent status = backend.status(cancelled);
    assertThat(status.kind()).as("not the signal's exit code").isEqualTo(Kind.KILLED);
  }

  private void restart(Path work, TaskIsolation isolation) throws Exception {
    backend.close();
    backend = new LocalProcessBackend(work, NODE, "this-machine", Clock.systemUTC(), isolation);
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
