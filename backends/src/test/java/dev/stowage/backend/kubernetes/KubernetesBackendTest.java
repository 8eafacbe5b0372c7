package dev.stowage.backend.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Taint;
import dev.stowage.engine.Toleration;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.Launch;
import dev.stowage.scheduler.NodeEvent;
import dev.stowage.scheduler.TaskEvent;
import dev.stowage.scheduler.TaskEvent.Kind;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The backend against fabric8's API server mock in CRUD mode (real HTTP, watches, resourceVersions,
 * 409 on a duplicate name) and a fake kubelet that runs bound pods; the backend talks only to the
 * real client. No real cluster is reachable here.
 */
class KubernetesBackendTest {
  static final String NS = "batch";
  MockApiServer api;
  KubernetesMockServer server;
  KubernetesClient client;
  FakeKubelet kubelet;
  KubernetesBackend backend;
  final List<TaskEvent> seen = new ArrayList<>();

  @BeforeEach
  void start() {
    api = MockApiServer.start();
    server = api.server();
    client = api.client();
    node("node-a", "4", "8Gi", Map.of("topology.kubernetes.io/zone", "z1"));
    node("node-b", "2", "4Gi", Map.of("kubernetes.io/arch", "arm64"));
    kubelet = new FakeKubelet(client, server);
    backend = backend();
  }

  @AfterEach
  void stop() {
    backend.close();
    kubelet.close();
    api.close();
  }

  private KubernetesBackend backend() {
    return backend("busybox:1.36");
  }

  private KubernetesBackend backend(String image) {
    return new KubernetesBackend(
        client,
        new KubernetesBackend.Options(
            NS, "test", null, image, null, Duration.ZERO, Duration.ofMillis(300)),
        Clock.systemUTC(),
        8);
  }

  private void node(String name, String cpu, String memory, Map<String, String> labels) {
    FakeKubelet.node(client, name, cpu, memory, labels);
  }

  private static Launch launch(String task, int attempt, Map<String, String> env) {
    return new Launch(
        new AttemptId(task, attempt),
        "node-a",
        List.of("sh", "-c", "echo hi"),
        env,
        new Resources(500, 256, 0, 0),
        Duration.ofMinutes(5));
  }

  /** Drains the backend's events until one matches, for 10 s at most. */
  private TaskEvent await(Predicate<TaskEvent> wanted) throws InterruptedException {
    return await(backend, wanted);
  }

