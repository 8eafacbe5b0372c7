package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.engine.Resources;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `stowage up`'s cluster options: refused clearly before anything starts. */
class UpCommandTest {
  @TempDir Path tmp;

  @Test
  void capacityOverridesReplaceOnlyTheNamedDimensions() {
    var detected = new Resources(2000, 4096, 50_000, 0);

    assertThat(UpCommand.withOverrides(detected, Map.of("cpuMillis", "8000", "gpus", " 1")))
        .isEqualTo(new Resources(8000, 4096, 50_000, 1));
    assertThatThrownBy(() -> UpCommand.withOverrides(detected, Map.of("memory", "1")))
        .hasMessage(
            "--capacity: unknown dimension 'memory' (expected one of cpuMillis, memoryMiB,"
                + " diskMiB, gpus)");
    assertThatThrownBy(() -> UpCommand.withOverrides(detected, Map.of("memoryMiB", "lots")))
        .hasMessage("--capacity: memoryMiB must be an integer, got 'lots'");
    assertThatThrownBy(() -> UpCommand.withOverrides(detected, Map.of("gpus", "-1")))
        .hasMessageStartingWith("--capacity: gpus must be an integer in [0, 2^53]");
  }

  @Test
  void aTraceLinkWithoutItsTraceIdIsAUsageErrorNamingIt() {
    MainTest.Run bad =
        MainTest.run(
            "up",
            "--data-dir",
            tmp.resolve("data").toString(),
            "--trace-link",
            "https://jaeger.example/trace/");

    assertThat(bad.exit()).isEqualTo(2);
    assertThat(bad.err())
        .startsWith(
            "stowage: --trace-link: must be an http(s) URL with {traceId} in it, got"
                + " 'https://jaeger.example/trace/'\n");
  }

  @Test
  void aBadPriorityClassIsAUsageErrorNamingIt() {
    String data = tmp.resolve("data").toString();
    MainTest.Run noValue = MainTest.run("up", "--data-dir", data, "--priority-class", "urgent");
    MainTest.Run badFlag =
        MainTest.run("up", "--data-dir", data, "--priority-class", "urgent=10,preempt");
    MainTest.Run badName =
        MainTest.run("up", "--data-dir", data, "--priority-class", "Urgent=10,preempts");

    assertThat(noValue.exit()).isEqualTo(2);
    assertThat(noValue.err())
        .startsWith(
            "stowage: --priority-class urgent: expected NAME=VALUE[,preempts][,non-preemptible],"
                + " VALUE an integer\n");
    assertThat(badFlag.err())
        .startsWith(
            "stowage: --priority-class urgent=10,preempt: unknown flag 'preempt' (expected"
                + " preempts or non-preemptible)\n");
    assertThat(badName.err())
        .startsWith(
            "stowage: --priority-class Urgent=10,preempts: name: must be 1-63 lowercase letters,"
                + " digits or '-', starting and ending with a letter or digit, got \"Urgent\"\n");
  }

  @Test
  void inconsistentClusterOptionsAreUsageErrors() {
    String data = tmp.resolve("data").toString();

    MainTest.Run noNodes = MainTest.run("up", "--data-dir", data, "--backend", "sim");
    MainTest.Run both =
        MainTest.run(
            "up", "--data-dir", data, "--backend", "sim", "--sim-nodes", "3", "--sim-offers", "x");
    MainTest.Run simOnLocal = MainTest.run("up", "--data-dir", data, "--sim-nodes", "3");
    MainTest.Run unknown = MainTest.run("up", "--data-dir", data, "--backend", "k8s");
    MainTest.Run kubeCapacity =
        MainTest.run(
            "up", "--data-dir", data, "--backend", "kubernetes", "--capacity", "cpuMillis=1000");
    MainTest.Run kubeRequests =
        MainTest.run(
            "up", "--data-dir", data, "--backend", "kubernetes", "--kube-max-requests", "0");
    MainTest.Run kubeQps =
        MainTest.run("up", "--data-dir", data, "--backend", "kubernetes", "--kube-qps", "0");
    MainTest.Run kubeFiles =
        MainTest.run(
            "up",
            "--data-dir",
            data,
            "--backend",
            "kubernetes",
            "--allow-source",
            "s3://raw/",
            "--allow-source",
            "file:///data/");
    MainTest.Run badFile =
        MainTest.run(
            "up",
            "--data-dir",
            data,
            "--backend",
            "sim",
            "--sim-offers",
            tmp.resolve("no").toString());

    assertThat(noNodes.exit()).isEqualTo(2);
    assertThat(noNodes.err())
        .startsWith("stowage: --backend sim needs one of --sim-nodes N or --sim-offers FILE\n");
    assertThat(both.err())
        .startsWith("stowage: --backend sim needs one of --sim-nodes N or --sim-offers FILE\n");
    assertThat(simOnLocal.err())
        .startsWith("stowage: --sim-nodes and --sim-offers need --backend sim\n");
    assertThat(unknown.err())
        .startsWith("stowage: --backend must be local, sim or kubernetes, got 'k8s'\n");
    assertThat(kubeQps.exit()).isEqualTo(2);
    assertThat(kubeQps.err())
        .startsWith("stowage: --kube-qps must be a positive number, got 0.0\n");
    assertThat(kubeFiles.exit()).isEqualTo(2);
    assertThat(kubeFiles.err())
        .startsWith(
            "stowage: --allow-source file:///data/: on --backend kubernetes data moves inside the"
                + " pods, which cannot reach this machine's files; only s3:// locations can be"
                + " allowed\n");
    assertThat(kubeCapacity.exit()).isEqualTo(2);
    assertThat(kubeCapacity.err())
        .startsWith(
            "stowage: --capacity is for --backend local; a cluster's nodes come with their own\n");
    assertThat(kubeRequests.exit()).isEqualTo(2);
    assertThat(kubeRequests.err()).startsWith("stowage: --kube-max-requests");
    assertThat(badFile.exit()).isEqualTo(1);
    assertThat(badFile.err()).isEqualTo("stowage: " + tmp.resolve("no") + ": no such file\n");
  }
}
