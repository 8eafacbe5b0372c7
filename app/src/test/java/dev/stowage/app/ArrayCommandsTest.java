package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.app.service.StowageService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `stowage tasks --array` and `stowage cancel --array`, against a service of their own. */
class ArrayCommandsTest {
  @TempDir Path tmp;
  StowageService service;

  @BeforeEach
  void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    service = StowageService.builder(tmp.resolve("data")).interval(Duration.ofMillis(200)).start();
  }

  @AfterEach
  void stop() {
    service.close();
  }

  /** A command as a user types it, with this service's admin token. */
  MainTest.Run run(String... args) {
    var withToken = new java.util.ArrayList<>(java.util.List.of(args));
    withToken.add("--token-file");
    withToken.add(service.adminTokenFile().toString());
    return MainTest.run(withToken.toArray(String[]::new));
  }

  @Test
  void anArrayIsListedAndCancelledAsAWholeFromTheCommandLine() throws Exception {
    Path file = tmp.resolve("array.json");
    Files.writeString(
        file,
        "{\"id\": \"cli-array\", \"array\": 3, \"command\": [\"sleep\", \"30\"],"
            + " \"cpuMillis\": 1000000000000}");
    MainTest.Run submitted = run("submit", file.toString(), "--url", service.url());
    assertThat(submitted.exit()).as(submitted.err()).isZero();

    MainTest.Run listed =
        run("tasks", "--array", "cli-array", "--limit", "2", "--url", service.url());
    assertThat(listed.out())
        .startsWith("array cli-array: 3 tasks: 3 queued\n")
        .contains("cli-array_0")
        .contains("cli-array_1")
        .doesNotContain("cli-array_2")
        .endsWith("more: --array cli-array --from 2\n");
    // The last page: no next, and nothing on standard error.
    MainTest.Run last = run("tasks", "--array", "cli-array", "--from", "2", "--url", service.url());
    assertThat(last.exit()).as(last.err()).isZero();
    assertThat(last.err()).isEmpty();
    assertThat(last.out()).contains("cli-array_2").doesNotContain("more:");
    assertThat(run("cancel", "--array", "cli-array", "--url", service.url()).out())
        .isEqualTo("cli-array: 3 cancelled, 0 cancelling, 0 already finished\n");
    MainTest.Run after = run("tasks", "--array", "cli-array", "--url", service.url());
    assertThat(after.exit()).as(after.err()).isZero();
    assertThat(after.out()).startsWith("array cli-array: 3 tasks: 3 cancelled\n");
    MainTest.Run unknown = run("tasks", "--array", "no-array", "--url", service.url());
    assertThat(unknown.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(unknown.err()).isEqualTo("stowage: no array with id 'no-array'\n");
    assertThat(run("tasks", "--from", "2", "--url", service.url()).err())
        .isEqualTo("stowage: --from goes with --array\n");
  }

  @Test
  void theExampleSweepRunsEachPointAndThenItsReport() throws Exception {
    Path sweep = Path.of("..", "examples", "sweep.yaml");
    MainTest.Run submitted = run("submit", sweep.toString(), "--url", service.url());
    assertThat(submitted.exit()).as(submitted.err()).isZero();

    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(60).toNanos();
    while (!run("status", "example/sweep-report", "--url", service.url())
        .out()
        .startsWith("example/sweep-report: succeeded")) {
      assertThat(System.nanoTime()).as("the report succeeds").isLessThan(deadline);
      Thread.sleep(200);
    }
    MainTest.Run listed = run("tasks", "--array", "example/sweep", "--url", service.url());
    assertThat(listed.exit()).as(listed.err()).isZero();
    assertThat(listed.out()).startsWith("array example/sweep: 8 tasks: 8 succeeded\n");
    assertThat(run("logs", "example/sweep_3", "--url", service.url()).out())
        .isEqualTo("point 3 of 8\n");
    assertThat(run("logs", "example/sweep-report", "--url", service.url()).out())
        .isEqualTo("all 8 points done\n");
  }
}
