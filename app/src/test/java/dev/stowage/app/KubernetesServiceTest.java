package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.app.service.StowageService;
import dev.stowage.backend.kubernetes.FakeKubelet;
import dev.stowage.backend.kubernetes.KubernetesBackend;
import dev.stowage.backend.kubernetes.MockApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The service with {@code Cluster.Kubernetes}, reaching fabric8's CRUD API server mock through a
 * kubeconfig as a user's would, a fake kubelet running the bound pods on three nodes.
 */
class KubernetesServiceTest {
  MockApiServer api;
  KubernetesMockServer server;
  KubernetesClient client;
  @TempDir Path tmp;
  StowageService service;
  // Each test points the client's kubeconfig at its mock; the JVM's own setting comes back after.
  private String kubeconfigBefore;

  @BeforeEach
  void startApiServer() {
    kubeconfigBefore = System.getProperty("kubeconfig");
    api = MockApiServer.start();
    server = api.server();
    client = api.client();
  }

  @AfterEach
  void stopApiServerAndRestoreKubeconfig() {
    api.close();
    if (kubeconfigBefore == null) {
      System.clearProperty("kubeconfig");
    } else {
      System.setProperty("kubeconfig", kubeconfigBefore);
    }
  }

  final HttpClient http = HttpClient.newHttpClient();
  final ObjectMapper json = new ObjectMapper();

