package dev.stowage.app.service;

import static dev.stowage.app.service.TestApi.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.Resources;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Queues through the API, kept in embedded PostgreSQL, and the cycle sharing a cluster by them. */
class QueueServiceTest {
  @TempDir Path tmp;
  private StowageService service;
  private String admin;
  private TestApi api;

  private void start() throws Exception {
    java.nio.file.Files.setPosixFilePermissions(
        tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    // Four CPUs: room for four tasks of 1,000 mCPU.
    var nodes =
        List.of(new SimulatedCluster.Node("n", new Resources(4000, 16_384, 0, 0), Map.of()));
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(50))
            .cluster(new StowageService.Cluster.Simulated(nodes))
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
  void queuesAreCreatedChangedAndDeletedByAdminsCheckedFieldByFieldAndKeptAcrossARestart()
      throws Exception {
    start();
    JsonNode initial = json(api.send("GET", "/api/queues", null, admin));
    assertThat(initial.get("queues").findValuesAsText("name")).containsExactly("default");

    var created =
        api.send(
            "POST",
            "/api/queues",
            "{\"name\": \"team-a\", \"weight\": 2, \"limits\": {\"cpuMillis\": 2000}}",
            admin);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    assertThat(json(created).get("weight").asDouble()).isEqualTo(2.0);
    assertThat(json(created).at("/limits/cpuMillis").asLong()).isEqualTo(2000);
    assertThat(api.send("POST", "/api/queues", "{\"name\": \"team-a\"}", admin).statusCode())
        .isEqualTo(409);

    var bad =
        api.send(
            "POST",
            "/api/queues",
            "{\"name\": \"Team A\", \"weight\": -1, \"limits\": {\"gpus\": 1.5, \"cpus\": 1},"
                + " \"colour\": \"red\"}",
            admin);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("fields").findValuesAsText("field"))
        .containsExactlyInAnyOrder("colour", "name", "weight", "limits.gpus", "limits.cpus");

    // A key given twice is refused, naming it, for queues and tokens alike.
    var twice = api.send("POST", "/api/queues", "{\"name\": \"a\", \"name\": \"b\"}", admin);
    assertThat(twice.statusCode()).isEqualTo(400);
    assertThat(json(twice).at("/fields/0/field").asText()).isEqualTo("name");
    assertThat(json(twice).at("/fields/0/message").asText()).isEqualTo("given twice");
    assertThat(api.send("GET", "/api/queues/b", null, admin).statusCode()).isEqualTo(404);
    var tokenTwice =
        api.send(
            "POST",
            "/api/tokens",
            "{\"name\": \"t1\", \"name\": \"t2\", \"role\": \"reader\"}",
            admin);
    assertThat(tokenTwice.statusCode()).isEqualTo(400);
    assertThat(json(tokenTwice).at("/fields/0/field").asText()).isEqualTo("name");

    String reader = api.token("watcher", "reader", admin);
    assertThat(api.send("POST", "/api/queues", "{\"name\": \"mine\"}", reader).statusCode())
        .isEqualTo(403);
    assertThat(api.send("GET", "/api/queues/team-a", null, reader).statusCode()).isEqualTo(200);
    assertThat(api.send("GET", "/api/queues", null, null).statusCode()).isEqualTo(401);

    var changed = api.send("PUT", "/api/queues/team-a", "{\"weight\": 3}", admin);
    assertThat(changed.statusCode()).as(changed.body()).isEqualTo(200);
    assertThat(json(changed).get("limits").size()).isZero();
    assertThat(api.send("PUT", "/api/queues/nope", "{\"weight\": 3}", admin).statusCode())
        .isEqualTo(404);
    var renamed = api.send("PUT", "/api/queues/team-a", "{\"name\": \"team-b\"}", admin);
    assertThat(renamed.statusCode()).isEqualTo(400);
    assertThat(json(renamed).at("/fields/0/message").asText())
        .isEqualTo("is 'team-b' but the path names 'team-a'");

    // A task names its queue; an unknown one is refused with the field, with the batch's other
    // errors.
    var unknown =
        api.send(
            "POST",
            "/api/tasks",
            "{\"tasks\": [{\"id\": \"x\", \"command\": [\"true\"], \"queue\": \"nope\"},"
                + " {\"id\": \"y\", \"command\": [\"true\"], \"queue\": \"Bad Name\"},"
                + " {\"id\": \"z\", \"command\": [\"true\"], \"priority\": \"high\"}]}",
            admin);
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(json(unknown).get("fields").findValuesAsText("field"))
        .containsExactly("tasks[0].queue", "tasks[1].queue", "tasks[2].priority");
    assertThat(json(unknown).at("/fields/0/message").asText())
        .startsWith("no queue named \"nope\" (GET /api/queues lists them)");
    assertThat(json(api.send("GET", "/api/tasks/x", null, admin)).get("error").asText())
        .isEqualTo("no task with id 'x'");

    api.send("POST", "/api/scheduling/pause", "", admin);
    var ok =
        api.send(
            "POST",
            "/api/tasks",
            "{\"id\": \"a-1\", \"command\": [\"true\"], \"queue\": \"team-a\"}",
            admin);
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(201);
    assertThat(json(api.send("GET", "/api/tasks/a-1", null, admin)).get("queue").asText())
        .isEqualTo("team-a");
    JsonNode teamA = json(api.send("GET", "/api/queues/team-a", null, admin));
    assertThat(teamA.get("queued").asLong()).isEqualTo(1);
    assertThat(teamA.at("/oldestQueued/id").asText()).isEqualTo("a-1");

    var busy = api.send("DELETE", "/api/queues/team-a", null, admin);
    assertThat(busy.statusCode()).isEqualTo(409);
    assertThat(json(busy).get("error").asText())
        .isEqualTo(
            "queue 'team-a' holds 1 queued and 0 running task(s): cancel them or let them finish"
                + " first");
    assertThat(api.send("DELETE", "/api/queues/default", null, admin).statusCode()).isEqualTo(409);
    assertThat(api.send("POST", "/api/tasks/a-1/cancel", "", admin).statusCode()).isEqualTo(200);
    assertThat(api.send("POST", "/api/queues", "{\"name\": \"gone\"}", admin).statusCode())
        .isEqualTo(201);
    assertThat(api.send("DELETE", "/api/queues/gone", null, admin).statusCode()).isEqualTo(200);
    assertThat(api.send("GET", "/api/queues/gone", null, admin).statusCode()).isEqualTo(404);

    var audit = json(api.send("GET", "/api/audit?limit=1000", null, admin)).get("entries");
    assertThat(audit.findValuesAsText("action"))
        .contains("queue.create", "queue.replace", "queue.delete");

    // The queues are in PostgreSQL: a restart on the same data keeps them.
    service.close();
    start();
    JsonNode after = json(api.send("GET", "/api/queues", null, admin));
    assertThat(after.get("queues").findValuesAsText("name")).containsExactly("default", "team-a");
    assertThat(after.at("/queues/1/weight").asDouble()).isEqualTo(3.0);
    assertThat(json(api.send("GET", "/api/tasks/a-1", null, admin)).get("queue").asText())
        .isEqualTo("team-a");
  }