  private TaskEvent await(KubernetesBackend from, Predicate<TaskEvent> wanted)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      for (TaskEvent e : from.drainEvents()) {
        seen.add(e);
      }
      for (TaskEvent e : seen) {
        if (wanted.test(e)) {
          return e;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no such event in " + seen);
  }

  /** The attempt's pod, once its creation (asynchronous) has landed; 10 s at most. */
  private Pod awaitPod(AttemptId id) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      Pod p = client.pods().inNamespace(NS).withName(PodNames.of(id)).get();
      if (p != null) {
        return p;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no pod for " + id);
  }

  private List<NodeEvent> awaitNodeEvents(int n) throws InterruptedException {
    var out = new ArrayList<NodeEvent>();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (out.size() < n && System.nanoTime() < deadline) {
      out.addAll(backend.drainNodeEvents());
      Thread.sleep(20);
    }
    return out;
  }

  @Test
  void nodesArriveAsEventsAndOfferTheirAllocatableLessEveryBoundPodsRequests() throws Exception {
    var added = awaitNodeEvents(2);
    assertThat(added).hasSize(2).allMatch(e -> e instanceof NodeEvent.Added);
    Offer a =
        added.stream()
            .map(e -> ((NodeEvent.Added) e).capacity())
            .filter(o -> o.name().equals("node-a"))
            .findFirst()
            .orElseThrow();
    assertThat(a.available()).isEqualTo(new Resources(4000, 8192, 10240, 0));
    assertThat(a.attributes()).containsEntry("zone", "z1");

    // Somebody else's pod on node-a counts, as kube-scheduler counts it.
    client
        .pods()
        .inNamespace("other")
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("web")
                .endMetadata()
                .withNewSpec()
                .withNodeName("node-a")
                .addNewContainer()
                .withName("web")
                .withImage("nginx")
                // Serving for the whole test: an ended pod rightly no longer counts.
                .addNewEnv()
                .withName("FAKE_MS")
                .withValue("3600000")
                .endEnv()
                .withNewResources()
                .addToRequests("cpu", new Quantity("1500m"))
                .addToRequests("memory", new Quantity("1Gi"))
                .endResources()
                .endContainer()
                .endSpec()
                .build())
        .create();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    Offer offered = null;
    while (System.nanoTime() < deadline) {
      offered =
          backend.offers().stream().filter(o -> o.name().equals("node-a")).findFirst().orElse(null);
      if (offered != null && offered.available().cpuMillis() < 4000) {
        break;
      }
      Thread.sleep(20);
    }
    assertThat(offered.available().cpuMillis()).isEqualTo(2500);
    assertThat(offered.available().memoryMiB()).isEqualTo(7168);
    assertThat(backend.offers())
        .filteredOn(o -> o.name().equals("node-b"))
        .singleElement()
        .satisfies(o -> assertThat(o.attributes()).containsEntry("arch", "arm64"));

    client.nodes().withName("node-b").delete();
    assertThat(awaitNodeEvents(1))
        .singleElement()
        .isEqualTo(new NodeEvent.Removed("node-b", "the node was deleted"));
  }