  @Test
  void theExampleDagRunsAsPodsAndARemovedNodesAttemptRunsAgainElsewhere() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    for (String n : new String[] {"node-1", "node-2", "node-3", "gpu-1"}) {
      FakeKubelet.node(client, n, "2", "4Gi", Map.of("topology.kubernetes.io/zone", "z-" + n));
    }
    // A GPU node kept for the tasks that say they may use it, as clusters keep theirs.
    FakeKubelet.gpus(client, "gpu-1", 1);
    FakeKubelet.taint(client, "gpu-1", "nvidia.com/gpu", "present", "NoSchedule");
    Path kubeconfig = FakeKubelet.kubeconfig(client, tmp.resolve("kubeconfig"), "batch");
    System.setProperty("kubeconfig", kubeconfig.toString());
    try (var kubelet = new FakeKubelet(client, server);
        var running =
            StowageService.builder(tmp.resolve("data"))
                .interval(Duration.ofMillis(100))
                .cluster(
                    new StowageService.Cluster.Kubernetes(
                        new KubernetesBackend.Connection("test", 8),
                        new KubernetesBackend.Options(
                            "batch",
                            "e2e",
                            null,
                            "busybox:1.36",
                            null,
                            Duration.ZERO,
                            Duration.ofMillis(500))))
                .start()) {
      service = running;
      var dag =
          post("application/yaml", Files.readString(Path.of("..", "examples", "etl-dag.yaml")));
      assertThat(dag.statusCode()).as(dag.body()).isEqualTo(201);
      for (String id : new String[] {"extract", "sum", "count-even", "load"}) {
        awaitState("example%2F" + id, "succeeded");
      }
      assertThat(client.pods().inNamespace("batch").list().getItems())
          .extracting(p -> p.getMetadata().getAnnotations().get("stowage.dev/task-id"))
          .containsExactlyInAnyOrder(
              "example/extract", "example/sum", "example/count-even", "example/load");
      assertThat(client.pods().inNamespace("batch").list().getItems())
          .as("no pod of a task that does not tolerate the GPU node's taint is on it")
          .noneMatch(p -> p.getSpec().getNodeName().equals("gpu-1"));

      // A task tolerating the taint runs there; one asking for the GPU without it never can.
      var train =
          post(
              "application/yaml",
              """
              tasks:
                - id: k8s/train
                  command: ["true"]
                  gpus: 1
                  tolerations:
                    - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
                - id: k8s/intolerant
                  command: ["true"]
                  gpus: 1
              """);
      assertThat(train.statusCode()).as(train.body()).isEqualTo(201);
      assertThat(json.readTree(train.body()).get("neverSchedulable").get("k8s/intolerant").asText())
          .isEqualTo(
              "never schedulable: 0/4 nodes fit it empty: 3 insufficient gpus, 1 untolerated"
                  + " taint nvidia.com/gpu=present:NoSchedule");
      JsonNode trained = awaitState("k8s%2Ftrain", "succeeded");
      assertThat(trained.get("offer").asText()).isEqualTo("gpu-1");
      assertThat(trained.get("tolerations").toString())
          .isEqualTo(
              "[{\"key\":\"nvidia.com/gpu\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]");

      // Too big for every node: stored, flagged, never placed.
      var huge =
          post(
              "application/json",
              """
              {"id": "k8s/huge", "command": ["true"], "cpuMillis": 64000}
              """);
      assertThat(huge.statusCode()).as(huge.body()).isEqualTo(201);
      assertThat(json.readTree(huge.body()).get("neverSchedulable").get("k8s/huge").asText())
          .isEqualTo(
              "never schedulable: 0/4 nodes fit it empty: 3 insufficient cpuMillis, 1 untolerated"
                  + " taint nvidia.com/gpu=present:NoSchedule");

      // A task's own image that cannot be pulled: its attempt fails with the kubelet's reason.
      var unpullable =
          post(
              "application/json",
              """
              {"id": "k8s/unpullable", "command": ["true"], "image": "registry.invalid/etl:9"}
              """);
      assertThat(unpullable.statusCode()).as(unpullable.body()).isEqualTo(201);
      JsonNode failed = awaitState("k8s%2Funpullable", "failed");
      assertThat(failed.get("image").asText()).isEqualTo("registry.invalid/etl:9");
      assertThat(failed.get("lastError").asText())
          .startsWith("launch failed: ErrImagePull: pull access denied for registry.invalid/etl:9");

      // Logs come from the pod, and logs -f follows them to the task's end.
      var chatty =
          post(
              "application/json",
              """
              {"id": "k8s/chatty", "command": ["true"],
               "env": {"FAKE_LOG": "first\\n", "FAKE_LOG_END": "last\\n", "FAKE_MS": "1500"}}
              """);
      assertThat(chatty.statusCode()).as(chatty.body()).isEqualTo(201);
      awaitState("k8s%2Fchatty", "running");
      MainTest.Run followed =
          MainTest.run(
              "logs",
              "k8s/chatty",
              "-f",
              "--poll-ms",
              "100",
              "--url",
              service.url(),
              "--token-file",
              service.adminTokenFile().toString());
      assertThat(followed.exit()).as(followed.err()).isZero();
      assertThat(followed.out()).isEqualTo("first\nlast\n");

      // A pod still pulling its image: why says what Kubernetes says of it.
      var slow =
          post(
              "application/json",
              """
              {"id": "k8s/slow", "command": ["true"], "image": "slow/etl:1"}
              """);
      assertThat(slow.statusCode()).as(slow.body()).isEqualTo(201);
      awaitState("k8s%2Fslow", "launched");
      String why = "";
      long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (!(why.contains("Pulling image") && why.contains("ContainerCreating"))
          && System.nanoTime() < until) {
        why =
            json.readTree(
                    http.send(
                            request("/api/tasks/k8s%2Fslow/why").GET().build(),
                            HttpResponse.BodyHandlers.ofString())
                        .body())
                .path("why")
                .asText();
        Thread.sleep(50);
      }
      assertThat(why)
          .startsWith("launched on ")
          .contains(
              ", attempt 1; the cluster says: pod st-k8s-slow-",
              "container task waiting: ContainerCreating",
              "events: Pulling: Pulling image \"slow/etl:1\"");

      // A long attempt whose node is deleted runs again, as attempt 2, on another node.
      var lasting =
          post(
              "application/json",
              """
              {"id": "k8s/long", "command": ["sleep", "3600"], "cpuMillis": 1000,
               "retry": {"maxAttempts": 2}, "env": {"FAKE_MS": "3600000"}}
              """);
      assertThat(lasting.statusCode()).as(lasting.body()).isEqualTo(201);
      JsonNode first = awaitState("k8s%2Flong", "running");
      String firstNode = first.get("offer").asText();
      client.nodes().withName(firstNode).delete();
      JsonNode again = awaitAttempt("k8s%2Flong", 2, "running");
      assertThat(again.get("offer").asText()).isNotEqualTo(firstNode);
      assertThat(again.get("lastError").asText())
          .isEqualTo("lost: its node " + firstNode + " left the cluster (the node was deleted)");

      // Cancel deletes its pod.
      var cancel =
          http.send(
              request("/api/tasks/k8s%2Flong/cancel")
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString("{}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(cancel.statusCode()).as(cancel.body()).isIn(200, 202);
      awaitState("k8s%2Flong", "cancelled");
      // Both attempts' pods are gone: the lost one's, left on the deleted node, and the cancelled.
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (podsOf("k8s/long") > 0 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertThat(podsOf("k8s/long")).isZero();
    }
  }

  @Test
  void podsOfTasksTheStoreDoesNotHoldAreReportedAndDeletedOnlyWhenTold() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    FakeKubelet.node(client, "node-1", "2", "4Gi", Map.of());
    // Pods of this instance for a task no store here holds, and one of another instance.
    var orphan = new dev.stowage.scheduler.AttemptId("gone/task", 3);
    client.pods().inNamespace("batch").resource(foreignPod(orphan, "e2e")).create();
    var other = new dev.stowage.scheduler.AttemptId("theirs/task", 1);
    client.pods().inNamespace("batch").resource(foreignPod(other, "another-stowage")).create();
    Path kubeconfig = FakeKubelet.kubeconfig(client, tmp.resolve("kubeconfig"), "batch");
    System.setProperty("kubeconfig", kubeconfig.toString());
    for (boolean delete : new boolean[] {false, true}) {
      try (var kubelet = new FakeKubelet(client, server);
          var running =
              StowageService.builder(tmp.resolve("data"))
                  .interval(Duration.ofMillis(100))
                  .deleteOrphans(delete)
                  .cluster(
                      new StowageService.Cluster.Kubernetes(
                          new KubernetesBackend.Connection("test", 8),
                          new KubernetesBackend.Options(
                              "batch", "e2e", null, "busybox:1.36", null, Duration.ZERO, null)))
                  .start()) {
        service = running;
        // One cycle at least has run once the service answers a task's submit durably.
        var probe =
            post("application/json", "{\"id\": \"probe-" + delete + "\", \"command\": [\"true\"]}");
        assertThat(probe.statusCode()).as(probe.body()).isEqualTo(201);
        awaitState("probe-" + delete, "succeeded");
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (delete && podsOf("gone/task") > 0 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertThat(podsOf("gone/task")).as("orphan pod, delete=%s", delete).isEqualTo(delete ? 0 : 1);
      assertThat(podsOf("theirs/task")).as("another instance's pod").isEqualTo(1);
    }
  }

  @Test
  void inputsAndOutputsMoveInsideThePodAndOnlyItsStagerGetsTheS3Secret() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    FakeKubelet.node(client, "node-1", "4", "8Gi", Map.of());
    client
        .secrets()
        .inNamespace("batch")
        .resource(
            new io.fabric8.kubernetes.api.model.SecretBuilder()
                .withNewMetadata()
                .withName("s3-creds")
                .endMetadata()
                .addToData("AWS_ACCESS_KEY_ID", base64("stager-key"))
                .addToData("AWS_SECRET_ACCESS_KEY", base64("not-for-the-task"))
                .build())
        .create();
    Path in = Files.createDirectories(tmp.resolve("in"));
    Files.writeString(in.resolve("data.txt"), "hello pods\n");
    Path out = Files.createDirectories(tmp.resolve("out"));
    var sources = java.util.List.of("file://" + in + "/");
    var outputs = java.util.List.of("file://" + out + "/");
    Path kubeconfig = FakeKubelet.kubeconfig(client, tmp.resolve("kubeconfig"), "batch");
    System.setProperty("kubeconfig", kubeconfig.toString());
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // The stager image's command, run here from the test's classpath: the same jar's code.
    java.util.function.UnaryOperator<java.util.List<String>> stowageImage =
        command -> {
          int jar = command.indexOf("/opt/stowage/stowage.jar");
          if (jar < 0) {
            return command;
          }
          var local =
              new java.util.ArrayList<>(
                  java.util.List.of(
                      javaBin, "-cp", System.getProperty("java.class.path"), Main.class.getName()));
          local.addAll(command.subList(jar + 1, command.size()));
          return local;
        };
    try (var kubelet = new FakeKubelet(client, server, stowageImage);
        var running =
            StowageService.builder(tmp.resolve("data"))
                .interval(Duration.ofMillis(100))
                .allowedSources(sources)
                .allowedOutputs(outputs)
                .cluster(
                    new StowageService.Cluster.Kubernetes(
                        new KubernetesBackend.Connection("test", 8),
                        new KubernetesBackend.Options(
                                "batch", "e2e", null, "busybox:1.36", null, Duration.ZERO, null)
                            .withStaging(
                                new KubernetesBackend.PodStaging(
                                    "stowage:test", "s3-creds", sources, outputs))))
                .start()) {
      service = running;
      var upper =
          post(
              "application/json",
              """
              {"tasks": [
                {"id": "k8s/upper",
                 "command": ["sh", "-c",
                   "env > env.txt; mkdir -p result; tr a-z A-Z < in/data.txt > result/upper.txt"],
                 "inputs": [{"source": "file://%1$s/data.txt", "destination": "in/data.txt"}],
                 "outputs": [{"source": "result/upper.txt", "destination": "file://%2$s/upper.txt"},
                             {"source": "env.txt", "destination": "file://%2$s/env.txt"}]},
                {"id": "k8s/no-input", "command": ["true"],
                 "inputs": [{"source": "file://%1$s/missing.txt", "destination": "in/m.txt"}]},
                {"id": "k8s/no-output", "command": ["true"],
                 "outputs": [{"source": "never.txt", "destination": "file://%2$s/never.txt"}]}
              ]}
              """
                  .formatted(in, out));
      assertThat(upper.statusCode()).as(upper.body()).isEqualTo(201);
      awaitState("k8s%2Fupper", "succeeded");
      assertThat(Files.readString(out.resolve("upper.txt"))).isEqualTo("HELLO PODS\n");
      // The task's own environment, as its container had it: no S3 key, no secret.
      assertThat(Files.readString(out.resolve("env.txt")))
          .doesNotContain("AWS_SECRET_ACCESS_KEY", "not-for-the-task", "AWS_ACCESS_KEY_ID")
          .contains("TRACEPARENT=");
      var pod =
          client.pods().inNamespace("batch").list().getItems().stream()
              .filter(
                  p ->
                      "k8s/upper"
                          .equals(p.getMetadata().getAnnotations().get("stowage.dev/task-id")))
              .findFirst()
              .orElseThrow();
      assertThat(pod.getSpec().getInitContainers())
          .singleElement()
          .satisfies(
              c -> {
                assertThat(c.getName()).isEqualTo("stage-in");
                assertThat(c.getImage()).isEqualTo("stowage:test");
                assertThat(c.getEnvFrom().getFirst().getSecretRef().getName())
                    .isEqualTo("s3-creds");
              });
      assertThat(pod.getSpec().getContainers())
          .extracting(c -> c.getName())
          .containsExactly("task", "stage-out");
      assertThat(pod.getSpec().getContainers().getFirst().getEnvFrom()).isNullOrEmpty();

      JsonNode noInput = awaitState("k8s%2Fno-input", "failed");
      assertThat(noInput.get("lastError").asText())
          .isEqualTo(
              "staging failed: inputs: stage-in: source file://"
                  + in
                  + "/missing.txt: no such file or directory");
      JsonNode noOutput = awaitState("k8s%2Fno-output", "failed");
      assertThat(noOutput.get("lastError").asText())
          .isEqualTo(
              "staging failed: outputs: stage-out: output never.txt: no such file or directory in"
                  + " the work directory");
    }
  }

  private static String base64(String s) {
    return java.util.Base64.getEncoder()
        .encodeToString(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /** A pod as an instance named {@code instance} would have made for {@code attempt}. */
  private static io.fabric8.kubernetes.api.model.Pod foreignPod(
      dev.stowage.scheduler.AttemptId attempt, String instance) {
    return new io.fabric8.kubernetes.api.model.PodBuilder()
        .withNewMetadata()
        .withName(dev.stowage.backend.kubernetes.PodNames.of(attempt))
        .withNamespace("batch")
        .addToLabels("stowage.dev/instance", instance)
        .addToLabels("stowage.dev/attempt", Integer.toString(attempt.attempt()))
        .addToAnnotations("stowage.dev/task-id", attempt.taskId())
        .endMetadata()
        .withNewSpec()
        .withNodeName("node-1")
        .addNewContainer()
        .withName("task")
        .withImage("busybox:1.36")
        .withCommand("sleep", "3600")
        .endContainer()
        .endSpec()
        .build();
  }

  private long podsOf(String taskId) {
    return client.pods().inNamespace("batch").list().getItems().stream()
        .filter(p -> taskId.equals(p.getMetadata().getAnnotations().get("stowage.dev/task-id")))
        .count();
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
    return awaitAttempt(urlId, 0, state);
  }

  /** Polls the task until it is in {@code state} (at attempt {@code attempt} unless 0). */
  private JsonNode awaitAttempt(String urlId, int attempt, String state) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    JsonNode now = null;
    while (System.nanoTime() < deadline) {
      now =
          json.readTree(
              http.send(
                      request("/api/tasks/" + urlId).GET().build(),
                      HttpResponse.BodyHandlers.ofString())
                  .body());
      if (now.path("state").asText().equals(state)
          && (attempt == 0 || now.path("attempt").asInt() == attempt)) {
        return now;
      }
      Thread.sleep(50);
    }
    throw new AssertionError(urlId + " never reached " + state + ": " + now);
  }
}
