package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's OTLP command, as a user runs it: the built jar, configured by the environment alone,
 * sending to an OTLP/HTTP receiver on loopback; and its standard error, one JSON object a line, the
 * SDK's own records included.
 */
class ReadmeOtlpIT {
  @TempDir Path tmp;
  HttpServer receiver;
  final List<String> paths = new CopyOnWriteArrayList<>();

  @BeforeEach
  void startReceiver() throws IOException {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    receiver = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    receiver.createContext(
        "/",
        exchange -> {
          exchange.getRequestBody().readAllBytes();
          paths.add(exchange.getRequestURI().getPath());
          exchange.sendResponseHeaders(200, -1);
          exchange.close();
        });
    receiver.start();
  }

  @AfterEach
  void stopReceiver() {
    receiver.stop(0);
  }

  @Test
  void theReadmesOtlpCommandSendsTracesMetricsAndLogsToAnOtlpHttpReceiver() throws Exception {
    Process up =
        up(
            "data",
            Map.of(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://localhost:" + receiver.getAddress().getPort()));
    try {
      awaitUp(up, tmp.resolve("up.out"));
      submitATask("data");
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!paths.contains("/v1/traces")) {
        assertThat(System.nanoTime()).as("traces arrive within 30 s").isLessThan(deadline);
        Thread.sleep(100);
      }
    } finally {
      up.destroy(); // SIGTERM, as Ctrl-C: the SDK flushes what it holds
      assertThat(up.waitFor(60, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(paths).contains("/v1/traces", "/v1/metrics", "/v1/logs");
    assertEveryLineIsJson(tmp.resolve("up.err"));
    // In the Elastic Common Schema; the cycle that placed the task names its trace.
    var json = new ObjectMapper();
    var cycleLines = new java.util.ArrayList<com.fasterxml.jackson.databind.JsonNode>();
    for (String line : Files.readAllLines(tmp.resolve("up.err"))) {
      var record = json.readTree(line);
      assertThat(record.has("@timestamp") && record.has("log.level") && record.has("message"))
          .as(line)
          .isTrue();
      if (record.get("message").asText().startsWith("cycle: ")) {
        cycleLines.add(record);
      }
    }
    assertThat(cycleLines).isNotEmpty().allMatch(r -> r.path("trace.id").asText().length() == 32);
  }

  @Test
  void theSdksOwnComplaintsAreJsonLinesOnStandardErrorToo() throws Exception {
    int closed;
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = socket.getLocalPort();
    }
    Process up = up("data2", Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + closed));
    try {
      awaitUp(up, tmp.resolve("up.out"));
      submitATask("data2");
      long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
      while (!Files.readString(tmp.resolve("up.err")).contains("Failed to export")) {
        assertThat(System.nanoTime())
            .as("the exporter reports its failure within 40 s")
            .isLessThan(deadline);
        Thread.sleep(200);
      }
    } finally {
      up.destroy();
      up.waitFor(60, TimeUnit.SECONDS);
    }
    assertEveryLineIsJson(tmp.resolve("up.err"));
  }

  @Test
  void grpcIsRefusedInOneLine() throws Exception {
    Process up =
        up(
            "data3",
            Map.of(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://localhost:4317",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "grpc"));
    assertThat(up.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(up.exitValue()).isEqualTo(1);
    List<String> err = Files.readAllLines(tmp.resolve("up.err"));
    assertThat(err)
        .filteredOn(l -> !l.startsWith("{"))
        .containsExactly(
            "stowage: OTEL_EXPORTER_OTLP_PROTOCOL=grpc: Stowage sends OTLP over HTTP only"
                + " (http/protobuf, to port 4318 of a Collector); leave it unset, or point"
                + " OTEL_EXPORTER_OTLP_ENDPOINT at an OTLP/HTTP receiver");
  }

  private int port;

  /** Something to trace: a quiet service's cycles change nothing and are not exported. */
  private void submitATask(String data) throws Exception {
    String token = Files.readString(tmp.resolve(data).resolve("admin.token")).strip();
    var response =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + port + "/api/tasks"))
                    .header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json")
                    .POST(
                        java.net.http.HttpRequest.BodyPublishers.ofString(
                            "{\"id\": \"traced\", \"command\": [\"true\"]}"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(201);
  }

  private Process up(String data, Map<String, String> otel) throws Exception {
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      this.port = socket.getLocalPort();
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // A temporary directory of its own, as on a fresh machine: the jar unpacks PostgreSQL itself
    // rather than finding what the build's tests unpacked, on their class path, before it.
    Path tmpdir = Files.createDirectories(tmp.resolve("tmpdir-" + data));
    var builder =
        new ProcessBuilder(
                java,
                "-Djava.io.tmpdir=" + tmpdir,
                "-jar",
                Path.of("target", "stowage.jar").toAbsolutePath().toString(),
                "up",
                "--data-dir",
                tmp.resolve(data).toString(),
                "--port",
                Integer.toString(port))
            .redirectOutput(tmp.resolve("up.out").toFile())
            .redirectError(tmp.resolve("up.err").toFile());
    // Only what a shell would have, and the variables the README sets.
    builder.environment().clear();
    builder.environment().put("PATH", System.getenv("PATH"));
    builder.environment().put("HOME", tmp.toString());
    builder.environment().putAll(otel);
    return builder.start();
  }

  private static void awaitUp(Process up, Path out) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (!Files.readString(out).contains("Stowage is up")) {
      assertThat(up.isAlive()).as("the service runs").isTrue();
      assertThat(System.nanoTime()).as("the service is up within 90 s").isLessThan(deadline);
      Thread.sleep(100);
    }
  }

  private static void assertEveryLineIsJson(Path err) throws IOException {
    var json = new ObjectMapper();
    for (String line : Files.readAllLines(err)) {
      assertThat(line).as("a line of standard error").startsWith("{");
      json.readTree(line); // throws when it is not one JSON object
    }
  }
}