  @Test
  void theCycleSharesTheClusterByWeightAndStopsAQueueAtItsLimitSayingWhy() throws Exception {
    start();
    api.send("POST", "/api/scheduling/pause", "", admin);
    assertThat(
            api.send("POST", "/api/queues", "{\"name\": \"big\", \"weight\": 3}", admin)
                .statusCode())
        .isEqualTo(201);
    assertThat(
            api.send(
                    "POST",
                    "/api/queues",
                    "{\"name\": \"capped\", \"weight\": 1, \"limits\": {\"cpuMillis\": 1000}}",
                    admin)
                .statusCode())
        .isEqualTo(201);
    // Each queue has more work than the cluster holds; 'capped' is submitted first, with higher
    // priority: a single priority queue would give it the whole cluster.
    var tasks = new StringBuilder("{\"tasks\": [");
    for (int i = 0; i < 6; i++) {
      tasks.append(i == 0 ? "" : ", ").append(task("capped-" + i, "capped", 9));
    }
    for (int i = 0; i < 6; i++) {
      tasks.append(", ").append(task("big-" + i, "big", 0));
    }
    tasks.append("]}");
    var submitted = api.send("POST", "/api/tasks", tasks.toString(), admin);
    assertThat(submitted.statusCode()).as(submitted.body()).isEqualTo(201);
    api.send("POST", "/api/scheduling/resume", "", admin);

    JsonNode queues = null;
    for (int i = 0; i < 200; i++) {
      queues = json(api.send("GET", "/api/queues", null, admin));
      if (queues.at("/queues/0/runningTasks").asLong() == 3
          && queues.at("/queues/1/runningTasks").asLong() == 1) {
        break;
      }
      Thread.sleep(50);
    }
    // By name: big, capped, default.
    assertThat(queues.get("queues").findValuesAsText("name"))
        .containsExactly("big", "capped", "default");
    JsonNode big = queues.get("queues").get(0);
    JsonNode capped = queues.get("queues").get(1);
    assertThat(big.get("runningTasks").asLong()).isEqualTo(3);
    assertThat(big.get("dominantShare").asDouble()).isEqualTo(0.75);
    assertThat(big.get("fairShare").asDouble()).isEqualTo(0.75);
    assertThat(big.get("queued").asLong()).isEqualTo(3);
    assertThat(capped.get("runningTasks").asLong()).isEqualTo(1);
    assertThat(capped.at("/running/cpuMillis").asLong()).isEqualTo(1000);
    assertThat(capped.get("dominantShare").asDouble()).isEqualTo(0.25);
    assertThat(capped.get("fairShare").asDouble()).isEqualTo(0.25);
    assertThat(capped.at("/atLimit/reason").asText())
        .isEqualTo("queue capped is at its limit of cpuMillis: 1000 held + 1000 asked > 1000");

    String waiting =
        List.of("capped-0", "capped-1", "capped-2").stream()
            .filter(
                id ->
                    json(unchecked(() -> api.send("GET", "/api/tasks/" + id, null, admin)))
                        .get("state")
                        .asText()
                        .equals("queued"))
            .findFirst()
            .orElseThrow();
    JsonNode why = json(api.send("GET", "/api/tasks/" + waiting + "/why", null, admin));
    assertThat(why.get("why").asText())
        .startsWith(
            "at the last cycle: queue capped is at its limit of cpuMillis: 1000 held + 1000"
                + " asked > 1000");
    assertThat(why.at("/queueAtLimit/limit").asLong()).isEqualTo(1000);

    // Per queue, in /metrics: every configured queue, the idle default one at zero.
    String metrics = api.send("GET", "/metrics", null, admin).body();
    var lines = metrics.lines().filter(l -> l.startsWith("stowage_queue_")).toList();
    String scope = "otel_scope_name=\"dev.stowage.service\",";
    assertThat(lines)
        .contains(
            "stowage_queue_dominant_share_ratio{" + scope + "stowage_queue=\"big\"} 0.75",
            "stowage_queue_dominant_share_ratio{" + scope + "stowage_queue=\"default\"} 0.0",
            "stowage_queue_fair_share_ratio{" + scope + "stowage_queue=\"capped\"} 0.25",
            // The idle default queue: its weight 1 over 3 + 1 + its own 1.
            "stowage_queue_fair_share_ratio{" + scope + "stowage_queue=\"default\"} 0.2",
            "stowage_queue_tasks{"
                + scope
                + "stowage_queue=\"capped\",stowage_task_state=\"queued\"} 5.0",
            "stowage_queue_tasks{"
                + scope
                + "stowage_queue=\"capped\",stowage_task_state=\"running\"} 1.0",
            "stowage_queue_tasks{"
                + scope
                + "stowage_queue=\"default\",stowage_task_state=\"running\"} 0.0");
  }

  private static String task(String id, String queue, int priority) {
    return "{\"id\": \""
        + id
        + "\", \"command\": [\"true\"], \"cpuMillis\": 1000, \"queue\": \""
        + queue
        + "\", \"priority\": "
        + priority
        + ", \"env\": {\"STOWAGE_SIM_DURATION_MS\": \"600000\"}}";
  }

  private interface Call {
    HttpResponse<String> call() throws Exception;
  }

  private static HttpResponse<String> unchecked(Call c) {
    try {
      return c.call();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
