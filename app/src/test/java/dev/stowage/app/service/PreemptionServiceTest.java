package dev.stowage.app.service;

import static dev.stowage.app.service.TestApi.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.preemption.PriorityClass;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Priority classes through the API and at start, on embedded PostgreSQL, and preemption with real
 * processes on this machine taken as one node of two CPUs.
 */
class PreemptionServiceTest {
  @TempDir Path tmp;
  private StowageService service;
  private String admin;
  private TestApi api;

  private void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(100))
            .cluster(new StowageService.Cluster.Local(new Resources(2000, 8192, 100_000, 0)))
            .priorityClasses(List.of(new PriorityClass("urgent", 1000, true, true)))
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
  void classesAreManagedByAdminsCheckedFieldByFieldAndNamedByTasks() throws Exception {
    start();
    assertThat(json(api.send("GET", "/api/priority-classes", null, admin)).toString())
        .isEqualTo(
            "{\"priorityClasses\":[{\"name\":\"urgent\",\"value\":1000,\"preempts\":true,"
                + "\"preemptible\":true}]}");
    var created =
        api.send("POST", "/api/priority-classes", "{\"name\": \"batch\", \"value\": 10}", admin);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    assertThat(created.body())
        .isEqualTo("{\"name\":\"batch\",\"value\":10,\"preempts\":false,\"preemptible\":true}");
    assertThat(
            api.send("POST", "/api/priority-classes", "{\"name\": \"batch\", \"value\": 1}", admin)
                .statusCode())
        .isEqualTo(409);
    var bad =
        api.send(
            "POST",
            "/api/priority-classes",
            "{\"name\": \"Big\", \"value\": 1.5, \"preempts\": \"yes\", \"colour\": 1}",
            admin);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("fields").findValuesAsText("field"))
        .containsExactlyInAnyOrder("colour", "name", "value", "preempts");
    String submitter = api.token("team", "submitter", admin);
    assertThat(
            api.send(
                    "POST",
                    "/api/priority-classes",
                    "{\"name\": \"mine\", \"value\": 1}",
                    submitter)
                .statusCode())
        .isEqualTo(403);
    var replaced =
        api.send(
            "PUT", "/api/priority-classes/batch", "{\"value\": 20, \"preemptible\": false}", admin);
    assertThat(replaced.body())
        .isEqualTo("{\"name\":\"batch\",\"value\":20,\"preempts\":false,\"preemptible\":false}");

    var refused =
        api.send(
            "POST",
            "/api/tasks",
            "{\"tasks\": [{\"id\": \"x\", \"command\": [\"true\"], \"priorityClass\": \"nope\"},"
                + " {\"id\": \"y\", \"command\": [\"true\"], \"priorityClass\": \"batch\","
                + " \"priority\": 3}]}",
            admin);
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(json(refused).get("fields").findValuesAsText("field"))
        .containsExactly("tasks[0].priorityClass", "tasks[1].priority");
    assertThat(json(refused).get("fields").findValuesAsText("message"))
        .containsExactly(
            "no priority class named \"nope\" (GET /api/priority-classes lists them)",
            "give priority or priorityClass, not both (a class's tasks take its value)");
    var named =
        api.send(
            "POST",
            "/api/tasks",
            "{\"id\": \"classy\", \"command\": [\"true\"], \"priorityClass\": \"batch\"}",
            admin);
    assertThat(named.statusCode()).as(named.body()).isEqualTo(201);
    JsonNode view = json(api.send("GET", "/api/tasks/classy", null, admin));
    assertThat(view.get("priority").asInt()).isEqualTo(20);
    assertThat(view.get("priorityClass").asText()).isEqualTo("batch");

    assertThat(api.send("DELETE", "/api/priority-classes/batch", null, admin).statusCode())
        .isEqualTo(200);
    assertThat(api.send("GET", "/api/priority-classes/batch", null, admin).statusCode())
        .isEqualTo(404);

    // Kept in PostgreSQL: a restart on the same data has them.
    api.send("POST", "/api/priority-classes", "{\"name\": \"kept\", \"value\": 5}", admin);
    service.close();
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(100))
            .cluster(new StowageService.Cluster.Local(new Resources(2000, 8192, 100_000, 0)))
            .start();
    api = new TestApi(service);
    assertThat(
            json(api.send("GET", "/api/priority-classes", null, admin))
                .get("priorityClasses")
                .findValuesAsText("name"))
        .containsExactly("kept", "urgent");
  }

  @Test
  void anUrgentTaskEvictsTheYoungestRunningProcessWhichIsReallyStoppedAndRunsAgainLater()
      throws Exception {
    start();
    Path pids = Files.createDirectories(tmp.resolve("pids"));
    Files.setPosixFilePermissions(pids, PosixFilePermissions.fromString("rwxrwxrwx"));
    // Two CPUs, two tasks of one: the cluster is full.
    for (String id : List.of("old", "young")) {
      var r =
          api.send(
              "POST",
              "/api/tasks",
              ("{\"id\": \"%s\", \"cpuMillis\": 1000, \"retry\": {\"maxAttempts\": 1},"
                      + " \"command\": [\"sh\", \"-c\", \"echo $$ >> %s/%s; exec sleep 300\"]}")
                  .formatted(id, pids, id),
              admin);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
      awaitState(id, "running");
      Thread.sleep(50); // the younger starts later
    }
    long youngPid = firstPid(pids.resolve("young"));

    var urgent =
        api.send(
            "POST",
            "/api/tasks",
            "{\"id\": \"urgent-1\", \"cpuMillis\": 1000, \"priorityClass\": \"urgent\","
                + " \"command\": [\"sh\", \"-c\", \"echo urgent ran\"]}",
            admin);
    assertThat(urgent.statusCode()).as(urgent.body()).isEqualTo(201);

    awaitState("urgent-1", "succeeded");
    assertThat(api.send("GET", "/api/tasks/urgent-1/logs", null, admin).body())
        .isEqualTo("urgent ran\n");
    // The young one's process was stopped; the old one's never was.
    assertThat(ProcessHandle.of(youngPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(json(api.send("GET", "/api/tasks/old", null, admin)).get("attempt").asInt())
        .isEqualTo(1);
    // The evicted task went back to the queue, and runs again: a second attempt, though it
    // allows only one, since the evicted one does not count.
    awaitState("young", "running");
    JsonNode young = json(api.send("GET", "/api/tasks/young", null, admin));
    assertThat(young.get("attempt").asInt()).isEqualTo(2);
    assertThat(young.get("preemptions").asInt()).isEqualTo(1);
    assertThat(young.get("preemptedBy").asText()).isEqualTo("urgent-1");
    assertThat(young.get("lastError").asText()).isEqualTo("attempt 1 preempted by urgent-1");
    assertThat(Files.readAllLines(pids.resolve("young"))).hasSize(2);

    String metrics = api.send("GET", "/metrics", null, admin).body();
    assertThat(metrics)
        .contains("stowage_preemptions_total{")
        .containsPattern(
            "stowage_preemptions_total\\{[^}]*stowage_preemptor_queue=\"default\",stowage_queue=\"default\"[^}]*\\}"
                + " 1\\.0");
  }

  @Test
  void aQueuedVictimSaysWhoPreemptedItAndThePreemptingTaskWhatItEvicted() throws Exception {
    start();
    // The low task ignores SIGTERM, so it holds its CPU through the backend's grace: the state
    // between eviction and the preempting task's placement can be read.
    for (String id : List.of("stubborn-a", "stubborn-b")) {
      var r =
          api.send(
              "POST",
              "/api/tasks",
              ("{\"id\": \"%s\", \"cpuMillis\": 1000, \"command\": [\"sh\", \"-c\","
                      + " \"trap '' TERM; sleep 300 & wait; sleep 300\"]}")
                  .formatted(id),
              admin);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
      awaitState(id, "running");
      Thread.sleep(50);
    }
    api.send(
        "POST",
        "/api/tasks",
        "{\"id\": \"urgent-2\", \"cpuMillis\": 1000, \"priorityClass\": \"urgent\","
            + " \"command\": [\"true\"]}",
        admin);
    awaitState("stubborn-b", "queued");
    JsonNode victim = json(api.send("GET", "/api/tasks/stubborn-b/why", null, admin));
    assertThat(victim.get("preemptedBy").asText()).isEqualTo("urgent-2");
    assertThat(victim.get("why").asText()).endsWith("; attempt 1 was preempted by urgent-2");
    // The evicted process ignores SIGTERM, so for the backend's grace (5 s) the room is not free
    // and the preempting task still waits.
    JsonNode preemptor = json(api.send("GET", "/api/tasks/urgent-2/why", null, admin));
    assertThat(preemptor.get("state").asText()).isEqualTo("queued");
    assertThat(preemptor.get("why").asText())
        .startsWith("preempted stubborn-b on local at ")
        .contains(", to be placed there once they have stopped");
    assertThat(json(api.send("GET", "/api/tasks/stubborn-a", null, admin)).get("state").asText())
        .isEqualTo("running");
    awaitState("urgent-2", "succeeded");
  }

  private static long firstPid(Path file) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(file) && !Files.readString(file).isBlank()) {
        return Long.parseLong(Files.readAllLines(file).getFirst().strip());
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no pid in " + file);
  }

  private void awaitState(String id, String state) throws Exception {
    api.await("/api/tasks/" + id, "state", state, admin);
  }
}
