package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.Resources;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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

/** Who may reach what, tried as an attacker would: over real HTTP, on embedded PostgreSQL. */
class ApiSecurityTest {
  @TempDir static Path tmp;
  static StowageService service;
  static String admin;
  static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    var nodes = List.of(new SimulatedCluster.Node("n", new Resources(1000, 1024, 0, 0), Map.of()));
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(50))
            .cluster(new StowageService.Cluster.Simulated(nodes))
            .maxTasksPerCycle(100)
            .start();
    admin = Files.readString(service.adminTokenFile()).strip();
  }

  @AfterAll
  static void stop() {
    service.close();
  }

  @Test
  void theAdminTokenIsWrittenForTheServiceUserAloneAndOnlyItsHashIsStored() throws Exception {
    assertThat(
            PosixFilePermissions.toString(Files.getPosixFilePermissions(service.adminTokenFile())))
        .isEqualTo("rw-------");
    assertThat(admin).startsWith("stw_");
    JsonNode me = json(send("GET", "/api/whoami", null, admin, Map.of()));
    assertThat(me.get("name").asText()).isEqualTo("admin");
    assertThat(me.get("role").asText()).isEqualTo("admin");
    // Listed without any secret.
    var tokens = send("GET", "/api/tokens", null, admin, Map.of());
    assertThat(tokens.body()).contains("\"admin\"").doesNotContain(admin);
  }

  @Test
  void withoutAValidTokenNothingButTheProbesAnswers() throws Exception {
    for (String path : List.of("/api/tasks", "/api/cluster", "/metrics", "/api/traces")) {
      var r = send("GET", path, null, null, Map.of());
      assertThat(r.statusCode()).as(path).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate")).contains("Bearer realm=\"stowage\"");
      assertThat(json(r).get("error").asText()).startsWith("no token: send 'Authorization");
    }
    var submit = send("POST", "/api/tasks", task("anon", "id"), null, Map.of());
    assertThat(submit.statusCode()).isEqualTo(401);
    assertThat(send("GET", "/api/tasks/anon", null, admin, Map.of()).statusCode()).isEqualTo(404);

    var guessed = send("GET", "/api/tasks", null, "stw_guessed", Map.of());
    assertThat(guessed.statusCode()).isEqualTo(401);
    assertThat(json(guessed).get("error").asText())
        .isEqualTo("the token is not one this service issued");
    var basic = send("GET", "/api/tasks", null, null, Map.of("Authorization", "Basic YTpi"));
    assertThat(json(basic).get("error").asText()).contains("'Basic' scheme");

    assertThat(send("GET", "/api/health", null, null, Map.of()).statusCode()).isEqualTo(200);
    assertThat(send("GET", "/api/openapi.json", null, null, Map.of()).statusCode()).isEqualTo(200);
  }

  @Test
  void aBrowsersCrossSiteSimpleRequestIsRefusedEvenWithAToken() throws Exception {
    // What a foreign page can send without asking: a text/plain form post.
    var csrf =
        send(
            "POST",
            "/api/tasks",
            task("csrf", "id"),
            null,
            Map.of("Content-Type", "text/plain", "Origin", "http://evil.example"));
    assertThat(csrf.statusCode()).isEqualTo(403);
    assertThat(json(csrf).get("error").asText())
        .startsWith("a change from another origin ('http://evil.example') is refused");
    var pause =
        send(
            "POST",
            "/api/scheduling/pause",
            "",
            admin,
            Map.of("Origin", "http://localhost:8080")); // another port is another origin
    assertThat(pause.statusCode()).isEqualTo(403);
    assertThat(
            json(send("GET", "/api/scheduling", null, admin, Map.of())).get("paused").asBoolean())
        .isFalse();
    // A refused change is still a request span, ended with its status.
    var roots = new java.util.ArrayList<String>();
    json(send("GET", "/api/traces?limit=1000", null, admin, Map.of()))
        .get("traces")
        .forEach(t -> roots.add(t.get("root").asText()));
    assertThat(roots).contains("POST /api/scheduling/pause");

    var plain =
        send(
            "POST", "/api/tasks", task("plain", "id"), admin, Map.of("Content-Type", "text/plain"));
    assertThat(plain.statusCode()).isEqualTo(415);
    assertThat(json(plain).get("error").asText())
        .isEqualTo(
            "a request body must be sent as Content-Type: application/json (or"
                + " application/yaml), got 'text/plain'");
    assertThat(send("GET", "/api/tasks/csrf", null, admin, Map.of()).statusCode()).isEqualTo(404);
    assertThat(send("GET", "/api/tasks/plain", null, admin, Map.of()).statusCode()).isEqualTo(404);

    // The service's own origin is fine.
    String own = "http://127.0.0.1:" + URI.create(service.url()).getPort();
    var same = send("POST", "/api/tasks", task("same-origin", "id"), admin, Map.of("Origin", own));
    assertThat(same.statusCode()).as(same.body()).isEqualTo(201);
  }

  @Test
  void aForeignHostHeaderIsRefusedAsDnsRebindingWouldSendIt() throws Exception {
    int port = URI.create(service.url()).getPort();
    String rebound = raw(port, "GET /api/health HTTP/1.1\r\nHost: evil.example:" + port);
    assertThat(rebound).startsWith("HTTP/1.1 421");
    assertThat(rebound).contains("the Host header 'evil.example:" + port + "' is not a name");
    assertThat(raw(port, "GET /api/health HTTP/1.1\r\nHost: localhost:" + port))
        .startsWith("HTTP/1.1 200");
  }

  @Test
  void rolesLimitWhatATokenDoesAndSubmittersCancelOnlyTheirOwnTasks() throws Exception {
    String reader = create("viewer", "reader");
    String alice = create("alice", "submitter");
    String bob = create("bob", "submitter");

    var refused = send("POST", "/api/tasks", task("by-reader", "id"), reader, Map.of());
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(json(refused).get("error").asText())
        .isEqualTo("token 'viewer' has the reader role; POST /api/tasks needs submitter");
    assertThat(send("GET", "/api/tasks", null, reader, Map.of()).statusCode()).isEqualTo(200);

    // Too big for the node: it stays queued, to be cancelled.
    String big = "{\"id\": \"alice/big\", \"command\": [\"x\"], \"cpuMillis\": 5000}";
    assertThat(send("POST", "/api/tasks", big, alice, Map.of()).statusCode()).isEqualTo(201);
    var bobs = send("POST", "/api/tasks/alice%2Fbig/cancel", "", bob, Map.of());
    assertThat(bobs.statusCode()).isEqualTo(403);
    assertThat(json(bobs).get("error").asText())
        .isEqualTo(
            "token 'bob' may cancel only the tasks it submitted; 'alice/big' was submitted by"
                + " 'alice'");
    assertThat(send("POST", "/api/scheduling/pause", "", alice, Map.of()).statusCode())
        .isEqualTo(403);
    assertThat(send("GET", "/api/audit", null, alice, Map.of()).statusCode()).isEqualTo(403);
    assertThat(send("POST", "/api/tasks/alice%2Fbig/cancel", "", alice, Map.of()).statusCode())
        .isEqualTo(200);
    // A retry by hand goes by the same rules as a cancel.
    var bobsRetry = send("POST", "/api/tasks/alice%2Fbig/retry", "", bob, Map.of());
    assertThat(bobsRetry.statusCode()).isEqualTo(403);
    assertThat(json(bobsRetry).get("error").asText())
        .isEqualTo(
            "token 'bob' may retry only the tasks it submitted; 'alice/big' was submitted by"
                + " 'alice'");
    var readers = send("POST", "/api/tasks/alice%2Fbig/retry", "", reader, Map.of());
    assertThat(readers.statusCode()).as(readers.body()).isEqualTo(403);
    assertThat(json(readers).get("error").asText())
        .isEqualTo(
            "token 'viewer' has the reader role; POST /api/tasks/{id}/retry needs submitter");
    var alicesRetry = send("POST", "/api/tasks/alice%2Fbig/retry", "", alice, Map.of());
    assertThat(alicesRetry.statusCode()).as(alicesRetry.body()).isEqualTo(200);
    assertThat(json(alicesRetry).get("state").asText()).isEqualTo("queued");
    assertThat(send("POST", "/api/tasks/alice%2Fbig/cancel", "", alice, Map.of()).statusCode())
        .isEqualTo(200);

    String big2 = "{\"id\": \"alice/big2\", \"command\": [\"x\"], \"cpuMillis\": 5000}";
    assertThat(send("POST", "/api/tasks", big2, alice, Map.of()).statusCode()).isEqualTo(201);
    assertThat(send("POST", "/api/tasks/alice%2Fbig2/cancel", "", admin, Map.of()).statusCode())
        .isEqualTo(200);
  }

  @Test
  void revokedAndExpiredTokensStopWorkingAndEveryChangeIsAudited() throws Exception {
    String temp = create("temp", "submitter");
    assertThat(send("POST", "/api/tasks", task("audited", "id"), temp, Map.of()).statusCode())
        .isEqualTo(201);
    assertThat(send("POST", "/api/tokens/temp/revoke", "", admin, Map.of()).statusCode())
        .isEqualTo(200);
    var after = send("GET", "/api/tasks", null, temp, Map.of());
    assertThat(after.statusCode()).isEqualTo(401);
    assertThat(json(after).get("error").asText()).startsWith("token 'temp' was revoked at ");
    assertThat(send("POST", "/api/tokens/temp/revoke", "", admin, Map.of()).statusCode())
        .isEqualTo(404);
    var taken =
        send("POST", "/api/tokens", "{\"name\": \"temp\", \"role\": \"reader\"}", admin, Map.of());
    assertThat(taken.statusCode()).isEqualTo(409);

    var bad =
        send(
            "POST",
            "/api/tokens",
            "{\"name\": \"../x\", \"role\": \"root\", \"expiresInSeconds\": -1, \"x\": 1}",
            admin,
            Map.of());
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("fields").findValuesAsText("field"))
        .containsExactlyInAnyOrder("x", "name", "role", "expiresInSeconds");

    send("POST", "/api/scheduling/pause", "", admin, Map.of());
    send("POST", "/api/scheduling/resume", "", admin, Map.of());

    var entries = json(send("GET", "/api/audit?limit=1000", null, admin, Map.of())).get("entries");
    var lines = new java.util.ArrayList<String>();
    entries.forEach(
        e ->
            lines.add(
                e.get("actor").asText()
                    + " "
                    + e.get("action").asText()
                    + " "
                    + e.get("target").asText()));
    assertThat(lines)
        .containsSubsequence(
            "admin token.create temp",
            "temp submit audited",
            "admin token.revoke temp",
            "admin pause ",
            "admin resume ");
  }

  @Test
  void aSecondServiceOnTheSameDataDirectoryRefusesAtOnceNamingTheFirst() throws Exception {
    var second =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(50))
            .cluster(
                new StowageService.Cluster.Simulated(
                    List.of(new SimulatedCluster.Node("n", new Resources(1, 1, 0, 0), Map.of()))))
            .maxTasksPerCycle(10);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> second.start())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("another Stowage service is running on " + tmp.resolve("data"))
        .hasMessageContaining("(pid " + ProcessHandle.current().pid() + ", started ");
    assertThat(send("GET", "/api/whoami", null, admin, Map.of()).statusCode()).isEqualTo(200);
  }

  @Test
  void hostileBodiesGet400NamingTheFieldNeverA500() throws Exception {
    var bodies =
        Map.of(
            "{\"tasks\":null}", "tasks",
            "{\"id\": \"n1\", \"command\": [\"true\", null]}", "command[1]",
            "{\"id\": \"n2\", \"command\": [\"true\"], \"dependsOn\": [null]}", "dependsOn[0]",
            "{\"id\": \"n3\", \"command\": [\"true\"], \"env\": {\"X\": null}}", "env.X",
            "{\"id\": \"n\\u00004\", \"command\": [\"true\"]}", "id",
            "{\"id\": \"n5\", \"command\": [\"true\"], \"env\": {\"A=B\": \"x\"}}", "env",
            "{\"id\": \"n6\", \"id\": \"n7\", \"command\": [\"true\"]}", "id",
            "[1, 2]", "body");
    for (var e : bodies.entrySet()) {
      var r = send("POST", "/api/tasks", e.getKey(), admin, Map.of());
      assertThat(r.statusCode()).as(e.getKey() + " -> " + r.body()).isEqualTo(400);
      assertThat(json(r).get("fields").findValuesAsText("field"))
          .as(e.getKey())
          .contains(e.getValue());
    }
    var yamlNull =
        send("POST", "/api/tasks", "~\n", admin, Map.of("Content-Type", "application/yaml"));
    assertThat(yamlNull.statusCode()).isEqualTo(400);
    assertThat(yamlNull.body()).contains("got null");
    var yamlBroken =
        send(
            "POST",
            "/api/tasks",
            "id: y\ncommand: [true\n",
            admin,
            Map.of("Content-Type", "application/yaml"));
    assertThat(yamlBroken.statusCode()).isEqualTo(400);
    assertThat(json(yamlBroken).get("fields").get(0).get("message").asText())
        .startsWith("not YAML: ")
        .contains("(line ");
  }

  @Test
  void concurrentDuplicateSubmitsGetOneCreatedAndConflictsNamingTheId() throws Exception {
    String body = "{\"id\": \"dup/once\", \"command\": [\"true\"], \"cpuMillis\": 5000}";
    var futures =
        new java.util.ArrayList<java.util.concurrent.CompletableFuture<HttpResponse<String>>>();
    for (int i = 0; i < 12; i++) {
      futures.add(
          HTTP.sendAsync(
              HttpRequest.newBuilder(URI.create(service.url() + "/api/tasks"))
                  .header("Authorization", "Bearer " + admin)
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString()));
    }
    var statuses = new java.util.ArrayList<Integer>();
    for (var f : futures) {
      var r = f.get();
      statuses.add(r.statusCode());
      if (r.statusCode() == 409) {
        assertThat(json(r).get("error").asText())
            .isEqualTo("a task with id 'dup/once' exists already");
        assertThat(json(r).get("ids").toString()).isEqualTo("[\"dup/once\"]");
      }
    }
    assertThat(statuses).containsOnly(201, 409);
    assertThat(statuses.stream().filter(s -> s == 201)).hasSize(1);
  }

  @Test
  void aRetryWithTheSameIdempotencyKeyGetsTheFirstAnswer() throws Exception {
    String body = "{\"id\": \"idem/a\", \"command\": [\"true\"], \"cpuMillis\": 5000}";
    var first = send("POST", "/api/tasks", body, admin, Map.of("Idempotency-Key", "k-1"));
    var retry = send("POST", "/api/tasks", body, admin, Map.of("Idempotency-Key", "k-1"));
    assertThat(first.statusCode()).isEqualTo(201);
    assertThat(retry.statusCode()).isEqualTo(201);
    assertThat(retry.body()).isEqualTo(first.body());
    assertThat(retry.headers().firstValue("Idempotent-Replayed")).contains("true");
    // Without the key, the same request is a conflict.
    assertThat(send("POST", "/api/tasks", body, admin, Map.of()).statusCode()).isEqualTo(409);

    var other =
        send(
            "POST",
            "/api/tasks",
            body.replace("idem/a", "idem/b"),
            admin,
            Map.of("Idempotency-Key", "k-1"));
    assertThat(other.statusCode()).isEqualTo(422);
    assertThat(json(other).get("error").asText())
        .isEqualTo("Idempotency-Key 'k-1' was used for a different request");
    // A bad request's answer is kept too.
    String bad = "{\"id\": \"idem/c\"}";
    var refused = send("POST", "/api/tasks", bad, admin, Map.of("Idempotency-Key", "k-2"));
    assertThat(refused.statusCode()).isEqualTo(400);
    assertThat(send("POST", "/api/tasks", bad, admin, Map.of("Idempotency-Key", "k-2")).body())
        .isEqualTo(refused.body());
    assertThat(
            send("POST", "/api/tasks", body, admin, Map.of("Idempotency-Key", "with space"))
                .statusCode())
        .isEqualTo(400);
  }

  @Test
  void theApiDescriptionNamesEveryRouteTheSecurityAndTheNewFields() throws Exception {
    JsonNode api = json(send("GET", "/api/openapi.json", null, null, Map.of()));
    var paths = new java.util.ArrayList<String>();
    api.get("paths").fieldNames().forEachRemaining(paths::add);
    assertThat(paths)
        .contains(
            "/api/tasks",
            "/api/tasks/{id}/logs",
            "/api/whoami",
            "/api/tokens",
            "/api/tokens/{name}/revoke",
            "/api/audit",
            "/api/purge",
            "/api/traces",
            "/api/traces/{traceId}",
            "/metrics");
    assertThat(api.at("/components/securitySchemes/bearer/scheme").asText()).isEqualTo("bearer");
    assertThat(api.at("/paths/~1api~1health/get/security").isEmpty()).isTrue();
    assertThat(api.at("/components/schemas/TaskRequest/properties/outputs/type").asText())
        .isEqualTo("array");
    assertThat(api.at("/paths/~1api~1tasks~1{id}~1cancel/post/responses/202/description").asText())
        .contains("cancelling");
    assertThat(api.at("/paths/~1api~1tasks/post/responses/409").isMissingNode()).isFalse();
  }

  @Test
  void javalinsOwnErrorsAreJsonToo() throws Exception {
    var wrongMethod = send("DELETE", "/api/tasks", null, admin, Map.of());
    assertThat(wrongMethod.statusCode()).isEqualTo(405);
    assertThat(json(wrongMethod).get("error").asText()).startsWith("DELETE is not allowed on");
    var missing = send("GET", "/api/nothing-here", null, admin, Map.of());
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(json(missing).get("error").asText())
        .isEqualTo("no such resource: GET /api/nothing-here");
    var huge = send("POST", "/api/tasks", "[" + " ".repeat(33 << 20) + "]", admin, Map.of());
    assertThat(huge.statusCode()).isEqualTo(413);
    assertThat(json(huge).get("error").asText()).contains("larger than the 32 MiB");
  }

  private static String create(String name, String role) throws Exception {
    var r =
        send(
            "POST",
            "/api/tokens",
            "{\"name\": \"" + name + "\", \"role\": \"" + role + "\"}",
            admin,
            Map.of());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return json(r).get("token").asText();
  }

  private static String task(String id, String... command) {
    return "{\"id\": \"" + id + "\", \"command\": [\"true\"]}";
  }

  static HttpResponse<String> send(
      String method, String path, String body, String token, Map<String, String> headers)
      throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(service.url() + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (body != null && !headers.containsKey("Content-Type")) {
      request.header("Content-Type", "application/json");
    }
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    headers.forEach(request::header);
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A request written by hand, for the headers Java's client will not let us set. */
  private static String raw(int port, String requestHead) throws Exception {
    try (var socket = new Socket("127.0.0.1", port)) {
      OutputStream out = socket.getOutputStream();
      out.write((requestHead + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = socket.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static JsonNode json(HttpResponse<String> response) throws Exception {
    return TaskJson.MAPPER.readTree(response.body());
  }
}
