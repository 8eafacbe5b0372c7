package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.backend.kubernetes.FakeKubelet;
import dev.stowage.backend.kubernetes.MockApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real service JVM on {@code --backend kubernetes}, killed with SIGKILL right after it handed a
 * cycle's pods to the API server and before it recorded their launch, then started again: every
 * task runs in exactly one pod and succeeds. The API server mock and the fake kubelet live in this
 * test's JVM; the service reaches them through a kubeconfig.
 */
class KubernetesKillAndRestartTest {
  MockApiServer api;
  KubernetesClient client;
  @TempDir Path tmp;

  @BeforeEach
  void startApiServer() {
    api = MockApiServer.start();
    client = api.client();
  }

  @AfterEach
  void stopApiServer() {
    api.close();
  }

  @Test
  void aServiceKilledBetweenCreatingPodsAndRecordingThemRunsEachTaskOnce() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    FakeKubelet.node(client, "node-1", "4", "8Gi", Map.of());
    FakeKubelet.node(client, "node-2", "4", "8Gi", Map.of());
    Path kubeconfig = FakeKubelet.kubeconfig(client, tmp.resolve("kubeconfig"), null);
    Path data = tmp.resolve("data");
    Path dag = tmp.resolve("dag.json");
    var ids = List.of("kill/a", "kill/b", "kill/c", "kill/d");
    var tasks = new StringBuilder("{\"tasks\": [");
    for (String id : ids) {
      tasks
          .append(tasks.length() > 11 ? "," : "")
          .append(
              "{\"id\": \"%s\", \"command\": [\"true\"], \"cpuMillis\": 500,".formatted(id)
                  + " \"env\": {\"FAKE_MS\": \"2000\"}}");
    }
    Files.writeString(dag, tasks.append("]}").toString());
    int port = KillAndRestartTest.freePort();
    String url = "http://127.0.0.1:" + port;
    try (var kubelet = new FakeKubelet(client)) {
      Process first = service(data, port, kubeconfig, "launched-unrecorded");
      Process second = null;
      try {
        awaitHealthy(url, first, data);
        // Unanswered if the cycle it wakes reaches the crash point first: submitted again below.
        MainTest.Run submitted = cli(data, "submit", dag.toString(), "--url", url);
        assertThat(first.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(first.exitValue()).as("the exit of a SIGKILL").isEqualTo(137);

        second = service(data, port, kubeconfig, null);
        awaitHealthy(url, second, data);
        KillAndRestartTest.submitAgainIfUnanswered(submitted, data, dag, url);
        KillAndRestartTest.awaitSucceeded(data, url, ids);
        assertThat(kubelet.runs())
            .as("pods run per task")
            .isEqualTo(Map.of("kill/a", 1, "kill/b", 1, "kill/c", 1, "kill/d", 1));
      } finally {
        first.destroyForcibly();
        if (second != null) {
          second.destroy();
          second.waitFor(30, TimeUnit.SECONDS);
        }
      }
    }
  }

  private static Process service(Path data, int port, Path kubeconfig, String crashAt)
      throws Exception {
    var env = new java.util.HashMap<String, String>();
    env.put("KUBECONFIG", kubeconfig.toString());
    if (crashAt != null) {
      env.put("STOWAGE_CRASH_AT", crashAt);
    }
    return KillAndRestartTest.service(
        data, port, env, "--backend", "kubernetes", "--namespace", "batch");
  }

  private static MainTest.Run cli(Path data, String... args) {
    return KillAndRestartTest.cli(data, args);
  }

  private static void awaitHealthy(String url, Process service, Path data) throws Exception {
    KillAndRestartTest.awaitHealthy(url, service, data);
  }
}