  @Test
  void aTaintedNodeOffersWithItsTaintsAndAPodCarriesItsTasksTolerations() throws Exception {
    awaitNodeEvents(2);
    FakeKubelet.taint(client, "node-b", "nvidia.com/gpu", "present", "NoSchedule");
    FakeKubelet.taint(client, "node-b", "spot", "true", "PreferNoSchedule");
    var changed = awaitNodeEvents(1);
    var gpu = new Taint("nvidia.com/gpu", "present", "NoSchedule");
    // A preference is not a rule: only the NoSchedule taint keeps tasks off.
    assertThat(changed)
        .last()
        .satisfies(
            e -> assertThat(((NodeEvent.Changed) e).capacity().taints()).containsExactly(gpu));
    assertThat(backend.offers())
        .filteredOn(o -> o.name().equals("node-b"))
        .singleElement()
        .satisfies(o -> assertThat(o.taints()).containsExactly(gpu));

    var id = new AttemptId("train/tolerant", 1);
    backend.launch(
        new Launch(
            id,
            "node-b",
            List.of("true"),
            Map.of(),
            new Resources(100, 64, 0, 0),
            null,
            List.of(),
            List.of(),
            null,
            List.of(
                new Toleration("nvidia.com/gpu", true, "", "NoSchedule"),
                new Toleration("", true, "", ""))));
    Pod pod = awaitPod(id);
    assertThat(pod.getSpec().getTolerations())
        .extracting(t -> t.getKey(), t -> t.getOperator(), t -> t.getValue(), t -> t.getEffect())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("nvidia.com/gpu", "Exists", null, "NoSchedule"),
            org.assertj.core.groups.Tuple.tuple(null, "Exists", null, null));
    assertThat(await(e -> e.attempt().equals(id) && e.kind() == Kind.EXITED).exitCode()).isZero();
  }

  @Test
  void describeSaysWhatKubernetesSaysOfAPodThatHasNotStarted() throws Exception {
    var id = new AttemptId("etl/slow-pull", 1);
    backend.launch(
        new Launch(
            id,
            "node-a",
            List.of("true"),
            Map.of(),
            new Resources(100, 64, 0, 0),
            null,
            List.of(),
            List.of(),
            "slow/etl:1"));
    String said = "";
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!(said.contains("events:") && said.contains("waiting"))
        && System.nanoTime() < deadline) {
      said = backend.describe(id).orElseThrow();
      Thread.sleep(20);
    }
    assertThat(said)
        .isEqualTo(
            "pod "
                + PodNames.of(id)
                + " Pending on node-a; ContainersReady ContainersNotReady (containers with unready"
                + " status: [task]); container task waiting: ContainerCreating; events: Pulling:"
                + " Pulling image \"slow/etl:1\"");
    assertThat(backend.describe(new AttemptId("etl/never", 1)))
        .contains("no pod " + PodNames.of(new AttemptId("etl/never", 1)));
  }

  @Test
  void anAttemptsLogIsReadFromAnyByteAsItGrows() throws Exception {
    var id = new AttemptId("etl/chatty", 1);
    backend.launch(
        launch(
            "etl/chatty",
            1,
            Map.of("FAKE_LOG", "first line\n", "FAKE_LOG_END", "last line\n", "FAKE_MS", "1500")));
    await(e -> e.attempt().equals(id) && e.kind() == Kind.STARTED);
    var early = backend.log(id, false, 0, 1 << 20);
    assertThat(new String(early.bytes(), StandardCharsets.UTF_8)).isEqualTo("first line\n");
    await(e -> e.attempt().equals(id) && e.kind() == Kind.EXITED);
    var rest = backend.log(id, false, early.size(), 1 << 20);
    assertThat(rest.from()).isEqualTo(11);
    assertThat(new String(rest.bytes(), StandardCharsets.UTF_8)).isEqualTo("last line\n");
    var tail = backend.log(id, false, -1, 5);
    assertThat(new String(tail.bytes(), StandardCharsets.UTF_8)).isEqualTo("line\n");
    assertThat(tail.size()).isEqualTo(21);
  }

  @Test
  void anAttemptThatMovesDataFailsSayingSoWhenNoStagerImageIsGiven() throws Exception {
    var id = new AttemptId("etl/with-input", 1);
    backend.launch(
        new Launch(
            id,
            "node-a",
            List.of("true"),
            Map.of(),
            new Resources(100, 64, 0, 0),
            null,
            List.of(new dev.stowage.scheduler.StagedInput("s3://raw/a.csv", "a.csv")),
            List.of(),
            null));
    TaskEvent failed = await(e -> e.attempt().equals(id));
    assertThat(failed.kind()).isEqualTo(Kind.STAGING_FAILED);
    assertThat(failed.message()).contains("up --kube-stager-image");
    assertThat(client.pods().inNamespace(NS).withName(PodNames.of(id)).get()).isNull();
    assertThat(backend.stagesOnNode()).isTrue();
  }

  @Test
  void anAttemptIsOnePodOnItsNodeAndEndsWithItsExitCode() throws Exception {
    backend.launch(launch("etl/extract", 1, Map.of("TRACEPARENT", "00-abc-def-01")));

    Pod pod = awaitPod(new AttemptId("etl/extract", 1));
    assertThat(pod.getSpec().getNodeName()).isEqualTo("node-a");
    assertThat(pod.getSpec().getSchedulerName()).isEqualTo("stowage");
    assertThat(pod.getSpec().getRestartPolicy()).isEqualTo("Never");
    assertThat(pod.getSpec().getActiveDeadlineSeconds()).isEqualTo(300L);
    assertThat(pod.getSpec().getAutomountServiceAccountToken()).isFalse();
    var container = pod.getSpec().getContainers().getFirst();
    assertThat(container.getImage()).isEqualTo("busybox:1.36");
    assertThat(container.getCommand()).containsExactly("sh", "-c", "echo hi");
    assertThat(container.getResources().getRequests())
        .isEqualTo(container.getResources().getLimits())
        .containsEntry("cpu", new Quantity("500m"))
        .containsEntry("memory", new Quantity("256Mi"));
    assertThat(container.getEnv())
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("TRACEPARENT");
              assertThat(e.getValue()).isEqualTo("00-abc-def-01");
            });
    assertThat(pod.getMetadata().getAnnotations())
        .containsEntry(KubernetesBackend.TASK_ID, "etl/extract");

    var id = new AttemptId("etl/extract", 1);
    assertThat(await(e -> e.attempt().equals(id) && e.kind() == Kind.STARTED)).isNotNull();
    TaskEvent end = await(e -> e.attempt().equals(id) && e.kind() == Kind.EXITED);
    assertThat(end.exitCode()).isZero();

    var failing = new AttemptId("etl/bad", 2);
    backend.launch(launch("etl/bad", 2, Map.of("FAKE_EXIT", "3")));
    assertThat(await(e -> e.attempt().equals(failing) && e.kind() == Kind.EXITED).exitCode())
        .isEqualTo(3);

    var oom = new AttemptId("etl/oom", 1);
    backend.launch(launch("etl/oom", 1, Map.of("FAKE_OOM", "1")));
    TaskEvent killed = await(e -> e.attempt().equals(oom) && e.kind() == Kind.OUT_OF_MEMORY);
    assertThat(killed.exitCode()).isEqualTo(137);
  }

  @Test
  void launchingTheSameAttemptAgainAdoptsItsPod() throws Exception {
    var id = new AttemptId("etl/once", 1);
    backend.launch(launch("etl/once", 1, Map.of("FAKE_MS", "60000")));
    await(e -> e.attempt().equals(id) && e.kind() == Kind.STARTED);

    // As a restarted scheduler whose record of the launch was lost would.
    KubernetesBackend restarted = backend();
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (!restarted.knownAttempts().containsKey(id) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(restarted.knownAttempts()).containsEntry(id, "node-a");
      restarted.launch(launch("etl/once", 1, Map.of("FAKE_MS", "60000")));
      // It says what became of the attempt (besides what its informer reported on its own).
      TaskEvent adopted =
          await(
              restarted, e -> e.attempt().equals(id) && e.message().startsWith("launched before"));
      assertThat(adopted.kind()).isEqualTo(Kind.STARTED);
      assertThat(client.pods().inNamespace(NS).list().getItems()).hasSize(1);
    } finally {
      restarted.close();
    }
  }

  @Test
  void killDeletesThePodAndEvictionFailsTheAttemptWithItsCause() throws Exception {
    var id = new AttemptId("etl/long", 1);
    backend.launch(launch("etl/long", 1, Map.of("FAKE_MS", "60000")));
    await(e -> e.attempt().equals(id) && e.kind() == Kind.STARTED);

    backend.kill(id);

    assertThat(await(e -> e.attempt().equals(id) && e.kind() == Kind.KILLED)).isNotNull();
    assertThat(client.pods().inNamespace(NS).withName(PodNames.of(id)).get()).isNull();

    var evicted = new AttemptId("etl/evicted", 1);
    backend.launch(launch("etl/evicted", 1, Map.of("FAKE_MS", "60000")));
    await(e -> e.attempt().equals(evicted) && e.kind() == Kind.STARTED);
    kubelet.evict(NS, PodNames.of(evicted));
    TaskEvent e = await(ev -> ev.attempt().equals(evicted) && ev.kind() == Kind.EVICTED);
    assertThat(e.message()).startsWith("Evicted: The node was low on resource");

    var gone = new AttemptId("etl/gone", 1);
    backend.launch(launch("etl/gone", 1, Map.of("FAKE_MS", "60000")));
    await(ev -> ev.attempt().equals(gone) && ev.kind() == Kind.STARTED);
    client.pods().inNamespace(NS).withName(PodNames.of(gone)).delete();
    assertThat(await(ev -> ev.attempt().equals(gone) && ev.kind() == Kind.LOST).message())
        .isEqualTo("its pod was deleted");
  }

  @Test
  void anUnreachableApiServerFailsInOneLineNamingIt(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
    var kubeconfig = tmp.resolve("config");
    java.nio.file.Files.writeString(
        kubeconfig,
        """
        apiVersion: v1
        kind: Config
        clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: me, user: {token: "t"}}]
        contexts: [{name: nowhere, context: {cluster: nowhere, user: me}}]
        current-context: nowhere
        """);
    String before = System.getProperty("kubeconfig");
    System.setProperty("kubeconfig", kubeconfig.toString());
    try {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () ->
                  KubernetesBackend.connect(
                      new KubernetesBackend.Connection("nowhere", 4),
                      new KubernetesBackend.Options(NS, "test", null, "busybox", null, null, null),
                      Clock.systemUTC()))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith(
              "cannot list nodes and pods from the Kubernetes API server at https://127.0.0.1:1/"
                  + " (context nowhere): nothing answers there")
          .message()
          .doesNotContain("\n");
    } finally {
      if (before == null) {
        System.clearProperty("kubeconfig");
      } else {
        System.setProperty("kubeconfig", before);
      }
    }
  }

  @Test
  void aPodThatCannotPullItsImageFailsItsAttemptWithTheKubeletsReason() throws Exception {
    backend.close();
    backend = backend("registry.invalid/missing:1");
    var id = new AttemptId("etl/unpullable", 1);
    backend.launch(launch("etl/unpullable", 1, Map.of()));

    TaskEvent failed = await(e -> e.attempt().equals(id) && e.kind() == Kind.LAUNCH_FAILED);

    assertThat(failed.message())
        .startsWith("ErrImagePull: pull access denied for registry.invalid/missing:1");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (client.pods().inNamespace(NS).withName(PodNames.of(id)).get() != null
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(client.pods().inNamespace(NS).withName(PodNames.of(id)).get()).isNull();
    Thread.sleep(200); // its deletion reports nothing more: the attempt has ended
    backend.drainEvents().forEach(seen::add);
    assertThat(seen).filteredOn(e -> e.attempt().equals(id)).hasSize(1);
  }

  @Test
  void launchesReturnAtOnceAndTheirPodsAreCreatedRetryingWhatTheServerRefusesForNow()
      throws Exception {
    // The API server says 429 to the first creation: it is tried again (by the client's own
    // back-off first), and lands; no attempt fails.
    server
        .expect()
        .post()
        .withPath("/api/v1/namespaces/" + NS + "/pods")
        .andReturn(429, "{\"kind\":\"Status\",\"code\":429,\"message\":\"slow down\"}")
        .once();
    var ids = new ArrayList<AttemptId>();
    for (int i = 0; i < 50; i++) {
      ids.add(new AttemptId("many/t" + i, 1));
      backend.launch(launch("many/t" + i, 1, Map.of("FAKE_MS", "60000")));
    }
    for (AttemptId id : ids) {
      await(e -> e.attempt().equals(id) && e.kind() == Kind.STARTED);
    }
    assertThat(client.pods().inNamespace(NS).list().getItems()).hasSize(50);
    assertThat(seen).noneMatch(e -> e.kind() == Kind.LAUNCH_FAILED);
  }

  @Test
  void podNamesAreDns1123LabelsThatTellLookAlikeIdsApart() {
    String a = PodNames.of(new AttemptId("Team/ETL_step.1", 3));
    String b = PodNames.of(new AttemptId("team-etl-step-1", 3));
    String longId = PodNames.of(new AttemptId("x".repeat(200), 12));
    for (String name : List.of(a, b, longId)) {
      assertThat(name).matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?").hasSizeLessThanOrEqualTo(63);
    }
    assertThat(a).isNotEqualTo(b).startsWith("st-team-etl-step-1-").endsWith("-3");
    assertThat(PodNames.of(new AttemptId("Team/ETL_step.1", 3))).isEqualTo(a);
  }
}
