package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
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

/** The service over HTTP, on embedded PostgreSQL and this machine's processes. */
class StowageServiceTest {
  @TempDir static Path tmp;
  static StowageService service;
  static HeldS3Endpoint s3;
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    s3 = new HeldS3Endpoint();
    // The service reads S3's standard variables; here they name the endpoint above.
    var environment =
        Map.of(
            "AWS_ENDPOINT_URL_S3", s3.url(),
            "AWS_ACCESS_KEY_ID", "access",
            "AWS_SECRET_ACCESS_KEY", "secret",
            "AWS_REGION", "us-east-1");
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(200))
            .allowedSources(
                List.of(tmp.resolve("inputs").toUri().toString(), "s3://allowed-bucket"))
            .allowedOutputs(List.of(tmp.resolve("results").toUri().toString()))
            .environment(
                name -> environment.containsKey(name) ? environment.get(name) : System.getenv(name))
            .start();
    Files.createDirectories(tmp.resolve("inputs"));
    Files.createDirectories(tmp.resolve("results"));
  }

  @AfterAll
  static void stop() {
    service.close();
    s3.close();
  }

  @Test
  void aSubmittedDagRunsToSuccess() throws Exception {
    Path out = shared().resolve("dag.txt");
    var body =
        """
        {"tasks": [
          {"id": "svc/extract", "command": ["sh", "-c", "echo one >> %s"], "cpuMillis": 100},
          {"id": "svc/load", "command": ["sh", "-c", "echo two >> %s"], "cpuMillis": 100,
           "dependsOn": ["svc/extract"]}
        ]}
        """
            .formatted(out, out);

    var created = post("/api/tasks", body, null);
    assertThat(created.statusCode()).isEqualTo(201);
    assertThat(json(created).get("ids").toString()).isEqualTo("[\"svc/extract\",\"svc/load\"]");

    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    String state = "";
    while (!state.equals("succeeded")) {
      assertThat(System.nanoTime()).as("svc/load succeeds within 30 s").isLessThan(deadline);
      Thread.sleep(100);
      state = json(get("/api/tasks/svc%2Fload")).get("state").asText();
    }
    assertThat(Files.readAllLines(out)).containsExactly("one", "two");
    assertThat(json(get("/api/tasks/svc%2Fextract")).get("attempt").asInt()).isEqualTo(1);

    // Every cycle is a trace, kept in memory and served as OTLP/JSON.
    JsonNode cycle = null;
    for (JsonNode t : json(get("/api/traces?limit=1000")).get("traces")) {
      if (t.get("root").asText().equals("scheduling_cycle") && t.get("spans").asInt() >= 7) {
        cycle = t;
      }
    }
    assertThat(cycle).as("a cycle's trace is listed").isNotNull();
    var spans = spansOf(cycle.get("traceId").asText());
    assertThat(spans.findValuesAsText("name"))
        .contains(
            "scheduling_cycle",
            "get_resource_offers_from_cluster",
            "get_processable_tasks",
            "match_tasks_to_offers",
            "prepare_payloads",
            "launch");
    assertThat(get("/api/traces/" + "0".repeat(32)).statusCode()).isEqualTo(404);
    // A cycle that launched something names its trace and says how long it took.
    JsonNode launching = null;
    for (JsonNode c : json(get("/api/cycles")).get("cycles")) {
      if (c.get("launched").asInt() > 0) {
        launching = c;
      }
    }
    assertThat(launching).as("a cycle that launched a task is listed").isNotNull();
    assertThat(launching.get("durationMs").asDouble()).isPositive();
    assertThat(get("/api/traces/" + launching.get("traceId").asText()).statusCode()).isEqualTo(200);

    // OpenMetrics when the scraper asks for it, with exemplars (of what happened since
    // the last scrape, so first): a cycle's duration leads to the
    // cycle's kept trace, a queue wait to the task's.
    var open =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(service.url() + "/metrics"))
                .header("Authorization", auth())
                .header(
                    "Accept",
                    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2")
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(open.headers().firstValue("Content-Type").orElse(""))
        .startsWith("application/openmetrics-text");
    assertThat(open.body()).endsWith("# EOF\n");
    var exemplar =
        java.util.regex.Pattern.compile(
            "(?m)^stowage_cycle_duration_seconds_bucket\\{[^}]*\\} \\d+ # \\{span_id=\"[0-9a-f]{16}\","
                + "trace_id=\"([0-9a-f]{32})\"\\}");
    var found = exemplar.matcher(open.body());
    assertThat(found.find()).as(open.body()).isTrue();
    assertThat(get("/api/traces/" + found.group(1)).statusCode()).isEqualTo(200);
    var waited =
        java.util.regex.Pattern.compile(
                "(?m)^stowage_task_queue_wait_seconds_bucket\\{[^}]*\\} \\d+ # \\{span_id=\"[0-9a-f]{16}\","
                    + "trace_id=\"([0-9a-f]{32})\"\\}")
            .matcher(open.body());
    assertThat(waited.find()).as(open.body()).isTrue();
    assertThat(get("/api/traces/" + waited.group(1)).statusCode()).isEqualTo(200);

    // Metrics, in Prometheus' text format.
    var metrics = get("/metrics");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
    assertThat(metrics.body())
        .contains("stowage_cycle_duration_seconds_count")
        .contains("stowage_cycle_phase_duration_seconds_count{")
        .contains("stowage_phase=\"match_tasks_to_offers\"")
        .contains("stowage_tasks_matched_total")
        .contains("stowage_task_queue_wait_seconds_count")
        .contains("stowage_cluster_utilization_ratio{")
        // Buckets in seconds, not the SDK's millisecond-sized defaults.
        .containsPattern("stowage_cycle_duration_seconds_bucket\\{[^}]*le=\"0\\.005\"\\}")
        .containsPattern("stowage_tasks\\{[^}]*stowage_task_state=\"succeeded\"[^}]*\\} [1-9]");
  }

  @Test
  void inputsAreStagedIntoTheWorkDirectoryBeforeTheTaskStarts() throws Exception {
    Path data = Files.writeString(tmp.resolve("inputs/rows.csv"), "id,value\n1,42\n");
    var body =
        """
        {"id": "svc/staged", "command": ["sh", "-c", "cat in/rows.csv"], "cpuMillis": 100,
         "inputs": [{"source": "%s", "destination": "in/rows.csv"}]}
        """
            .formatted(data.toUri());

    assertThat(post("/api/tasks", body, null).statusCode()).isEqualTo(201);

    awaitState("svc%2Fstaged", "succeeded");
    assertThat(get("/api/tasks/svc%2Fstaged/logs").body()).isEqualTo("id,value\n1,42\n");
    // The copy is traced under the attempt it was for, in the task's trace.
    String traceId = json(get("/api/tasks/svc%2Fstaged")).get("traceId").asText();
    JsonNode spans = spansOf(traceId);
    String attempt = null;
    String stagingParent = null;
    for (JsonNode span : spans) {
      switch (span.get("name").asText()) {
        case "task_attempt" -> attempt = span.get("spanId").asText();
        case "stage_inputs" -> stagingParent = span.get("parentSpanId").asText();
        default -> {}
      }
    }
    assertThat(attempt).isNotNull();
    assertThat(stagingParent).isEqualTo(attempt);
  }

  @Test
  void outputsAreCopiedOutAfterTheProcessExitsAndBeforeTheTaskSucceeds() throws Exception {
    var body =
        """
        {"tasks": [
          {"id": "svc/writes", "command": ["sh", "-c", "mkdir -p out/sub && echo 42 > out/a.txt && echo 7 > out/sub/b.txt"],
           "outputs": [{"source": "out", "destination": "%s"}]},
          {"id": "svc/writes-nothing", "command": ["true"],
           "outputs": [{"source": "missing.txt", "destination": "%s"}]},
          {"id": "svc/exports-a-link", "command": ["ln", "-s", "/etc/hostname", "leak.txt"],
           "outputs": [{"source": "leak.txt", "destination": "%s"}]}
        ]}
        """
            .formatted(
                tmp.resolve("results/run-1").toUri() + "/",
                tmp.resolve("results/missing.txt").toUri(),
                tmp.resolve("results/leak.txt").toUri());

    assertThat(post("/api/tasks", body, null).statusCode()).isEqualTo(201);

    awaitState("svc%2Fwrites", "succeeded");
    assertThat(tmp.resolve("results/run-1/a.txt")).hasContent("42");
    assertThat(tmp.resolve("results/run-1/sub/b.txt")).hasContent("7");
    awaitState("svc%2Fwrites-nothing", "failed");
    assertThat(json(get("/api/tasks/svc%2Fwrites-nothing")).get("lastError").asText())
        .isEqualTo(
            "collecting outputs failed: output missing.txt: no such file or directory in the work"
                + " directory");
    awaitState("svc%2Fexports-a-link", "failed");
    assertThat(json(get("/api/tasks/svc%2Fexports-a-link")).get("lastError").asText())
        .isEqualTo(
            "collecting outputs failed: output leak.txt is not a regular file inside the work"
                + " directory");
    assertThat(tmp.resolve("results/leak.txt")).doesNotExist();

    var refused =
        post(
            "/api/tasks",
            "{\"id\": \"svc/exports-anywhere\", \"command\": [\"true\"], \"outputs\":"
                + " [{\"source\": \"x\", \"destination\": \"file:///etc/x\"}]}",
            null);
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(refused.body())
        .contains("\"outputs[0].destination\"")
        .contains("is outside the allowed output locations");
  }

  @Test
  void whileInputsStageTheTaskViewAndWhyShowBytesAndFilesDoneOfTotal() throws Exception {
    byte[] large = new byte[256 << 10];
    new java.util.Random(3).nextBytes(large);
    s3.put("allowed-bucket", "held/a.bin", new byte[1024]);
    s3.put("allowed-bucket", "held/b.bin", large);
    s3.hold("allowed-bucket", "held/b.bin", 64 << 10); // its body stops a quarter of the way
    var body =
        """
        {"id": "svc/held", "command": ["sh", "-c", "wc -c < in/b.bin"], "cpuMillis": 100,
         "inputs": [{"source": "s3://allowed-bucket/held/a.bin", "destination": "in/a.bin"},
                    {"source": "s3://allowed-bucket/held/b.bin", "destination": "in/b.bin"}]}
        """;

    assertThat(post("/api/tasks", body, null).statusCode()).isEqualTo(201);
    assertThat(s3.awaitHeld()).as("the large object's transfer held midway").isTrue();

    // The small object lands while the large one is held: 1 of 2 files, its bytes of the total.
    JsonNode view = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      view = json(get("/api/tasks/svc%2Fheld"));
      if (view.has("staging") && view.get("staging").get("filesDone").asInt() == 1) {
        break;
      }
      Thread.sleep(20);
    }
    assertThat(view.get("state").asText()).isEqualTo("staging");
    assertThat(view.get("staging").toString())
        .isEqualTo(
            "{\"bytesDone\":1024,\"bytesTotal\":%d,\"filesDone\":1,\"filesTotal\":2}"
                .formatted(1024 + large.length));
    assertThat(json(get("/api/tasks/svc%2Fheld/why")).get("why").asText())
        .isEqualTo(
            "staging its inputs for attempt 1 on %s: 1.0 KiB of 257.0 KiB, 1 of 2 file(s)"
                .formatted(view.get("offer").asText()));

    s3.release();
    awaitState("svc%2Fheld", "succeeded");
    assertThat(get("/api/tasks/svc%2Fheld/logs").body().strip()).isEqualTo("262144");
  }

  @Test
  void anInputThatCannotBeStagedFailsTheTaskWithTheReasonShown() throws Exception {
    var body =
        """
        {"id": "svc/no-input", "command": ["true"],
         "inputs": [{"source": "%s", "destination": "x.csv"}]}
        """
            .formatted(tmp.resolve("inputs/nonexistent.csv").toUri());

    assertThat(post("/api/tasks", body, null).statusCode()).isEqualTo(201);

    awaitState("svc%2Fno-input", "failed");
    assertThat(json(get("/api/tasks/svc%2Fno-input")).get("lastError").asText())
        .isEqualTo(
            "staging failed: source "
                + tmp.resolve("inputs/nonexistent.csv").toUri()
                + ": no such file or directory");
    assertThat(json(get("/api/tasks/svc%2Fno-input/why")).get("why").asText())
        .isEqualTo(
            "failed after 1 attempt(s); last attempt: staging failed: source "
                + tmp.resolve("inputs/nonexistent.csv").toUri()
                + ": no such file or directory");
  }

  @Test
  void inputsThatLeaveTheWorkDirectoryOrComeFromElsewhereAreRefusedAtSubmit() throws Exception {
    var response =
        post(
            "/api/tasks",
            """
            {"id": "svc/escape", "command": ["true"],
             "inputs": [{"source": "%s", "destination": "../../x"},
                        {"source": "s3://other-bucket/key", "destination": "/abs"},
                        {"source": "file:///etc/hostname", "destination": "h"},
                        {"source": "http://example.com/x", "destination": "y"},
                        {"source": "s3://allowed-bucket/data/", "destination": "d"}]}
            """
                .formatted(tmp.resolve("inputs/ok.csv").toUri()),
            null);

    assertThat(response.statusCode()).isEqualTo(400);
    JsonNode errors = json(response).get("fields");
    var byField = new java.util.LinkedHashMap<String, String>();
    errors.forEach(e -> byField.put(e.get("field").asText(), e.get("message").asText()));
    assertThat(byField.keySet())
        .containsExactly(
            "inputs[0].destination",
            "inputs[1].destination",
            "inputs[1].source",
            "inputs[2].source",
            "inputs[3].source");
    assertThat(byField.get("inputs[0].destination")).contains("'..' is not allowed");
    assertThat(byField.get("inputs[1].source"))
        .startsWith("is outside the allowed sources [")
        .endsWith("got 's3://other-bucket/key'");
    assertThat(byField.get("inputs[1].destination")).contains("absolute path '/abs'");
    assertThat(byField.get("inputs[2].source")).contains("is outside the allowed sources");
    assertThat(byField.get("inputs[3].source"))
        .isEqualTo(
            "must be a file:///absolute/path or s3://bucket/key URI, got 'http://example.com/x'");
  }

  @Test
  void aYamlCommandRunsExactlyAsWritten() throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(service.url() + "/api/tasks"))
            .header("Authorization", auth())
            .header("Content-Type", "application/yaml")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "id: svc/yaml-words\ncommand: [echo, yes, no, on, 0x10, 1e3, NO]\n"));
    var created = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);

    awaitState("svc%2Fyaml-words", "succeeded");
    assertThat(get("/api/tasks/svc%2Fyaml-words/logs").body()).isEqualTo("yes no on 0x10 1e3 NO\n");
  }

  @Test
  void badRequestsGet400WithEveryFieldError() throws Exception {
    var response =
        post(
            "/api/tasks",
            """
            {"tasks": [{"id": "ok", "command": ["true"]},
                       {"id": "neg", "command": ["true"], "cpuMillis": -1, "dependsOn": ["ghost"]}]}
            """,
            null);
    var unknownField =
        post("/api/tasks", "{\"id\": \"x\", \"command\": [\"true\"], \"cpu\": 1}", null);
    var notJson = post("/api/tasks", "{oops", null);

    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.body())
        .contains("tasks[1].cpuMillis")
        .contains("must be an integer in [0, 2^53], got -1");
    assertThat(unknownField.statusCode()).isEqualTo(400);
    assertThat(unknownField.body()).contains("\"field\":\"cpu\"");
    assertThat(notJson.statusCode()).isEqualTo(400);
    assertThat(notJson.body()).contains("\"field\":\"body\"").contains("not JSON");
    assertThat(get("/api/tasks/ok").statusCode())
        .as("nothing of a bad batch is stored")
        .isEqualTo(404);
  }

  @Test
  void unknownIdsGet404AndHealthAnswers() throws Exception {
    var missing = get("/api/tasks/nope");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.body()).contains("no task with id 'nope'");
    assertThat(json(get("/api/health")).get("status").asText()).isEqualTo("ok");
  }

  @Test
  void clusterCyclesReadinessAndTheOpenApiDescriptionAnswer() throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (get("/api/ready").statusCode() != 200) {
      assertThat(System.nanoTime()).as("ready within 10 s").isLessThan(deadline);
      Thread.sleep(100);
    }
    assertThat(json(get("/api/ready")).get("ready").asBoolean()).isTrue();
    JsonNode node = json(get("/api/cluster")).get("nodes").get(0);
    assertThat(node.get("node").asText()).isEqualTo("local");
    assertThat(node.get("free.cpuMillis").asLong()).isPositive();
    JsonNode cycle = json(get("/api/cycles")).get("cycles").get(0);
    assertThat(cycle.get("phasesMs").has("match_tasks_to_offers")).isTrue();
    JsonNode openapi = json(get("/api/openapi.json"));
    assertThat(openapi.get("openapi").asText()).isEqualTo("3.1.0");
    assertThat(openapi.get("paths").has("/api/tasks/{id}/why")).isTrue();
  }

  @Test
  void aCallersTraceContinuesThroughTheSubmitAndTheAttemptIntoTheTasksProcess() throws Exception {
    String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    String callerSpan = "00f067aa0ba902b7";
    Path out = shared().resolve("traceparent.txt");
    var request =
        HttpRequest.newBuilder(URI.create(service.url() + "/api/tasks"))
            .header("Authorization", auth())
            .header("Content-Type", "application/json")
            .header("traceparent", "00-" + traceId + "-" + callerSpan + "-01")
            .header("tracestate", "congo=t61rcWkgMzE")
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "{\"id\": \"traced\", \"command\": [\"sh\", \"-c\","
                        + " \"echo $TRACEPARENT $TRACESTATE > "
                        + out
                        + "\"]}"))
            .build();
    assertThat(HTTP.send(request, HttpResponse.BodyHandlers.ofString()).statusCode())
        .isEqualTo(201);

    awaitState("traced", "succeeded");
    // What the real process saw in its environment.
    String[] env = Files.readString(out).strip().split(" ");
    String[] seen = env[0].split("-");
    assertThat(seen[1]).isEqualTo(traceId);
    assertThat(env[1]).isEqualTo("congo=t61rcWkgMzE");

    // caller → the submit's server span → the attempt's span → the process.
    JsonNode submit = null;
    JsonNode attempt = null;
    for (JsonNode span : spansOf(traceId)) {
      switch (span.get("name").asText()) {
        case "POST /api/tasks" -> submit = span;
        case "task_attempt" -> attempt = span;
        default -> {}
      }
    }
    assertThat(submit).as("the submit's server span, in the caller's trace").isNotNull();
    assertThat(submit.get("parentSpanId").asText()).isEqualTo(callerSpan);
    assertThat(submit.get("kind").asInt()).isEqualTo(2); // SERVER
    assertThat(submit.toString()).contains("http.route").contains("/api/tasks");
    // The current HTTP conventions' attributes.
    var attributes = new java.util.HashMap<String, String>();
    for (JsonNode a : submit.get("attributes")) {
      attributes.put(a.get("key").asText(), a.get("value").elements().next().asText());
    }
    assertThat(attributes)
        .containsEntry("url.scheme", "http")
        .containsEntry("server.address", "127.0.0.1")
        .containsEntry("client.address", "127.0.0.1")
        .containsKey("user_agent.original");
    assertThat(get("/metrics").body())
        .containsPattern(
            "http_server_request_duration_seconds_count\\{[^}]*http_route=\"/api/tasks\"");
    assertThat(attempt).as("the attempt's span, ended when the task succeeded").isNotNull();
    assertThat(attempt.get("parentSpanId").asText()).isEqualTo(submit.get("spanId").asText());
    assertThat(attempt.get("spanId").asText()).isEqualTo(seen[2]);
    assertThat(attempt.get("events").toString())
        .contains("\"launched\"", "\"started\"", "\"succeeded\"");
    // Linked to the cycle that placed it, a trace of its own.
    JsonNode link = attempt.get("links").get(0);
    String cycleTrace = link.get("traceId").asText();
    assertThat(cycleTrace).isNotEqualTo(traceId);
    assertThat(spansOf(cycleTrace))
        .anySatisfy(
            span -> {
              assertThat(span.get("name").asText()).isEqualTo("scheduling_cycle");
              assertThat(span.get("spanId").asText()).isEqualTo(link.get("spanId").asText());
            });
  }

  private static HttpResponse<String> post(String path, String body, String traceparent)
      throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(service.url() + path))
            .header("Authorization", auth())
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (traceparent != null) {
      request.header("traceparent", traceparent);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(service.url() + path))
            .header("Authorization", auth())
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Every span of a kept trace, whatever instrumentation scope it was recorded under. */
  private static JsonNode spansOf(String traceId) throws Exception {
    var all =
        new com.fasterxml.jackson.databind.node.ArrayNode(
            com.fasterxml.jackson.databind.node.JsonNodeFactory.instance);
    for (JsonNode resource : json(get("/api/traces/" + traceId)).get("resourceSpans")) {
      for (JsonNode scope : resource.get("scopeSpans")) {
        scope.get("spans").forEach(all::add);
      }
    }
    return all;
  }

  /** Polls the task (its id as in a URL) until it is in {@code state}, for 30 s at most. */
  private static void awaitState(String urlId, String state) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    String now = "";
    while (!now.equals(state)) {
      assertThat(System.nanoTime())
          .as(urlId + " reaches " + state + ", is " + now)
          .isLessThan(deadline);
      Thread.sleep(100);
      now = json(get("/api/tasks/" + urlId)).get("state").asText();
    }
  }

  private static JsonNode json(HttpResponse<String> response) throws Exception {
    return TaskJson.MAPPER.readTree(response.body());
  }

  /**
   * Where a task may leave something for the test to read: as root the service runs tasks as
   * nobody, who may write only where everybody may.
   */
  static Path shared() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("shared"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    return dir;
  }

  /** The admin token the service wrote at its first start, as a bearer header. */
  static String auth() throws Exception {
    return "Bearer " + Files.readString(service.adminTokenFile()).strip();
  }

  @Test
  void everyAnswerHasTheShapeTheOpenApiDocumentGivesIt() throws Exception {
    JsonNode doc;
    try (var in = StowageService.class.getResourceAsStream("openapi.json")) {
      doc = TaskJson.MAPPER.readTree(in);
    }
    // The typed task view and the document's Task name the same fields.
    var documented = new java.util.ArrayList<String>();
    doc.at("/components/schemas/Task/properties").fieldNames().forEachRemaining(documented::add);
    assertThat(
            java.util.Arrays.stream(TaskView.class.getRecordComponents())
                .map(java.lang.reflect.RecordComponent::getName))
        .containsExactlyInAnyOrderElementsOf(documented);
    var attemptFields = new java.util.ArrayList<String>();
    doc.at("/components/schemas/Attempt/properties")
        .fieldNames()
        .forEachRemaining(attemptFields::add);
    assertThat(
            java.util.Arrays.stream(AttemptView.class.getRecordComponents())
                .map(java.lang.reflect.RecordComponent::getName))
        .containsExactlyInAnyOrderElementsOf(attemptFields);

    String batch =
        """
        {"tasks": [
          {"id": "schema/first", "command": ["true"], "labels": {"team": "a"}},
          {"id": "schema/then", "command": ["true"], "dependsOn": ["schema/first"]},
          {"id": "schema/nowhere", "command": ["true"], "constraints": {"zone": "nowhere"}}
        ]}
        """;
    var created = post("/api/tasks", batch, null);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    assertShape(doc, "post", "/api/tasks", created);
    awaitState("schema%2Fthen", "succeeded");

    record Call(String method, String path, String template, String body, int status) {}
    var calls =
        List.of(
            new Call("post", "/api/tasks", "/api/tasks", batch, 409),
            new Call("post", "/api/tasks", "/api/tasks", "{\"tasks\": [{\"id\": \"\"}]}", 400),
            new Call("get", "/api/tasks?limit=2", "/api/tasks", null, 200),
            new Call("post", "/api/tasks", "/api/tasks", ORPHAN, 400),
            new Call("get", "/api/tasks?state=bogus", "/api/tasks", null, 400),
            new Call("get", "/api/tasks/schema%2Fthen", "/api/tasks/{id}", null, 200),
            new Call("get", "/api/tasks/schema%2Fnowhere", "/api/tasks/{id}", null, 200),
            new Call("get", "/api/tasks/schema%2Fmissing", "/api/tasks/{id}", null, 404),
            new Call("get", "/api/tasks/schema%2Fthen/why", "/api/tasks/{id}/why", null, 200),
            new Call("get", "/api/tasks/schema%2Fnowhere/why", "/api/tasks/{id}/why", null, 200),
            new Call(
                "get", "/api/tasks/schema%2Fthen/attempts", "/api/tasks/{id}/attempts", null, 200),
            new Call(
                "get",
                "/api/tasks/schema%2Fmissing/attempts",
                "/api/tasks/{id}/attempts",
                null,
                404),
            new Call(
                "post", "/api/tasks/schema%2Fthen/cancel", "/api/tasks/{id}/cancel", "{}", 409),
            new Call(
                "post", "/api/tasks/schema%2Fnowhere/cancel", "/api/tasks/{id}/cancel", "{}", 200),
            new Call("post", "/api/tasks/schema%2Fthen/retry", "/api/tasks/{id}/retry", "{}", 409),
            new Call(
                "post", "/api/tasks/schema%2Fnowhere/retry", "/api/tasks/{id}/retry", "{}", 200),
            new Call(
                "post", "/api/tasks/schema%2Fmissing/retry", "/api/tasks/{id}/retry", "{}", 404),
            new Call(
                "post", "/api/tasks/schema%2Fnowhere/cancel", "/api/tasks/{id}/cancel", "{}", 200),
            new Call("get", "/api/cluster", "/api/cluster", null, 200),
            new Call("get", "/api/cycles", "/api/cycles", null, 200),
            new Call("get", "/api/scheduling", "/api/scheduling", null, 200),
            new Call("get", "/api/health", "/api/health", null, 200),
            new Call("get", "/api/ready", "/api/ready", null, 200));
    for (Call c : calls) {
      var answer = c.body() == null ? get(c.path()) : post(c.path(), c.body(), null);
      assertThat(answer.statusCode())
          .as("%s %s: %s", c.method(), c.path(), answer.body())
          .isEqualTo(c.status());
      assertShape(doc, c.method(), c.template(), answer);
    }
  }

  @Test
  void aFailedTaskRetriedByHandRunsAgainWithFreshAttemptsAndWhatItDoomedFollows() throws Exception {
    String batch =
        """
        {"tasks": [
          {"id": "again/flaky", "command": ["sh", "-c", "test $STOWAGE_ATTEMPT -ge 2"]},
          {"id": "again/after", "command": ["true"], "dependsOn": ["again/flaky"]},
          {"id": "again/other", "command": ["false"]},
          {"id": "again/both", "command": ["true"], "dependsOn": ["again/flaky", "again/other"]}
        ]}
        """;
    assertThat(post("/api/tasks", batch, null).statusCode()).isEqualTo(201);
    awaitState("again%2Fflaky", "failed");
    awaitState("again%2Fother", "failed");
    awaitState("again%2Fafter", "upstream_failed");

    var doomed = post("/api/tasks/again%2Fafter/retry", "{}", null);
    assertThat(doomed.statusCode()).isEqualTo(409);
    assertThat(json(doomed).get("error").asText())
        .isEqualTo(
            "task 'again/after' is upstream_failed: only a failed or cancelled task is retried;"
                + " retry its dependency 'again/flaky' (failed)");
    var retried = post("/api/tasks/again%2Fflaky/retry", "{}", null);
    assertThat(retried.statusCode()).as(retried.body()).isEqualTo(200);
    // again/both still depends on a failed task: it stays doomed.
    assertThat(json(retried))
        .isEqualTo(
            TaskJson.MAPPER.readTree(
                "{\"id\": \"again/flaky\", \"state\": \"queued\", \"reopened\":"
                    + " [\"again/after\"]}"));
    awaitState("again%2Fafter", "succeeded");
    JsonNode flaky = json(get("/api/tasks/again%2Fflaky"));
    assertThat(flaky.get("state").asText()).isEqualTo("succeeded");
    assertThat(flaky.get("attempt").asInt()).as("attempts go on counting").isEqualTo(2);
    assertThat(flaky.get("attemptsBeforeRetry").asInt()).isEqualTo(1);
    // Both attempts, as the store kept them: the failure with its error, then the success.
    JsonNode tried = json(get("/api/tasks/again%2Fflaky/attempts")).get("attempts");
    assertThat(tried).hasSize(2);
    assertThat(tried.get(0).get("outcome").asText()).isEqualTo("failed");
    assertThat(tried.get(0).get("error").asText()).contains("exited with code 1");
    assertThat(tried.get(1).get("outcome").asText()).isEqualTo("succeeded");
    assertThat(tried.get(1).has("error")).isFalse();
    for (JsonNode a : tried) {
      assertThat(a.get("node").asText()).isEqualTo("local");
      var steps =
          java.util.stream.Stream.of("placedAt", "launchedAt", "startedAt", "endedAt")
              .map(f -> java.time.Instant.parse(a.get(f).asText()))
              .toList();
      assertThat(steps).as("steps in order: %s", a).isSorted();
    }
    assertThat(json(get("/api/tasks/again%2Fboth")).get("state").asText())
        .isEqualTo("upstream_failed");

    var twice = post("/api/tasks/again%2Fflaky/retry", "{}", null);
    assertThat(twice.statusCode()).isEqualTo(409);
    assertThat(json(twice).get("error").asText())
        .isEqualTo("task 'again/flaky' is succeeded: only a failed or cancelled task is retried");
    // The other failure retried: it fails again (its command does), and says so by its attempt.
    assertThat(post("/api/tasks/again%2Fother/retry", "{}", null).statusCode()).isEqualTo(200);
    assertThat(json(get("/api/tasks/again%2Fboth")).get("state").asText()).isEqualTo("waiting");
    awaitState("again%2Fboth", "upstream_failed");
    assertThat(json(get("/api/tasks/again%2Fother")).get("attempt").asInt()).isEqualTo(2);
  }

  /** Well formed, naming a dependency that is not stored: refused by the store as it stores. */
  private static final String ORPHAN =
      """
      {"tasks": [{"id": "schema/orphan", "command": ["true"], "dependsOn": ["schema/none"]}]}
      """;

  @Test
  void anImageIsKeptWithTheTaskAndTheLocalBackendRefusesToRunWithoutIt() throws Exception {
    var bad =
        post(
            "/api/tasks",
            "{\"tasks\": [{\"id\": \"img/bad\", \"command\": [\"true\"], \"image\": \"a b\"}]}",
            null);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("fields").get(0).get("field").asText()).isEqualTo("tasks[0].image");

    var named =
        post(
            "/api/tasks",
            "{\"id\": \"img/named\", \"command\": [\"true\"], \"image\": \"python:3.13\"}",
            null);
    assertThat(named.statusCode()).as(named.body()).isEqualTo(201);
    awaitState("img%2Fnamed", "failed");
    JsonNode task = json(get("/api/tasks/img%2Fnamed"));
    assertThat(task.get("image").asText()).isEqualTo("python:3.13");
    assertThat(task.get("lastError").asText())
        .contains("the local backend runs no container images");
  }

  @Test
  void badTolerationsAreRefusedAllAtOnceNamingEachFieldAndGoodOnesAreKept() throws Exception {
    var bad =
        post(
            "/api/tasks",
            """
            {"id": "tol/bad", "command": ["true"], "tolerations": [
              {"key": "gpu", "operator": "Exist"},
              {"operator": "Equal", "value": "x"},
              {"key": "dedicated", "operator": "Exists", "value": "etl", "effect": "NoRun"},
              {"key": "bad key!", "tolerationSeconds": 30},
              "gpu"]}
            """,
            null);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("fields"))
        .extracting(f -> f.get("field").asText() + ": " + f.get("message").asText())
        .containsExactlyInAnyOrder(
            "tolerations[0].operator: must be Equal or Exists, got 'Exist'",
            "tolerations[1].key: required with operator Equal (only Exists may leave it" + " out)",
            "tolerations[2].effect: must be NoSchedule, NoExecute or PreferNoSchedule (or"
                + " absent for all), got 'NoRun'",
            "tolerations[2].value: must be absent with operator Exists",
            "tolerations[3].key: must be a taint key such as nvidia.com/gpu or dedicated,"
                + " got 'bad key!'",
            "tolerations[3].tolerationSeconds: unknown field of a toleration (expected"
                + " one of effect, key, operator, value)",
            "tolerations[4]: must be {key, operator, value, effect}, got the string \"gpu\"");
    assertThat(get("/api/tasks/tol%2Fbad").statusCode()).isEqualTo(404);

    var good =
        post(
            "/api/tasks",
            """
            {"id": "tol/good", "command": ["true"], "tolerations": [
              {"key": "dedicated", "value": "etl", "effect": "NoExecute"}, {"operator": "Exists"}]}
            """,
            null);
    assertThat(good.statusCode()).as(good.body()).isEqualTo(201);
    assertThat(json(get("/api/tasks/tol%2Fgood")).get("tolerations").toString())
        .isEqualTo(
            "[{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"etl\",\"effect\":\"NoExecute\"},"
                + "{\"operator\":\"Exists\"}]");
    // The local machine has no taints: tolerating some changes nothing there.
    awaitState("tol%2Fgood", "succeeded");
  }

  @Test
  void aWellFormedBatchNamingAnUnknownDependencyIsRefusedNamingTheField() throws Exception {
    var refused = post("/api/tasks", ORPHAN, null);

    assertThat(refused.statusCode()).isEqualTo(400);
    JsonNode fields = json(refused).get("fields");
    assertThat(fields).hasSize(1);
    assertThat(fields.get(0).get("field").asText()).isEqualTo("tasks[0].dependsOn[0]");
    assertThat(fields.get(0).get("message").asText()).contains("schema/none");
    assertThat(get("/api/tasks/schema%2Forphan").statusCode()).isEqualTo(404);
  }

  /** The answer's body is valid against the schema the document gives its route and status. */
  private static void assertShape(
      JsonNode doc, String method, String template, HttpResponse<String> answer) {
    JsonNode schema =
        doc.path("paths")
            .path(template)
            .path(method)
            .path("responses")
            .path(Integer.toString(answer.statusCode()))
            .path("content")
            .path("application/json")
            .path("schema");
    assertThat(schema.isMissingNode())
        .as("%s %s %d has a schema", method, template, answer.statusCode())
        .isFalse();
    var root = TaskJson.MAPPER.createObjectNode();
    root.put("$schema", "https://json-schema.org/draft/2020-12/schema");
    root.set("components", doc.get("components"));
    root.putArray("allOf").add(schema);
    var errors =
        com.networknt.schema.SchemaRegistry.withDefaultDialect(
                com.networknt.schema.SpecificationVersion.DRAFT_2020_12)
            .getSchema(root.toString(), com.networknt.schema.InputFormat.JSON)
            .validate(answer.body(), com.networknt.schema.InputFormat.JSON);
    assertThat(errors)
        .as("%s %s %d: %s", method, template, answer.statusCode(), answer.body())
        .isEmpty();
  }

  @Test
  void theOpenApiDocumentNamesEveryRouteTheServiceServesAndNoOther() throws Exception {
    var documented = new java.util.TreeSet<String>();
    try (var in = StowageService.class.getResourceAsStream("openapi.json")) {
      var paths = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in).get("paths");
      var methods = java.util.Set.of("get", "post", "put", "patch", "delete");
      for (var path : paths.properties()) {
        for (var operation : path.getValue().properties()) {
          if (methods.contains(operation.getKey())) {
            documented.add(
                operation.getKey().toUpperCase(java.util.Locale.ROOT) + " " + path.getKey());
          }
        }
      }
    }
    assertThat(service.routes()).isNotEmpty().isEqualTo(documented);
  }
}
