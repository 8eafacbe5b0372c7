package dev.stowage.backend.kubernetes;

import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * What the kubelets of a cluster would do to bound pods, for the test API server (which runs no
 * controllers): a pod bound to a node is moved to Running, then, after its {@code FAKE_MS}
 * milliseconds, to Succeeded or Failed with the exit code its {@code FAKE_EXIT} names ({@code
 * FAKE_OOM} set: OOMKilled, 137). Through the real client, so the backend sees real watch events.
 * Given the server, it also serves each container's log (its {@code FAKE_LOG} when it starts, then
 * its {@code FAKE_LOG_END} when it ends) and records events as a kubelet does: an image under
 * {@code registry.invalid/} cannot be pulled, one under {@code slow/} is pulled for good.
 */
public final class FakeKubelet implements AutoCloseable {
  private final KubernetesClient client;
  private final KubernetesMockServer server;
  private final SharedIndexInformer<Pod> pods;
  private final ScheduledExecutorService later = Executors.newSingleThreadScheduledExecutor();
  private final Map<String, StringBuffer> logs = new java.util.concurrent.ConcurrentHashMap<>();
  private final ProcessPods processes;
  private final java.util.concurrent.ExecutorService running =
      Executors.newVirtualThreadPerTaskExecutor();

  public FakeKubelet(KubernetesClient client) {
    this(client, null);
  }

  public FakeKubelet(KubernetesClient client, KubernetesMockServer server) {
    this(client, server, null);
  }

  /**
   * One that also runs, as local processes, the containers of pods that move data ({@link
   * ProcessPods}), each command through {@code localCommand}.
   */
  public FakeKubelet(
      KubernetesClient client,
      KubernetesMockServer server,
      java.util.function.UnaryOperator<List<String>> localCommand) {
    this.client = client;
    this.server = server;
    this.processes = localCommand == null ? null : new ProcessPods(client, localCommand);
    this.pods =
        client
            .pods()
            .inAnyNamespace()
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod p) {
                    boolean fresh = p.getStatus() == null || p.getStatus().getPhase() == null;
                    if (p.getSpec().getNodeName() != null && fresh) {
                      later.execute(() -> run(p));
                    }
                  }

                  @Override
                  public void onUpdate(Pod old, Pod now) {}

