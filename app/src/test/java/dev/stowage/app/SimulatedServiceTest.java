package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.app.service.StowageService;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.Resources;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service on a simulated cluster: pausing, and tasks that no node could ever host. */
class SimulatedServiceTest {
  @TempDir static Path tmp;
  static StowageService service;
  static final HttpClient HTTP = HttpClient.newHttpClient();
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    var nodes =
        List.of(
            new SimulatedCluster.Node("a", new Resources(4000, 8192, 0, 0), Map.of("zone", "a")),
            new SimulatedCluster.Node("b", new Resources(4000, 8192, 0, 0), Map.of("zone", "b")));
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(50))
            .cluster(new StowageService.Cluster.Simulated(nodes))
            .maxTasksPerCycle(100)
            .start();
  }

  @AfterAll
  static void stop() {
    service.close();
  }

  @Test
  void aTaskNoNodeCouldHostIsAcceptedFlaggedAndExplainedWhileOthersRun() throws Exception {
    var created =
        post(
            "/api/tasks",
            """
            {"tasks": [
              {"id": "sim/huge", "command": ["sim"], "memoryMiB": 10000, "priority": 9},
              {"id": "sim/zone-c", "command": ["sim"], "constraints": {"zone": "c"}},
              {"id": "sim/ok", "command": ["sim"], "cpuMillis": 1000,
               "env": {"STOWAGE_SIM_DURATION_MS": "10"}}
            ]}
            """);

    assertThat(created.statusCode()).isEqualTo(201);
    JsonNode never = JSON.readTree(created.body()).get("neverSchedulable");
    assertThat(never.get("sim/huge").asText())
        .isEqualTo("never schedulable: 0/2 nodes fit it empty: 2 insufficient memoryMiB");
    assertThat(never.get("sim/zone-c").asText())
        .isEqualTo("never schedulable: 0/2 nodes fit it empty: 2 constraint zone=c");
    assertThat(never.has("sim/ok")).isFalse();

    awaitState("sim/ok", "succeeded");
    JsonNode why = JSON.readTree(get("/api/tasks/sim%2Fhuge/why").body());
    assertThat(why.get("state").asText()).isEqualTo("queued");
    assertThat(why.get("neverSchedulable").asBoolean()).isTrue();
    assertThat(why.get("why").asText())
        .startsWith("never schedulable: 0/2 nodes fit it empty: 2 insufficient memoryMiB;")
        .contains("until the cluster's nodes change");
    assertThat(JSON.readTree(get("/api/tasks/sim%2Fhuge").body()).get("neverSchedulable").asText())
        .endsWith("2 insufficient memoryMiB");

    // Counted apart from the queue, which they are kept out of.
    String metrics = get("/metrics").body();
    var gauge =
        java.util.regex.Pattern.compile("(?m)^stowage_tasks_never_schedulable(\\{[^}]*})? (\\S+)$")
            .matcher(metrics);
    assertThat(gauge.find()).as(metrics).isTrue();
    assertThat(Double.parseDouble(gauge.group(2))).isGreaterThanOrEqualTo(2);
    assertThat(metrics)
        .contains("# HELP stowage_tasks_never_schedulable Queued tasks that no node");
  }

  @Test
  void aTaskWaitingForRoomSaysWhatTheLastCycleFoundAndForHowManyCycles() throws Exception {
    assertThat(
            post(
                    "/api/tasks",
                    """
                    {"tasks": [
                      {"id": "sim/b-hog", "command": ["sim"], "cpuMillis": 4000,
                       "constraints": {"zone": "b"}, "priority": 5,
                       "env": {"STOWAGE_SIM_DURATION_MS": "3600000"}},
                      {"id": "sim/b-next", "command": ["sim"], "cpuMillis": 1000,
                       "constraints": {"zone": "b"}}
                    ]}
                    """)
                .statusCode())
        .isEqualTo(201);
    awaitState("sim/b-hog", "running");
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    JsonNode why = JSON.readTree(get("/api/tasks/sim%2Fb-next/why").body());
    while (why.path("cyclesSinceQueued").asLong() < 2) {
      assertThat(System.nanoTime()).as(why.toString()).isLessThan(deadline);
      Thread.sleep(50);
      why = JSON.readTree(get("/api/tasks/sim%2Fb-next/why").body());
    }

    assertThat(why.get("state").asText()).isEqualTo("queued");
    assertThat(why.get("neverSchedulable").asBoolean()).isFalse();
    assertThat(why.get("why").asText())
        .startsWith("at the last cycle (")
        .contains("): 0/2 offers fit: 1 constraint zone=b, 1 insufficient cpuMillis; queued since ")
        .matches(".*, \\d+ cycles$");
    assertThat(why.at("/reasons/insufficient cpuMillis").asInt()).isEqualTo(1);
    // The same reasons with their numbers: node b offered none of the 1000 it asks.
    assertThat(why.at("/rejections/1/resource").asText()).isEqualTo("cpuMillis");
    assertThat(why.at("/rejections/1/requested").asLong()).isEqualTo(1000);
    assertThat(why.at("/rejections/1/mostFree").asLong()).isZero();
    assertThat(why.at("/rejections/0/key").asText()).isEqualTo("zone");
    assertThat(why.at("/rejections/0/wanted").asText()).isEqualTo("b");
  }

  @Test
  void pausedSchedulingPlacesNothingAndResumingPlacesTheWaitingWork() throws Exception {
    JsonNode paused = JSON.readTree(post("/api/scheduling/pause", "").body());
    assertThat(paused.get("paused").asBoolean()).isTrue();
    try {
      assertThat(
              post(
                      "/api/tasks",
                      "{\"id\": \"sim/held\", \"command\": [\"sim\"],"
                          + " \"env\": {\"STOWAGE_SIM_DURATION_MS\": \"10\"}}")
                  .statusCode())
          .isEqualTo(201);
      long cycles = JSON.readTree(get("/api/scheduling").body()).get("cycles").asLong();
      Thread.sleep(500); // ten intervals of the loop
      JsonNode state = JSON.readTree(get("/api/scheduling").body());
      assertThat(state.get("paused").asBoolean()).isTrue();
      assertThat(state.get("cycles").asLong()).isEqualTo(cycles);
      assertThat(JSON.readTree(get("/api/tasks/sim%2Fheld").body()).get("state").asText())
          .isEqualTo("queued");
    } finally {
      assertThat(JSON.readTree(post("/api/scheduling/resume", "").body()).get("paused").asBoolean())
          .isFalse();
    }
    awaitState("sim/held", "succeeded");
  }

  private static void awaitState(String id, String state) throws Exception {
    String path = "/api/tasks/" + id.replace("/", "%2F");
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    String now = "";
    while (!now.equals(state)) {
      assertThat(System.nanoTime()).as("%s reaches %s, is %s", id, state, now).isLessThan(deadline);
      Thread.sleep(20);
      now = JSON.readTree(get(path).body()).get("state").asText();
    }
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(service.url() + path))
            .header("Authorization", auth())
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(String path, String body) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(service.url() + path))
            .header("Authorization", auth())
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The admin token the service wrote at its first start, as a bearer header. */
  static String auth() throws Exception {
    return "Bearer " + Files.readString(service.adminTokenFile()).strip();
  }
}
