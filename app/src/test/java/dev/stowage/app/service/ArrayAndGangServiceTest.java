package dev.stowage.app.service;

import static dev.stowage.app.service.TestApi.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.engine.Resources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Arrays and gangs through the API, on embedded PostgreSQL, with real processes on this machine
 * taken as one node of four CPUs.
 */
class ArrayAndGangServiceTest {
  @TempDir Path tmp;
  private StowageService service;
  private String admin;
  private TestApi api;

  @BeforeEach
  void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(100))
            .cluster(new StowageService.Cluster.Local(new Resources(4000, 8192, 100_000, 0)))
            .start();
    admin = Files.readString(service.adminTokenFile()).strip();
    api = new TestApi(service);
  }

  @AfterEach
  void stop() {
    if (service != null) {
      service.close();
    }
  }

  @Test
  void anArrayRunsEachTaskWithItsIndexIsReadAsAWholeAndADependencyOnItWaitsForAllOfIt()
      throws Exception {
    var created =
        api.send(
            "POST",
            "/api/tasks",
            """
            {"tasks": [
              {"id": "sweep", "array": 4, "cpuMillis": 100,
               "command": ["sh", "-c", "echo index $STOWAGE_ARRAY_INDEX of $STOWAGE_ARRAY_SIZE"]},
              {"id": "report", "command": ["true"], "cpuMillis": 100, "dependsOn": ["sweep"]}
            ]}
            """,
            admin);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    assertThat(json(created).get("ids").toString())
        .isEqualTo("[\"sweep_0\",\"sweep_1\",\"sweep_2\",\"sweep_3\",\"report\"]");

    awaitState("report", "succeeded");
    var log = api.send("GET", "/api/tasks/sweep_2/logs", null, admin);
    assertThat(log.body()).isEqualTo("index 2 of 4\n");
    JsonNode report = json(api.send("GET", "/api/tasks/report", null, admin));
    assertThat(report.get("dependsOn").toString())
        .isEqualTo("[\"sweep_0\",\"sweep_1\",\"sweep_2\",\"sweep_3\"]");

    JsonNode array = json(api.send("GET", "/api/arrays/sweep?limit=3", null, admin));
    assertThat(array.get("size").asInt()).isEqualTo(4);
    assertThat(array.get("states").toString()).isEqualTo("{\"succeeded\":4}");
    assertThat(array.get("tasks").findValuesAsText("id"))
        .containsExactly("sweep_0", "sweep_1", "sweep_2");
    assertThat(array.at("/tasks/1/array").toString())
        .isEqualTo("{\"arrayId\":\"sweep\",\"index\":1,\"size\":4}");
    assertThat(array.get("next").asInt()).isEqualTo(3);
    JsonNode lastPage = json(api.send("GET", "/api/arrays/sweep?from=3", null, admin));
    assertThat(lastPage.get("tasks").findValuesAsText("id")).containsExactly("sweep_3");
    assertThat(lastPage.has("next")).isTrue();
    assertThat(lastPage.get("next").isNull()).isTrue();

    // A later submission may depend on the stored array by its id.
    var later =
        api.send(
            "POST",
            "/api/tasks",
            "{\"id\": \"later\", \"command\": [\"true\"], \"dependsOn\": [\"sweep\"]}",
            admin);
    assertThat(later.statusCode()).as(later.body()).isEqualTo(201);
    assertThat(json(api.send("GET", "/api/tasks/later", null, admin)).get("dependsOn").size())
        .isEqualTo(4);
    awaitState("later", "succeeded");

    assertThat(api.send("GET", "/api/arrays/nothing", null, admin).statusCode()).isEqualTo(404);
    assertThat(api.send("GET", "/api/arrays/sweep_1", null, admin).statusCode()).isEqualTo(404);
    var bad =
        api.send(
            "POST",
            "/api/tasks",
            """
            {"tasks": [
              {"id": "x", "command": ["true"], "array": 0},
              {"id": "y", "command": ["true"], "array": 2, "dependsOn": ["nowhere"]}
            ]}
            """,
            admin);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("fields").findValuesAsText("field"))
        .containsExactly("tasks[0].array", "tasks[1].dependsOn");
  }

  @Test
  void cancellingAnArrayCancelsItsQueuedTasksAndStopsItsRunningProcesses() throws Exception {
    Path pids = Files.createDirectories(tmp.resolve("pids"));
    Files.setPosixFilePermissions(pids, PosixFilePermissions.fromString("rwxrwxrwx"));
    // Six tasks of one CPU on four: four run, two wait.
    var created =
        api.send(
            "POST",
            "/api/tasks",
            ("{\"id\": \"sleepers\", \"array\": 6, \"cpuMillis\": 1000, \"command\": [\"sh\","
                    + " \"-c\", \"echo $$ > %s/$STOWAGE_ARRAY_INDEX; exec sleep 300\"]}")
                .formatted(pids),
            admin);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    awaitArray("sleepers", "{\"queued\":2,\"running\":4}");
    var running = new ArrayList<Long>();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (running.size() < 4 && System.nanoTime() < deadline) {
      Thread.sleep(100);
      running.clear();
      try (var files = Files.list(pids)) {
        for (Path p : files.toList()) {
          String pid = Files.readString(p).strip();
          if (!pid.isEmpty()) {
            running.add(Long.parseLong(pid));
          }
        }
      }
    }
    assertThat(running).hasSize(4);
    assertThat(running).allMatch(pid -> ProcessHandle.of(pid).isPresent());

    String other = api.token("other", "submitter", admin);
    assertThat(api.send("POST", "/api/arrays/sleepers/cancel", "", other).statusCode())
        .isEqualTo(403);

    var cancelled = api.send("POST", "/api/arrays/sleepers/cancel", "", admin);
    assertThat(cancelled.statusCode()).as(cancelled.body()).isEqualTo(200);
    assertThat(cancelled.body())
        .isEqualTo("{\"id\":\"sleepers\",\"cancelled\":2,\"cancelling\":4,\"alreadyFinished\":0}");
    awaitArray("sleepers", "{\"cancelled\":6}");
    for (long pid : running) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
          .as("process " + pid)
          .isFalse();
    }
    var again = json(api.send("POST", "/api/arrays/sleepers/cancel", "", admin));
    assertThat(again.get("alreadyFinished").asInt()).isEqualTo(6);
  }

  @Test
  void aGangIsPlacedWholeOrWaitsHoldingNothingAndWhySaysHowManyFit() throws Exception {
    assertThat(
            api.send(
                    "POST",
                    "/api/tasks",
                    "{\"id\": \"blocker\", \"cpuMillis\": 1000, \"command\": [\"sleep\", \"300\"]}",
                    admin)
                .statusCode())
        .isEqualTo(201);
    awaitState("blocker", "running");
    // Four tasks of one CPU on the three free: the gang waits whole, and the task behind it runs
    // (so from the next cycle on, two of the gang fit).
    var created =
        api.send(
            "POST",
            "/api/tasks",
            """
            {"tasks": [
              {"id": "train", "array": 4, "cpuMillis": 1000, "priority": 10,
               "gang": {"name": "train-4", "size": 4}, "command": ["sleep", "300"]},
              {"id": "small", "cpuMillis": 1000, "command": ["sleep", "300"]}
            ]}
            """,
            admin);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    awaitState("small", "running");
    Thread.sleep(300); // a cycle or more after small started
    JsonNode why = json(api.send("GET", "/api/tasks/train_0/why", null, admin));
    assertThat(why.get("state").asText()).isEqualTo("queued");
    assertThat(why.get("gangWaiting").asText()).isEqualTo("gang train-4: 2 of 4 members fit");
    assertThat(why.get("why").asText())
        .startsWith(
            "at the last cycle: gang train-4: 2 of 4 members fit, so none was placed (a gang is"
                + " placed whole or not at all); queued since");
    assertThat(json(api.send("GET", "/api/arrays/train", null, admin)).get("states").toString())
        .isEqualTo("{\"queued\":4}");
    assertThat(json(api.send("GET", "/api/tasks/train_3", null, admin)).get("gang").toString())
        .isEqualTo("{\"name\":\"train-4\",\"size\":4}");

    // Two CPUs are free: a gang of two is placed, both at once, past the gang that waits.
    var pair =
        api.send(
            "POST",
            "/api/tasks",
            """
            {"tasks": [
              {"id": "pair-a", "cpuMillis": 1000, "gang": {"name": "pair", "size": 2},
               "command": ["sleep", "300"]},
              {"id": "pair-b", "cpuMillis": 1000, "gang": {"name": "pair", "size": 2},
               "command": ["sleep", "300"]}
            ]}
            """,
            admin);
    assertThat(pair.statusCode()).as(pair.body()).isEqualTo(201);
    awaitState("pair-a", "running");
    awaitState("pair-b", "running");
    assertThat(json(api.send("GET", "/api/tasks/train_0", null, admin)).get("state").asText())
        .isEqualTo("queued");

    // A gang is submitted whole, and its name is free only once its tasks have finished.
    var refused =
        api.send(
            "POST",
            "/api/tasks",
            """
            {"tasks": [
              {"id": "p1", "command": ["true"], "gang": {"name": "pair", "size": 1}},
              {"id": "h1", "command": ["true"], "gang": {"name": "half", "size": 2}}
            ]}
            """,
            admin);
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(json(refused).get("fields").findValuesAsText("message"))
        .containsExactly(
            "a gang named pair has tasks in the store that have not finished: choose another"
                + " name",
            "gang half has size 2 but this submission holds 1 of its tasks: a gang is submitted"
                + " whole, in one submission");
    assertThat(json(refused).get("fields").findValuesAsText("field"))
        .containsExactly("tasks[0].gang.name", "tasks[1].gang.size");

    // Once the others end, the gang of four fits and runs whole.
    for (String id : List.of("blocker", "small", "pair-a", "pair-b")) {
      assertThat(api.send("POST", "/api/tasks/" + id + "/cancel", "", admin).statusCode())
          .isEqualTo(202);
    }
    awaitArray("train", "{\"running\":4}");
  }

  private void awaitState(String id, String state) throws Exception {
    api.await("/api/tasks/" + id, "state", state, admin);
  }

  private void awaitArray(String id, String states) throws Exception {
    api.await("/api/arrays/" + id, "states", states, admin);
  }
}