                  @Override
                  public void onDelete(Pod p, boolean unknown) {}
                },
                0);
  }

  private final Map<String, Integer> runs = new java.util.concurrent.ConcurrentHashMap<>();

  /** How many pods of each task id this kubelet has run. */
  public Map<String, Integer> runs() {
    return Map.copyOf(runs);
  }

  private void run(Pod p) {
    var annotations = p.getMetadata().getAnnotations();
    if (annotations != null && annotations.get(KubernetesBackend.TASK_ID) != null) {
      runs.merge(annotations.get(KubernetesBackend.TASK_ID), 1, Integer::sum);
    }
    if (processes != null && ProcessPods.movesData(p)) {
      StringBuffer log = serveLog(p);
      running.execute(
          () -> {
            try {
              log.append(processes.run(p));
            } catch (Exception e) {
              throw new IllegalStateException("cannot run pod " + p.getMetadata().getName(), e);
            }
          });
      return;
    }
    String image = p.getSpec().getContainers().getFirst().getImage();
    if (image.startsWith("slow/")) {
      event(p, "Normal", "Pulling", "Pulling image \"" + image + "\"");
      waiting(p, "ContainerCreating", null);
      return;
    }
    if (image.startsWith("registry.invalid/")) {
      event(p, "Warning", "Failed", "Failed to pull image \"" + image + "\": pull access denied");
      // As a kubelet that cannot pull: Pending, its container waiting, for good.
      waiting(p, "ErrImagePull", "pull access denied for " + image);
      return;
    }
    StringBuffer log = serveLog(p);
    log.append(env(p, "FAKE_LOG", ""));
    event(p, "Normal", "Started", "Started container " + AttemptPods.CONTAINER);
    status(p, "Running", null, null, null);
    long ms = Long.parseLong(env(p, "FAKE_MS", "0"));
    later.schedule(
        () -> {
          log.append(env(p, "FAKE_LOG_END", ""));
          boolean oom = env(p, "FAKE_OOM", null) != null;
          int code = oom ? 137 : Integer.parseInt(env(p, "FAKE_EXIT", "0"));
          status(
              p,
              code == 0 ? "Succeeded" : "Failed",
              null,
              code,
              oom ? "OOMKilled" : code == 0 ? "Completed" : "Error");
        },
        ms,
        TimeUnit.MILLISECONDS);
  }

  /**
   * Writes a kubeconfig whose one context, {@code test}, reaches the API server mock behind {@code
   * client} (its self-signed certificate not checked), in {@code namespace} if given.
   */
  public static java.nio.file.Path kubeconfig(
      KubernetesClient client, java.nio.file.Path file, String namespace)
      throws java.io.IOException {
    return java.nio.file.Files.writeString(
        file,
        """
        apiVersion: v1
        kind: Config
        clusters: [{name: test, cluster: {server: "%s", insecure-skip-tls-verify: true}}]
        users: [{name: me, user: {token: "t"}}]
        contexts: [{name: test, context: {cluster: test, user: me%s}}]
        current-context: test
        """
            .formatted(
                client.getMasterUrl(), namespace == null ? "" : ", namespace: " + namespace));
  }

  /** Adds a Ready node with this allocatable (and 10Gi of ephemeral storage). */
  public static void node(
      KubernetesClient client, String name, String cpu, String memory, Map<String, String> labels) {
    client
        .nodes()
        .resource(
            new NodeBuilder()
                .withNewMetadata()
                .withName(name)
                .withLabels(labels)
                .endMetadata()
                .withNewStatus()
                .addToAllocatable("cpu", new Quantity(cpu))
                .addToAllocatable("memory", new Quantity(memory))
                .addToAllocatable("ephemeral-storage", new Quantity("10Gi"))
                .addNewCondition()
                .withType("Ready")
                .withStatus("True")
                .endCondition()
                .endStatus()
                .build())
        .create();
  }

  /** Taints a node, as {@code kubectl taint nodes <node> key=value:effect} does. */
  public static void taint(
      KubernetesClient client, String node, String key, String value, String effect) {
    client
        .nodes()
        .withName(node)
        .edit(
            n ->
                new NodeBuilder(n)
                    .editOrNewSpec()
                    .addNewTaint()
                    .withKey(key)
                    .withValue(value)
                    .withEffect(effect)
                    .endTaint()
                    .endSpec()
                    .build());
  }

  /** Gives a node this many {@code nvidia.com/gpu}, as a device plugin would. */
  public static void gpus(KubernetesClient client, String node, int count) {
    client
        .nodes()
        .withName(node)
        .edit(
            n ->
                new NodeBuilder(n)
                    .editStatus()
                    .addToAllocatable("nvidia.com/gpu", new Quantity(Integer.toString(count)))
                    .endStatus()
                    .build());
  }

  /** The pod's log as the API server serves it, growing as the container writes. */
  private StringBuffer serveLog(Pod p) {
    String ns = p.getMetadata().getNamespace();
    String name = p.getMetadata().getName();
    StringBuffer log = logs.computeIfAbsent(ns + "/" + name, k -> new StringBuffer());
    if (server != null) {
      server
          .expect()
          .get()
          .withPath(
              "/api/v1/namespaces/%s/pods/%s/log?pretty=false&container=%s"
                  .formatted(ns, name, AttemptPods.CONTAINER))
          .andReply(200, request -> log.toString())
          .always();
    }
    return log;
  }

  private final Map<String, List<io.fabric8.kubernetes.api.model.Event>> events =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Records an event about the pod, as a kubelet does. The API server mock cannot select events by
   * {@code involvedObject.name}, as a real one can, so that list is answered here.
   */
  private void event(Pod p, String type, String reason, String message) {
    var now = java.time.Instant.now().toString();
    String ns = p.getMetadata().getNamespace();
    String name = p.getMetadata().getName();
    var ofPod =
        events.computeIfAbsent(
            ns + "/" + name,
            k -> {
              var list =
                  new java.util.concurrent.CopyOnWriteArrayList<
                      io.fabric8.kubernetes.api.model.Event>();
              if (server != null) {
                server
                    .expect()
                    .get()
                    .withPath(
                        "/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3D%s"
                            .formatted(ns, name))
                    .andReply(
                        200,
                        request ->
                            new io.fabric8.kubernetes.api.model.EventListBuilder()
                                .withItems(List.copyOf(list))
                                .build())
                    .always();
              }
              return list;
            });
    var created =
        client
            .v1()
            .events()
            .inNamespace(p.getMetadata().getNamespace())
            .resource(
                new io.fabric8.kubernetes.api.model.EventBuilder()
                    .withNewMetadata()
                    .withGenerateName(p.getMetadata().getName() + ".")
                    .withName(p.getMetadata().getName() + "." + Long.toHexString(System.nanoTime()))
                    .endMetadata()
                    .withNewInvolvedObject()
                    .withKind("Pod")
                    .withNamespace(p.getMetadata().getNamespace())
                    .withName(p.getMetadata().getName())
                    .withUid(p.getMetadata().getUid())
                    .endInvolvedObject()
                    .withType(type)
                    .withReason(reason)
                    .withMessage(message)
                    .withFirstTimestamp(now)
                    .withLastTimestamp(now)
                    .withCount(1)
                    .build())
            .create();
    ofPod.add(created);
  }

  /** Leaves the pod Pending, its container waiting for this reason. */
  private void waiting(Pod p, String reason, String message) {
    client
        .pods()
        .inNamespace(p.getMetadata().getNamespace())
        .withName(p.getMetadata().getName())
        .editStatus(
            now -> {
              now.setStatus(
                  new io.fabric8.kubernetes.api.model.PodStatusBuilder()
                      .withPhase("Pending")
                      .addNewCondition()
                      .withType("PodScheduled")
                      .withStatus("True")
                      .endCondition()
                      .addNewCondition()
                      .withType("ContainersReady")
                      .withStatus("False")
                      .withReason("ContainersNotReady")
                      .withMessage("containers with unready status: [task]")
                      .endCondition()
                      .withContainerStatuses(
                          new ContainerStatusBuilder()
                              .withName(AttemptPods.CONTAINER)
                              .withState(
                                  new ContainerStateBuilder()
                                      .withNewWaiting()
                                      .withReason(reason)
                                      .withMessage(message)
                                      .endWaiting()
                                      .build())
                              .build())
                      .build());
              return now;
            });
  }

  /** Fails the pod as a kubelet evicting it for node pressure would. */
  public void evict(String namespace, String name) {
    Pod p = client.pods().inNamespace(namespace).withName(name).get();
    status(p, "Failed", "Evicted", null, null);
  }

  private void status(Pod p, String phase, String reason, Integer exitCode, String endReason) {
    var ns = p.getMetadata().getNamespace();
    var name = p.getMetadata().getName();
    client
        .pods()
        .inNamespace(ns)
        .withName(name)
        .editStatus(
            now -> {
              var b = new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase(phase);
              if (reason != null) {
                b.withReason(reason).withMessage("The node was low on resource: memory.");
              }
              if (exitCode != null) {
                b.withContainerStatuses(
                    new ContainerStatusBuilder()
                        .withName(AttemptPods.CONTAINER)
                        .withState(
                            new ContainerStateBuilder()
                                .withNewTerminated()
                                .withExitCode(exitCode)
                                .withReason(endReason)
                                .endTerminated()
                                .build())
                        .build());
              }
              now.setStatus(b.build());
              return now;
            });
  }

  private static String env(Pod p, String name, String fallback) {
    List<EnvVar> env = p.getSpec().getContainers().getFirst().getEnv();
    return env.stream()
        .filter(e -> e.getName().equals(name))
        .map(EnvVar::getValue)
        .findFirst()
        .orElse(fallback);
  }

  @Override
  public void close() {
    pods.close();
    later.shutdownNow();
    running.shutdownNow();
  }
}
