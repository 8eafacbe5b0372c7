package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.preemption.PriorityClass;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  @TempDir Path tmp;
  private StowageService service;
  private String admin;

  private void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(100))
            .cluster(new StowageService.Cluster.Local(new Resources(2000, 8192, 100_000, 0)))
            .priorityClasses(List.of(new PriorityClass("urgent", 1000, true, true)))
            .start();
    admin = Files.readString(service.adminTokenFile()).strip();
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
    assertThat(json(send("GET", "/api/priority-classes", null, admin)).toString())
        .isEqualTo(
            "{\"priorityClasses\":[{\"name\":\"urgent\",\"value\":1000,\"preempts\":true,"
                + "\"preemptible\":true}]}");
    var created =
        send("POST", "/api/priority-classes", "{\"name\": \"batch\", \"value\": 10}", admin);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    assertThat(created.body())
        .isEqualTo("{\"name\":\"batch\",\"value\":10,\"preempts\":false,\"preemptible\":true}");
    assertThat(
            send("POST", "/api/priority-classes", "{\"name\": \"batch\", \"value\": 1}", admin)
                .statusCode())
        .isEqualTo(409);
    var bad =
        send(
            "POST",
            "/api/priority-classes",
            "{\"name\": \"Big\", \"value\": 1.5, \"preempts\": \"yes\", \"colour\": 1}",
            admin);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("fields").findValuesAsText("field"))
        .containsExactlyInAnyOrder("colour", "name", "value", "preempts");
    String submitter = token("team", "submitter");
    assertThat(
            send("POST", "/api/priority-classes", "{\"name\": \"mine\", \"value\": 1}", submitter)
                .statusCode())
        .isEqualTo(403);
    var replaced =
        send(
            "PUT", "/api/priority-classes/batch", "{\"value\": 20, \"preemptible\": false}", admin);
    assertThat(replaced.body())
        .isEqualTo("{\"name\":\"batch\",\"value\":20,\"preempts\":false,\"preemptible\":false}");

    var refused =
        send(
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
        send(
            "POST",
            "/api/tasks",
            "{\"id\": \"classy\", \"command\": [\"true\"], \"priorityClass\": \"batch\"}",
            admin);
    assertThat(named.statusCode()).as(named.body()).isEqualTo(201);
    JsonNode view = json(send("GET", "/api/tasks/classy", null, admin));
    assertThat(view.get("priority").asInt()).isEqualTo(20);
    assertThat(view.get("priorityClass").asText()).isEqualTo("batch");

    assertThat(send("DELETE", "/api/priority-classes/batch", null, admin).statusCode())
        .isEqualTo(200);
    assertThat(send("GET", "/api/priority-classes/batch", null, admin).statusCode()).isEqualTo(404);

    // Kept in PostgreSQL: a restart on the same data has them.
    send("POST", "/api/priority-classes", "{\"name\": \"kept\", \"value\": 5}", admin);
    service.close();
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(100))
            .cluster(new StowageService.Cluster.Local(new Resources(2000, 8192, 100_000, 0)))
            .start();
    assertThat(
            json(send("GET", "/api/priority-classes", null, admin))
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
          send(
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
        send(
            "POST",
            "/api/tasks",
            "{\"id\": \"urgent-1\", \"cpuMillis\": 1000, \"priorityClass\": \"urgent\","
                + " \"command\": [\"sh\", \"-c\", \"echo urgent ran\"]}",
            admin);
    assertThat(urgent.statusCode()).as(urgent.body()).isEqualTo(201);

    awaitState("urgent-1", "succeeded");
    assertThat(send("GET", "/api/tasks/urgent-1/logs", null, admin).body())
        .isEqualTo("urgent ran\n");
    // The young one's process was stopped; the old one's never was.
    assertThat(ProcessHandle.of(youngPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(json(send("GET", "/api/tasks/old", null, admin)).get("attempt").asInt())
        .isEqualTo(1);
    // The evicted task went back to the queue, and runs again: a second attempt, though it
    // allows only one, since the evicted one does not count.
    awaitState("young", "running");
    JsonNode young = json(send("GET", "/api/tasks/young", null, admin));
    assertThat(young.get("attempt").asInt()).isEqualTo(2);
    assertThat(young.get("preemptions").asInt()).isEqualTo(1);
    assertThat(young.get("preemptedBy").asText()).isEqualTo("urgent-1");
    assertThat(young.get("lastError").asText()).isEqualTo("attempt 1 preempted by urgent-1");
    assertThat(Files.readAllLines(pids.resolve("young"))).hasSize(2);

    String metrics = send("GET", "/metrics", null, admin).body();
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
          send(
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
    send(
        "POST",
        "/api/tasks",
        "{\"id\": \"urgent-2\", \"cpuMillis\": 1000, \"priorityClass\": \"urgent\","
            + " \"command\": [\"true\"]}",
        admin);
    awaitState("stubborn-b", "queued");
    JsonNode victim = json(send("GET", "/api/tasks/stubborn-b/why", null, admin));
    assertThat(victim.get("preemptedBy").asText()).isEqualTo("urgent-2");
    assertThat(victim.get("why").asText()).endsWith("; attempt 1 was preempted by urgent-2");
    // The evicted process ignores SIGTERM, so for the backend's grace (5 s) the room is not free
    // and the preempting task still waits.
    JsonNode preemptor = json(send("GET", "/api/tasks/urgent-2/why", null, admin));
    assertThat(preemptor.get("state").asText()).isEqualTo("queued");
    assertThat(preemptor.get("why").asText())
        .startsWith("preempted stubborn-b on local at ")
        .contains(", to be placed there once they have stopped");
    assertThat(json(send("GET", "/api/tasks/stubborn-a", null, admin)).get("state").asText())
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

  /** Polls the task until it is in {@code state}, for 60 s at most. */
  private void awaitState(String id, String state) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    String now = "";
    while (!now.equals(state)) {
      assertThat(System.nanoTime())
          .as(id + " reaches " + state + ", is " + now)
          .isLessThan(deadline);
      Thread.sleep(50);
      now = json(send("GET", "/api/tasks/" + id, null, admin)).get("state").asText();
    }
  }

  private String token(String name, String role) throws Exception {
    var r =
        send(
            "POST",
            "/api/tokens",
            "{\"name\": \"" + name + "\", \"role\": \"" + role + "\"}",
            admin);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return json(r).get("token").asText();
  }

  private HttpResponse<String> send(String method, String path, String body, String token)
      throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(service.url() + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> response) {
    try {
      return TaskJson.MAPPER.readTree(response.body());
    } catch (Exception e) {
      throw new IllegalStateException(response.body(), e);
    }
  }
}
