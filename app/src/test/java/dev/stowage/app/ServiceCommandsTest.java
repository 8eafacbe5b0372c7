package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.app.service.StowageService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `stowage submit` and `stowage status` against a running service, as a user types them. */
class ServiceCommandsTest {
  @TempDir static Path tmp;
  static StowageService service;

  @BeforeAll
  static void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    service = StowageService.builder(tmp.resolve("data")).interval(Duration.ofMillis(200)).start();
  }

  @AfterAll
  static void stop() {
    service.close();
  }

  /** A command as a user types it; against this test's service, with its admin token. */
  static MainTest.Run run(String... args) {
    if (!java.util.List.of(args).contains("--url")
        || java.util.List.of(args).contains("http://127.0.0.1:1")) {
      return MainTest.run(args);
    }
    var withToken = new java.util.ArrayList<>(java.util.List.of(args));
    withToken.add("--token-file");
    withToken.add(service.adminTokenFile().toString());
    return MainTest.run(withToken.toArray(String[]::new));
  }

  @Test
  void queuesAreManagedFromTheCommandLineWithEveryBadFieldOnItsOwnLine() throws Exception {
    String url = service.url();
    MainTest.Run created =
        run(
            "queues",
            "create",
            "team-a",
            "--weight",
            "2",
            "--limit",
            "cpuMillis=8000",
            "--url",
            url);
    assertThat(created.exit()).as(created.err()).isZero();
    assertThat(created.out()).isEqualTo("created queue 'team-a'\n");
    assertThat(run("queues", "list", "--url", url).out())
        .contains("NAME")
        .containsPattern("(?m)^default +1\\.0 +0 +0\\.0% +")
        .containsPattern("(?m)^team-a +2\\.0 +0 +0\\.0% +.* cpuMillis=8000$");
    assertThat(run("queues", "set", "team-a", "--weight", "3", "--url", url).out())
        .isEqualTo("changed queue 'team-a'\n");
    assertThat(run("queues", "list", "--url", url).out())
        .containsPattern("(?m)^team-a +3\\.0 .* -$");

    MainTest.Run bad =
        run("queues", "create", "Bad_Name", "--weight", "0", "--limit", "cpus=1", "--url", url);
    assertThat(bad.exit()).isNotZero();
    assertThat(bad.err())
        .contains("stowage: name: must be 1-63 lowercase letters")
        .contains("stowage: weight: must be a number in (0, 1000000], got 0.0")
        .contains("stowage: limits.cpus: not a resource");
    assertThat(run("queues", "delete", "team-a", "--url", url).out())
        .isEqualTo("deleted queue 'team-a'\n");
    MainTest.Run again = run("queues", "delete", "team-a", "--url", url);
    assertThat(again.exit()).isNotZero();
    assertThat(again.err()).contains("no queue named 'team-a'");
  }

  @Test
  void dashboardPrintsAOneTimeSignInLinkThatSetsASessionCookieOnce() throws Exception {
    MainTest.Run printed = run("dashboard", "--no-open", "--url", service.url());
    assertThat(printed.exit()).as(printed.err()).isZero();
    String link = printed.out().strip();
    assertThat(link).matches(java.util.regex.Pattern.quote(service.url()) + "/sign-in/[\\w-]{43}");
    var http = java.net.http.HttpClient.newHttpClient(); // follows no redirects
    var first =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(link)).build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(first.statusCode()).isEqualTo(303);
    assertThat(first.headers().firstValue("Location")).hasValue("/");
    assertThat(first.headers().firstValue("Set-Cookie").orElseThrow())
        .startsWith("stowage_session=")
        .contains("HttpOnly", "SameSite=Strict");
    var again =
        http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(link)).build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(again.statusCode()).isEqualTo(303);
    assertThat(again.headers().firstValue("Location").orElseThrow()).startsWith("/sign-in?error=");
    assertThat(again.headers().firstValue("Set-Cookie")).isEmpty();

    Path bogus = tmp.resolve("bogus.token");
    Files.writeString(bogus, "stw_not-a-token\n");
    MainTest.Run refused =
        MainTest.run(
            "dashboard", "--no-open", "--url", service.url(), "--token-file", bogus.toString());
    assertThat(refused.exit()).isEqualTo(1);
    assertThat(refused.err()).isEqualTo("stowage: the token is not one this service issued\n");
  }

  @Test
  void theExampleDagSubmitsFromYamlAndRunsToTheEnd() throws Exception {
    Path dag = Path.of("..", "examples", "etl-dag.yaml");

    MainTest.Run submitted = run("submit", dag.toString(), "--url", service.url());

    assertThat(submitted.exit()).as(submitted.err()).isZero();
    assertThat(submitted.out())
        .isEqualTo(
            "submitted 4 tasks: example/extract, example/sum, example/count-even, example/load\n");
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    MainTest.Run status = run("status", "example/load", "--url", service.url());
    while (!status.out().startsWith("example/load: succeeded")) {
      assertThat(System.nanoTime()).as(status.out()).isLessThan(deadline);
      Thread.sleep(200);
      status = run("status", "example/load", "--url", service.url());
    }
    assertThat(status.out()).startsWith("example/load: succeeded (attempt 1 of 3)\n");
    assertThat(run("logs", "example/sum", "--url", service.url()).out())
        .isEqualTo("sum is 5000050000\n");
    assertThat(run("tasks", "--state", "succeeded", "--url", service.url()).out())
        .contains("example/extract")
        .contains("example/load");
  }

  @Test
  void whyCancelAndListingSpeakForThemselves() throws Exception {
    Path file = tmp.resolve("why.json");
    Files.writeString(
        file,
        """
        {"tasks": [
          {"id": "why/sleeper", "command": ["sleep", "30"], "cpuMillis": 100},
          {"id": "why/after-sleeper", "command": ["true"], "dependsOn": ["why/sleeper"]},
          {"id": "why/huge", "command": ["true"], "cpuMillis": 1000000000000},
          {"id": "why/pinned", "command": ["true"], "constraints": {"zone": "mars"}}
        ]}
        """);
    MainTest.Run submitted = run("submit", file.toString(), "--url", service.url());
    assertThat(submitted.exit()).isZero();
    assertThat(submitted.err())
        .isEqualTo(
            "stowage: warning: why/huge: never schedulable: 0/1 nodes fit it empty: 1"
                + " insufficient cpuMillis\n"
                + "stowage: warning: why/pinned: never schedulable: 0/1 nodes fit it empty: 1"
                + " constraint zone=mars\n");
    awaitState("why/sleeper", "running");

    assertThat(run("why", "why/after-sleeper", "--url", service.url()).out())
        .isEqualTo(
            "why/after-sleeper (waiting): waiting since "
                + submittedAt("why/after-sleeper")
                + " for 1 of 1 dependencies: why/sleeper (running)\n");
    assertThat(run("why", "why/huge", "--url", service.url()).out())
        .startsWith(
            "why/huge (queued): never schedulable: 0/1 nodes fit it empty: 1 insufficient"
                + " cpuMillis; it stays out of the queue until the cluster's nodes change");
    assertThat(run("why", "why/pinned", "--url", service.url()).out())
        .startsWith(
            "why/pinned (queued): never schedulable: 0/1 nodes fit it empty: 1 constraint"
                + " zone=mars;");
    assertThat(run("tasks", "--state", "queued", "--url", service.url()).out())
        .contains("why/huge")
        .contains("why/pinned")
        .doesNotContain("why/sleeper");

    assertThat(run("cancel", "why/huge", "--url", service.url()).out())
        .isEqualTo("why/huge: cancelled\n");
    assertThat(run("cancel", "why/sleeper", "--url", service.url()).out())
        .isEqualTo("why/sleeper: cancelling\n");
    awaitState("why/sleeper", "cancelled");
    assertThat(run("status", "why/after-sleeper", "--url", service.url()).out())
        .startsWith("why/after-sleeper: upstream_failed");
    MainTest.Run again = run("cancel", "why/huge", "--url", service.url());
    assertThat(again.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(again.err()).isEqualTo("stowage: task 'why/huge' is already cancelled\n");

    // Retried by hand: the sleeper runs again, and the task its cancel doomed waits for it again.
    assertThat(run("retry", "why/after-sleeper", "--url", service.url()).err())
        .isEqualTo(
            "stowage: task 'why/after-sleeper' is upstream_failed: only a failed or cancelled"
                + " task is retried; retry its dependency 'why/sleeper' (cancelled)\n");
    assertThat(run("retry", "why/sleeper", "--url", service.url()).out())
        .isEqualTo("why/sleeper: queued; 1 task(s) below wait again\n");
    assertThat(run("status", "why/after-sleeper", "--url", service.url()).out())
        .startsWith("why/after-sleeper: waiting");
    awaitState("why/sleeper", "running");
    assertThat(run("status", "why/sleeper", "--url", service.url()).out())
        .startsWith("why/sleeper: running (attempt 2; 1 of 1 since it was retried by hand)\n");
    MainTest.Run running = run("retry", "why/sleeper", "--url", service.url());
    assertThat(running.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(running.err())
        .isEqualTo(
            "stowage: task 'why/sleeper' is running: only a failed or cancelled task is"
                + " retried\n");
    assertThat(run("cancel", "why/sleeper", "--url", service.url()).out())
        .isEqualTo("why/sleeper: cancelling\n");
    awaitState("why/sleeper", "cancelled");
    assertThat(run("tasks", "--state", "sideways", "--url", service.url()).err())
        .isEqualTo("stowage: state: unknown task state 'sideways'\n");
  }

  @Test
  void logsSayWhenTheyAreCutPrintWholeWithFullAndFollowATaskToItsEnd() throws Exception {
    Path big =
        Files.writeString(
            tmp.resolve("big-log.json"),
            "{\"id\": \"logs/big\", \"command\": [\"sh\", \"-c\", \"head -c 1500000"
                + " /dev/zero | tr '\\\\000' a; echo; echo end\"]}");
    assertThat(run("submit", big.toString(), "--url", service.url()).exit()).isZero();
    awaitState("logs/big", "succeeded");

    MainTest.Run tail = run("logs", "logs/big", "--url", service.url());
    assertThat(tail.out()).hasSize(1 << 20).endsWith("a\nend\n");
    assertThat(tail.err())
        .isEqualTo("stowage: the last 1.0 MiB of 1.4 MiB shown; --full prints all of it\n");
    MainTest.Run whole = run("logs", "logs/big", "--full", "--url", service.url());
    assertThat(whole.out()).hasSize(1_500_000 + 5).startsWith("aaa").endsWith("a\nend\n");
    assertThat(whole.err()).isEmpty();

    Path slow =
        Files.writeString(
            tmp.resolve("slow-log.json"),
            "{\"id\": \"logs/slow\", \"command\": [\"sh\", \"-c\", \"for i in 1 2 3; do"
                + " echo line $i; sleep 0.4; done\"]}");
    assertThat(run("submit", slow.toString(), "--url", service.url()).exit()).isZero();
    MainTest.Run followed =
        run("logs", "logs/slow", "-f", "--poll-ms", "100", "--url", service.url());
    assertThat(followed.exit()).as(followed.err()).isZero();
    assertThat(followed.out()).isEqualTo("line 1\nline 2\nline 3\n");
    assertThat(run("status", "logs/slow", "--url", service.url()).out())
        .startsWith("logs/slow: succeeded");

    MainTest.Run badAttempt = run("logs", "logs/slow", "--attempt", "9", "--url", service.url());
    assertThat(badAttempt.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(badAttempt.err())
        .as("the field error itself, not only 'invalid request'")
        .isEqualTo("stowage: attempt: must be an integer in [1, 1], got '9'\n");

    MainTest.Run unknownAfter = run("tasks", "--after", "no/such/task", "--url", service.url());
    assertThat(unknownAfter.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(unknownAfter.err())
        .isEqualTo(
            "stowage: after: no task with id 'no/such/task': give the last id of the page before\n");
  }

  @Test
  void purgeRemovesFinishedTasksWorkDirectoriesAndKeepsTheTasks() throws Exception {
    Path file =
        Files.writeString(
            tmp.resolve("purge.json"),
            "{\"id\": \"purge/me\", \"command\": [\"sh\", \"-c\", \"echo kept > out.txt\"]}");
    assertThat(run("submit", file.toString(), "--url", service.url()).exit()).isZero();
    awaitState("purge/me", "succeeded");
    Path dirs = tmp.resolve("data/work");
    try (var listing = Files.list(dirs)) {
      assertThat(listing.map(p -> p.getFileName().toString()))
          .anyMatch(n -> n.startsWith("purge_me-"));
    }

    assertThat(run("purge", "--older-than", "1d", "--url", service.url()).out())
        .isEqualTo("removed the work directories of 0 finished tasks\n");
    MainTest.Run purged = run("purge", "--url", service.url());
    assertThat(purged.exit()).as(purged.err()).isZero();
    assertThat(purged.out())
        .matches("removed the work directories of [1-9][0-9]* finished tasks?\n");
    try (var listing = Files.list(dirs)) {
      assertThat(listing.map(p -> p.getFileName().toString()))
          .noneMatch(n -> n.startsWith("purge_me-"));
    }
    assertThat(run("status", "purge/me", "--url", service.url()).out())
        .startsWith("purge/me: succeeded");
    assertThat(run("purge", "--older-than", "soon", "--url", service.url()).err())
        .startsWith("stowage: --older-than must be a number and a unit (s, m, h, d), got 'soon'");
  }

  @Test
  void tokensAreCreatedListedAndRevokedFromTheCommandLine() throws Exception {
    MainTest.Run created =
        run("tokens", "create", "cli-ci", "--role", "reader", "--url", service.url());
    assertThat(created.exit()).as(created.err()).isZero();
    String secret = created.out().strip();
    assertThat(secret).startsWith("stw_");
    assertThat(created.err())
        .isEqualTo(
            "stowage: created token 'cli-ci' (reader, no expiry); it is shown only this once\n");
    MainTest.Run expiring =
        run(
            "tokens",
            "create",
            "cli-short",
            "--role",
            "submitter",
            "--expires-in",
            "2h",
            "--url",
            service.url());
    assertThat(expiring.err()).contains("(submitter, expires 20");

    Path file = Files.writeString(tmp.resolve("reader.token"), secret);
    MainTest.Run asReader =
        MainTest.run("tasks", "--url", service.url(), "--token-file", file.toString());
    assertThat(asReader.exit()).as(asReader.err()).isZero();

    assertThat(run("tokens", "list", "--url", service.url()).out())
        .containsPattern("cli-ci +reader +\\S+ +active\n")
        .containsPattern("cli-short +submitter +\\S+ +active until 20")
        .doesNotContain(secret);
    assertThat(run("tokens", "revoke", "cli-ci", "--url", service.url()).out())
        .isEqualTo("revoked token 'cli-ci'\n");
    assertThat(run("tokens", "list", "--url", service.url()).out())
        .containsPattern("cli-ci +reader +\\S+ +revoked 20");
    MainTest.Run refused =
        MainTest.run("tasks", "--url", service.url(), "--token-file", file.toString());
    assertThat(refused.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(refused.err()).startsWith("stowage: token 'cli-ci' was revoked at ");
    MainTest.Run badLifetime =
        run(
            "tokens",
            "create",
            "x",
            "--role",
            "reader",
            "--expires-in",
            "soon",
            "--url",
            service.url());
    assertThat(badLifetime.exit()).isEqualTo(Main.USAGE);
    assertThat(badLifetime.err())
        .startsWith(
            "stowage: --expires-in must be a positive number and a unit (s, m, h, d), got 'soon'");
  }

  /** The task's submit time as the service reports it. */
  private static String submittedAt(String id) throws Exception {
    var response =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(service.url() + "/api/tasks/" + id.replace("/", "%2F")))
                    .header(
                        "Authorization",
                        "Bearer " + Files.readString(service.adminTokenFile()).strip())
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    return new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(response.body())
        .get("submittedAt")
        .asText();
  }

  private static void awaitState(String id, String state) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    MainTest.Run status = run("status", id, "--url", service.url());
    while (!status.out().startsWith(id + ": " + state)) {
      assertThat(System.nanoTime()).as(status.out() + status.err()).isLessThan(deadline);
      Thread.sleep(100);
      status = run("status", id, "--url", service.url());
    }
  }

  @Test
  void aRefusedFileListsEveryFieldErrorWithTheFileName() throws Exception {
    Path file = tmp.resolve("bad.json");
    Files.writeString(
        file,
        "{\"tasks\": [{\"id\": \"a\", \"command\": [\"true\"], \"dependsOn\": [\"b\"]},"
            + " {\"id\": \"b\", \"command\": [\"true\"], \"dependsOn\": [\"a\"]},"
            + " {\"id\": \"c\", \"command\": [], \"gpus\": -2}]}");

    MainTest.Run r = run("submit", file.toString(), "--url", service.url());

    assertThat(r.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(r.err())
        .contains("stowage: " + file + ": tasks[2].gpus: must be an integer in [0, 2^53], got -2")
        .contains("stowage: " + file + ": tasks: dependency cycle: ")
        .doesNotContain("\tat ");
  }

  @Test
  void missingFilesUnknownTasksAndAnAbsentServiceSayWhatIsWrong() {
    MainTest.Run noFile =
        run("submit", tmp.resolve("nope.yaml").toString(), "--url", service.url());
    MainTest.Run unknown = run("status", "ghost", "--url", service.url());
    MainTest.Run noService = run("status", "x", "--url", "http://127.0.0.1:1");

    assertThat(noFile.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(noFile.err()).contains("nope.yaml: no such file");
    assertThat(unknown.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(unknown.err()).isEqualTo("stowage: no task with id 'ghost'\n");
    assertThat(noService.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(noService.err()).contains("no Stowage service at http://127.0.0.1:1");
  }
}
