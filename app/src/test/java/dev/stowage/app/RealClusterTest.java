package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.app.service.StowageService;
import dev.stowage.backend.kubernetes.KubernetesBackend;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Locale;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against a real cluster, opt in: {@code STOWAGE_TEST_KUBECONFIG=~/.kube/config ./mvnw verify -pl
 * app -am -Dtest=RealClusterTest -Dsurefire.failIfNoSpecifiedTests=false} (a kind, k3s or minikube
 * cluster does; the README says how). In a namespace of its own, deleted at the end: the example
 * DAG runs as pods in busybox, its logs come from the pods, and a cancelled task's pod goes. No
 * cluster is reachable where this was written, so it has never run; without the variable it is
 * skipped, saying how to run it.
 */
class RealClusterTest {
  private static final String KUBECONFIG = System.getenv("STOWAGE_TEST_KUBECONFIG");
  @TempDir Path tmp;
  private final HttpClient http = HttpClient.newHttpClient();
  private final ObjectMapper json = new ObjectMapper();
  private StowageService service;

  @Test
  void theExampleDagRunsOnARealClusterAndACancelledTasksPodGoes() throws Exception {
    assumeTrue(
        KUBECONFIG != null && !KUBECONFIG.isBlank(),
        "not run: set STOWAGE_TEST_KUBECONFIG to a kubeconfig file of a real cluster (kind, k3s,"
            + " minikube) to run the Kubernetes backend against it; see the README");
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    String namespace = "stowage-test-" + UUID.randomUUID().toString().substring(0, 8);
    Config config = Config.fromKubeconfig(Files.readString(Path.of(KUBECONFIG)));
    String before = System.getProperty("kubeconfig");
    System.setProperty("kubeconfig", KUBECONFIG);
    try (KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build()) {
      client
          .namespaces()
          .resource(
              new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
          .create();
      try (var running =
          StowageService.builder(tmp.resolve("data"))
              .interval(Duration.ofSeconds(1))
              .cluster(
                  new StowageService.Cluster.Kubernetes(
                      new KubernetesBackend.Connection(null, 16),
                      new KubernetesBackend.Options(
                          namespace,
                          namespace,
                          null,
                          "busybox:1.36",
                          null,
                          Duration.ofSeconds(5),
                          Duration.ofMinutes(3))))
              .start()) {
        service = running;
        var dag =
            post("application/yaml", Files.readString(Path.of("..", "examples", "etl-dag.yaml")));
        assertThat(dag.statusCode()).as(dag.body()).isEqualTo(201);
        for (String id : new String[] {"extract", "sum", "count-even", "load"}) {
          awaitState("example%2F" + id, "succeeded");
        }
        var log =
            http.send(
                request("/api/tasks/example%2Fsum/logs").GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(log.body()).isEqualTo("sum is 5000050000\n");

        var sleeper =
            post("application/json", "{\"id\": \"real/sleep\", \"command\": [\"sleep\", \"600\"]}");
        assertThat(sleeper.statusCode()).as(sleeper.body()).isEqualTo(201);
        awaitState("real%2Fsleep", "running");
        var cancel =
            http.send(
                request("/api/tasks/real%2Fsleep/cancel")
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(cancel.statusCode()).as(cancel.body()).isIn(200, 202);
        awaitState("real%2Fsleep", "cancelled");
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (!client
                .pods()
                .inNamespace(namespace)
                .withLabel("stowage.dev/instance", namespace)
                .list()
                .getItems()
                .stream()
                .filter(
                    p ->
                        "real/sleep"
                            .equals(p.getMetadata().getAnnotations().get("stowage.dev/task-id")))
                .toList()
                .isEmpty()
            && System.nanoTime() < deadline) {
          Thread.sleep(500);
        }
        assertThat(
                client.pods().inNamespace(namespace).list().getItems().stream()
                    .map(p -> p.getMetadata().getAnnotations().get("stowage.dev/task-id")))
            .doesNotContain("real/sleep");
      } finally {
        client.namespaces().withName(namespace).delete();
      }
    } finally {
      if (before == null) {
        System.clearProperty("kubeconfig");
      } else {
        System.setProperty("kubeconfig", before);
      }
    }
  }

  private HttpRequest.Builder request(String path) throws Exception {
    String token = Files.readString(service.adminTokenFile()).strip();
    return HttpRequest.newBuilder(URI.create(service.url() + path))
        .header("Authorization", "Bearer " + token);
  }

  private HttpResponse<String> post(String type, String body) throws Exception {
    return http.send(
        request("/api/tasks")
            .header("Content-Type", type)
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode awaitState(String urlId, String state) throws Exception {
    // Image pulls on a fresh cluster take a while.
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    JsonNode now = null;
    while (System.nanoTime() < deadline) {
      now =
          json.readTree(
              http.send(
                      request("/api/tasks/" + urlId).GET().build(),
                      HttpResponse.BodyHandlers.ofString())
                  .body());
      if (now.path("state").asText().equals(state)) {
        return now;
      }
      assertThat(now.path("state").asText().toLowerCase(Locale.ROOT))
          .as("%s failed: %s", urlId, now)
          .isNotIn("failed", "upstream_failed");
      Thread.sleep(500);
    }
    throw new AssertionError(urlId + " never reached " + state + ": " + now);
  }
}
