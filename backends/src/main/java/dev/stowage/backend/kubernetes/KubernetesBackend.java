package dev.stowage.backend.kubernetes;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.Launch;
import dev.stowage.scheduler.NodeEvent;
import dev.stowage.scheduler.TaskEvent;
import dev.stowage.scheduler.TaskEvent.Kind;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A Kubernetes cluster as the cycle's backend. Nodes and pods come from informers (one list, then a
 * watch, resynced), never a list per cycle: the nodes' changes become {@link NodeEvent}s, each
 * Ready and schedulable node is an offer of its allocatable less the requests of every pod bound to
 * it (all pods, as kube-scheduler counts them), and Stowage's own pods' phases become the attempts'
 * events. Each attempt is one pod named from its attempt alone ({@link PodNames}), placed by
 * setting its node (see docs/design/kubernetes.md), so that a second launch of the same attempt is
 * refused by the API server and adopted.
 */
public final class KubernetesBackend implements ClusterBackend {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(KubernetesBackend.class);

  /** On each of Stowage's pods: which instance launched it. */
  static final String INSTANCE = "stowage.dev/instance";

  /** On each of Stowage's pods: a hash standing for its task id ({@link PodNames#hash}). */
  static final String TASK = "stowage.dev/task";

  /** On each of Stowage's pods: the attempt number. */
  static final String ATTEMPT = "stowage.dev/attempt";

  /** The task id itself, whole: an annotation, as a label value cannot hold every id. */
  static final String TASK_ID = "stowage.dev/task-id";

  /**
   * How the backend runs attempts.
   *
   * @param namespace where attempts' pods are created
   * @param instance this Stowage's name, on every pod it creates, for finding them again
   * @param schedulerName the pods' {@code schedulerName}: the default scheduler leaves them alone
   * @param image what an attempt's container runs
   * @param gpuResource the extended resource counted as gpus
   * @param deleteGrace how long a cancelled or timed-out pod gets to stop
   * @param startWait how long a pod may stay unable to start (its image not pulled, its config
   *     wrong) before its attempt fails with the kubelet's reason
   */
  public record Options(
      String namespace,
      String instance,
      String schedulerName,
      String image,
      String gpuResource,
      Duration deleteGrace,
      Duration startWait,
      PodStaging staging) {
    public Options {
      Objects.requireNonNull(namespace, "namespace");
      Objects.requireNonNull(instance, "instance");
      Objects.requireNonNull(image, "image");
      schedulerName = schedulerName == null ? "stowage" : schedulerName;
      gpuResource = gpuResource == null ? "nvidia.com/gpu" : gpuResource;
      deleteGrace = deleteGrace == null ? Duration.ofSeconds(30) : deleteGrace;
      startWait = startWait == null ? Duration.ofMinutes(2) : startWait;
      staging = staging == null ? PodStaging.NONE : staging;
    }

    /** Without staging in the pod: a task that declares inputs or outputs fails its attempt. */
    public Options(
        String namespace,
        String instance,
        String schedulerName,
        String image,
        String gpuResource,
        Duration deleteGrace,
        Duration startWait) {
      this(namespace, instance, schedulerName, image, gpuResource, deleteGrace, startWait, null);
    }

    /** The same, staging data in the pod as {@code staging} says. */
    public Options withStaging(PodStaging staging) {
      return new Options(
          namespace, instance, schedulerName, image, gpuResource, deleteGrace, startWait, staging);
    }
  }

  /**
   * How an attempt's inputs and outputs are moved on its node, inside its pod, never through the
   * scheduler's disk: an init container runs Stowage's stager into the pod's work volume before the
   * task starts, and a second container copies the outputs out once the task has exited with 0, as
   * Argo Workflows' wait container does.
   *
   * @param stagerImage the Stowage image (its jar at {@code /opt/stowage/stowage.jar}); null: no
   *     staging, a task that declares data fails its attempt saying so
   * @param s3Secret a Secret in the namespace whose keys become the stager containers' environment
   *     ({@code AWS_ACCESS_KEY_ID}, {@code AWS_SECRET_ACCESS_KEY}, {@code AWS_REGION}, {@code
   *     AWS_ENDPOINT_URL_S3}), never the task's; null for the node's own credentials
   * @param allowedSources what inputs may be read from, checked again in the pod
   * @param allowedOutputs where outputs may be written to, checked again in the pod
   */
  public record PodStaging(
      String stagerImage,
      String s3Secret,
      List<String> allowedSources,
      List<String> allowedOutputs) {
    public static final PodStaging NONE = new PodStaging(null, null, List.of(), List.of());

    public PodStaging {
      allowedSources = allowedSources == null ? List.of() : List.copyOf(allowedSources);
      allowedOutputs = allowedOutputs == null ? List.of() : List.copyOf(allowedOutputs);
    }
  }

  /**
   * How to reach the API server, the standard way: {@code KUBECONFIG}, then {@code ~/.kube/config},
   * then the pod's service account when running in the cluster.
   *
   * @param context the kubeconfig context to use; null for its current one
   * @param maxConcurrentRequests how many requests the client has in flight at most
   * @param writesPerSecond how many pod creations and deletions per second at most, as client-go's
   *     QPS bounds a controller's
   */
  public record Connection(String context, int maxConcurrentRequests, double writesPerSecond) {
    public Connection {
      if (maxConcurrentRequests < 1) {
        throw new IllegalArgumentException("maxConcurrentRequests must be at least 1");
      }
      if (!(writesPerSecond > 0)) {
        throw new IllegalArgumentException("writesPerSecond must be positive");
      }
    }

    /** With the default bound of {@link #DEFAULT_WRITES_PER_SECOND}. */
    public Connection(String context, int maxConcurrentRequests) {
      this(context, maxConcurrentRequests, DEFAULT_WRITES_PER_SECOND);
    }
  }

  /** Pod creations and deletions per second by default: above what one API server took here. */
  public static final double DEFAULT_WRITES_PER_SECOND = 1_000;

  /**
   * A backend with a client of its own, configured as {@code kubectl} is, closed with it. Fails in
   * one line naming the server when the API server cannot be reached or refuses the lists.
   */
  public static KubernetesBackend connect(Connection connection, Options options, Clock clock) {
    io.fabric8.kubernetes.client.Config config =
        io.fabric8.kubernetes.client.Config.autoConfigure(connection.context());
    config.setMaxConcurrentRequests(connection.maxConcurrentRequests());
    config.setMaxConcurrentRequestsPerHost(connection.maxConcurrentRequests());
    KubernetesClient client =
        new io.fabric8.kubernetes.client.KubernetesClientBuilder().withConfig(config).build();
    try {
      return new KubernetesBackend(
          client,
          options,
          clock,
          connection.maxConcurrentRequests(),
          connection.writesPerSecond(),
          true);
    } catch (KubernetesClientException e) {
      client.close();
      throw new IllegalStateException(
          "cannot list nodes and pods from the Kubernetes API server at "
              + config.getMasterUrl()
              + (connection.context() == null ? "" : " (context " + connection.context() + ")")
              + (config.getFile() == null
                  ? ", the in-cluster address (no kubeconfig found: KUBECONFIG, ~/.kube/config)"
                  : "")
              + ": "
              + (e.getStatus() != null && e.getStatus().getMessage() != null
                  ? e.getStatus().getMessage()
                  : rootMessage(e)));
    }
  }

  private static String rootMessage(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof java.nio.channels.UnresolvedAddressException
          || c instanceof java.net.UnknownHostException) {
        return "its host name does not resolve";
      }
    }
    Throwable t = e;
    while (t.getCause() != null) {
      if (t instanceof java.net.ConnectException
          || t instanceof java.nio.channels.ClosedChannelException) {
        break;
      }
      t = t.getCause();
    }
    if (t instanceof java.net.ConnectException
        || t instanceof java.nio.channels.ClosedChannelException) {
      return "nothing answers there (connection refused or closed)";
    }
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  private final KubernetesClient client;
  private final boolean ownsClient;
  private final Options options;
  private final AttemptPods attemptPods;
  private final ResourceCounts counts;
  private final Clock clock;
  private final SharedIndexInformer<Node> nodes;
  private final SharedIndexInformer<Pod> pods;
  private final List<TaskEvent> events = new ArrayList<>();
  private final List<NodeEvent> nodeEvents = new ArrayList<>();
  // What each of this instance's attempts last reported, so that a resync reports nothing again.
  private final Map<AttemptId, Kind> reported = new ConcurrentHashMap<>();
  // Pods created here that the pod informer has not shown yet: their requests already count.
  private final Map<String, Launch> unseen = new ConcurrentHashMap<>();
  private final Set<AttemptId> killed = ConcurrentHashMap.newKeySet();
  // Pods that cannot start (image, config), since when: failed once stuck for startWait.
  private final Map<AttemptId, java.time.Instant> stuckSince = new ConcurrentHashMap<>();
  private volatile Runnable wakeUp = () -> {};
  private final java.util.concurrent.ExecutorService creators =
      java.util.concurrent.Executors.newThreadPerTaskExecutor(
          Thread.ofVirtual().name("stowage-pod-create-", 0).factory());
  private final java.util.concurrent.Semaphore inFlight;
  // Creations and deletions, the requests a cycle makes by the thousand, wait for a permit here.
  private final com.google.common.util.concurrent.RateLimiter writes;

  /** On a client the caller keeps (and closes), creating at most so many pods at a time. */
  public KubernetesBackend(
      KubernetesClient client, Options options, Clock clock, int maxConcurrentCreations) {
    this(client, options, clock, maxConcurrentCreations, DEFAULT_WRITES_PER_SECOND, false);
  }

  /** The same, with at most {@code writesPerSecond} pod creations and deletions a second. */
  public KubernetesBackend(
      KubernetesClient client,
      Options options,
      Clock clock,
      int maxConcurrentCreations,
      double writesPerSecond) {
    this(client, options, clock, maxConcurrentCreations, writesPerSecond, false);
  }

  private KubernetesBackend(
      KubernetesClient client,
      Options options,
      Clock clock,
      int maxConcurrentCreations,
      double writesPerSecond,
      boolean ownsClient) {
    this.client = client;
    this.ownsClient = ownsClient;
    this.writes = com.google.common.util.concurrent.RateLimiter.create(writesPerSecond);
    this.inFlight = new java.util.concurrent.Semaphore(maxConcurrentCreations);
    this.options = options;
    this.attemptPods = new AttemptPods(options, client.getKubernetesSerialization());
    this.counts = new ResourceCounts(options);
    this.clock = clock;
    long resync = Duration.ofMinutes(5).toMillis();
    this.nodes = client.nodes().inform(new NodeChanges(), resync);
    try {
      this.pods = client.pods().inAnyNamespace().inform(new PodChanges(), resync);
    } catch (RuntimeException e) {
      nodes.close();
      throw e;
    }
  }

  @Override
  public List<Offer> offers() {
    var requested = new HashMap<String, long[]>();
    for (Pod p : pods.getStore().list()) {
      String node = p.getSpec() == null ? null : p.getSpec().getNodeName();
      if (node != null && !PodStatuses.ended(p)) {
        ResourceCounts.add(requested.computeIfAbsent(node, n -> new long[4]), counts.requests(p));
      }
    }
    for (Launch l : unseen.values()) {
      ResourceCounts.add(requested.computeIfAbsent(l.offer(), n -> new long[4]), l.resources());
    }
    var out = new ArrayList<Offer>();
    for (Node n : nodes.getStore().list()) {
      if (!ResourceCounts.ready(n) || ResourceCounts.cordoned(n)) {
        continue;
      }
      Resources all = counts.allocatable(n);
      long[] used = requested.getOrDefault(n.getMetadata().getName(), new long[4]);
      out.add(
          new Offer(
              n.getMetadata().getName(),
              n.getMetadata().getName(),
              new Resources(
                  Math.max(0, all.cpuMillis() - used[0]),
                  Math.max(0, all.memoryMiB() - used[1]),
                  Math.max(0, all.diskMiB() - used[2]),
                  Math.max(0, all.gpus() - used[3])),
              ResourceCounts.attributes(n),
              ResourceCounts.taints(n)));
    }
    return out;
  }

  @Override
  public synchronized List<NodeEvent> drainNodeEvents() {
    var out = List.copyOf(nodeEvents);
    nodeEvents.clear();
    return out;
  }

  @Override
  public void launch(Launch launch) {
    // Returns at once: the pod is created on a virtual thread, at most maxConcurrentRequests at a
    // time, so a cycle's 20,000 creations never hold up the next cycle. Its requests count in
    // the offers from now on.
    if (AttemptPods.movesData(launch) && options.staging().stagerImage() == null) {
      emit(
          launch.attempt(),
          Kind.STAGING_FAILED,
          null,
          "the task declares inputs or outputs, and this scheduler stages them in the pod only"
              + " with up --kube-stager-image (the Stowage image)");
      return;
    }
    String name = PodNames.of(launch.attempt());
    unseen.put(name, launch);
    // The pod is built there too: a few hundred microseconds each, 20,000 times a cycle.
    creators.execute(() -> create(launch, name, attemptPods.pod(name, launch)));
  }

  /** How often a refused-for-now creation (429, 5xx, no answer) is tried before it fails. */
  private static final int CREATE_TRIES = 5;

  private void create(Launch launch, String name, Pod pod) {
    AttemptId a = launch.attempt();
    try {
      for (int tried = 1; ; tried++) {
        KubernetesClientException refused;
        writes.acquire();
        inFlight.acquireUninterruptibly();
        try {
          client.pods().inNamespace(options.namespace()).resource(pod).create();
          return;
        } catch (KubernetesClientException e) {
          refused = e;
        } finally {
          inFlight.release();
        }
        if (refused.getCode() == 409) {
          // Launched before (by this instance before a crash, or a retry whose first try did
          // create it): adopt it, start nothing.
          unseen.remove(name);
          TaskEvent s = status(a);
          reported.remove(a);
          emit(a, s.kind(), s.exitCode(), "launched before: " + s.message());
          return;
        }
        boolean again =
            refused.getCode() == 429 || refused.getCode() >= 500 || refused.getCode() <= 0;
        if (!again || tried == CREATE_TRIES || creators.isShutdown()) {
          unseen.remove(name);
          emit(a, Kind.LAUNCH_FAILED, null, "the API server refused the pod: " + oneLine(refused));
          return;
        }
        // Safe to repeat: the name is the attempt's, so a creation that did land answers 409.
        try {
          Thread.sleep(Math.min(5_000, 100L << (tried - 1)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    } finally {
      if (killed.contains(a)) {
        // Cancelled while it was being created: the delete may have come first.
        deletePod(a, options.deleteGrace());
      }
    }
  }

  private static String oneLine(KubernetesClientException e) {
    String m =
        e.getStatus() != null && e.getStatus().getMessage() != null
            ? e.getStatus().getMessage()
            : rootMessage(e);
    return (e.getCode() > 0 ? e.getCode() + " " : "") + m.replace('\n', ' ');
  }

  @Override
  public boolean stagesOnNode() {
    return true; // inputs and outputs move inside the pod (or the attempt fails saying why)
  }

  @Override
  public Map<AttemptId, String> knownAttempts() {
    var out = new HashMap<AttemptId, String>();
    for (Pod p : pods.getStore().list()) {
      AttemptId a = attemptOf(p);
      if (a != null) {
        out.put(a, p.getSpec().getNodeName());
      }
    }
    return out;
  }

  @Override
  public void kill(AttemptId attempt) {
    killed.add(attempt);
    deleteLater(attempt, options.deleteGrace());
  }

  /** Deletes the pod on a virtual thread, as creations are made: the cycle never waits on it. */
  private void deleteLater(AttemptId attempt, Duration grace) {
    try {
      creators.execute(
          () -> {
            try {
              deletePod(attempt, grace);
            } catch (KubernetesClientException e) {
              // Its pod stays; a later reconcile finds it again, and an operator reads why here.
              LOG.warn("cannot delete pod {}: {}", PodNames.of(attempt), oneLine(e));
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      deletePod(attempt, grace);
    }
  }

  private void deletePod(AttemptId attempt, Duration grace) {
    writes.acquire();
    client
        .pods()
        .inNamespace(options.namespace())
        .withName(PodNames.of(attempt))
        .withGracePeriod(grace.toSeconds())
        .delete();
  }

  @Override
  public List<TaskEvent> drainEvents() {
    failStuck();
    synchronized (this) {
      var out = List.copyOf(events);
      events.clear();
      return out;
    }
  }

  /** Fails the attempts whose pods have not been able to start for startWait, and deletes them. */
  private void failStuck() {
    var now = clock.instant();
    for (var entry : stuckSince.entrySet()) {
      if (now.isBefore(entry.getValue().plus(options.startWait()))) {
        continue;
      }
      AttemptId a = entry.getKey();
      stuckSince.remove(a);
      Pod p = seenPod(PodNames.of(a));
      String why = p == null ? null : PodStatuses.cannotStart(p);
      if (why == null || reported.put(a, Kind.LAUNCH_FAILED) == Kind.LAUNCH_FAILED) {
        continue; // it started (or went) meanwhile
      }
      emit(a, Kind.LAUNCH_FAILED, null, why + " (for " + options.startWait().toSeconds() + " s)");
      deleteLater(a, Duration.ZERO);
    }
  }

  /** This instance's pod of that name as the pod informer last saw it, or null. */
  private Pod seenPod(String name) {
    return pods.getStore().getByKey(options.namespace() + "/" + name);
  }

  @Override
  public void onEvents(Runnable wakeUp) {
    this.wakeUp = wakeUp;
  }

  @Override
  public TaskEvent status(AttemptId attempt) {
    Pod p = seenPod(PodNames.of(attempt));
    if (p == null) {
      p = client.pods().inNamespace(options.namespace()).withName(PodNames.of(attempt)).get();
    }
    if (p == null) {
      return new TaskEvent(attempt, Kind.NOT_LAUNCHED, null, "no pod", clock.instant());
    }
    PodStatuses.Outcome o = PodStatuses.outcome(p);
    return new TaskEvent(
        attempt,
        o == null ? Kind.STARTED : o.kind(),
        o == null ? null : o.exitCode(),
        o == null ? "pod " + PodStatuses.phase(p) : o.message(),
        clock.instant());
  }

  /** How many of a pod's events {@link #describe} shows, the latest. */
  private static final int EVENTS_SHOWN = 3;

  /**
   * The pod's phase, why it is not running yet (its conditions that are not met, its containers'
   * waiting reasons) and its latest events: what {@code kubectl describe pod} would show first. One
   * list of the pod's events, asked only when a person asks.
   */
  @Override
  public java.util.Optional<String> describe(AttemptId attempt) {
    String name = PodNames.of(attempt);
    Pod p = seenPod(name);
    if (p == null) {
      return java.util.Optional.of(
          unseen.containsKey(name) ? "pod " + name + " is being created" : "no pod " + name);
    }
    var parts = new ArrayList<String>();
    parts.add("pod " + name + " " + PodStatuses.phase(p) + " on " + p.getSpec().getNodeName());
    if (p.getStatus() != null && p.getStatus().getConditions() != null && !PodStatuses.ended(p)) {
      for (var c : p.getStatus().getConditions()) {
        if ("False".equals(c.getStatus()) && c.getReason() != null) {
          parts.add(
              c.getType()
                  + " "
                  + c.getReason()
                  + (c.getMessage() == null ? "" : " (" + c.getMessage() + ")"));
        }
      }
    }
    if (p.getStatus() != null && p.getStatus().getContainerStatuses() != null) {
      for (ContainerStatus c : p.getStatus().getContainerStatuses()) {
        var w = c.getState() == null ? null : c.getState().getWaiting();
        if (w != null && w.getReason() != null) {
          parts.add(
              "container "
                  + c.getName()
                  + " waiting: "
                  + w.getReason()
                  + (w.getMessage() == null ? "" : " (" + w.getMessage() + ")"));
        }
      }
    }
    try {
      var events =
          client
              .v1()
              .events()
              .inNamespace(options.namespace())
              .withField("involvedObject.name", name)
              .list()
              .getItems()
              .stream()
              .filter(
                  e ->
                      e.getInvolvedObject() != null && name.equals(e.getInvolvedObject().getName()))
              .sorted(java.util.Comparator.comparing(KubernetesBackend::eventTime))
              .toList();
      var latest = events.subList(Math.max(0, events.size() - EVENTS_SHOWN), events.size());
      if (!latest.isEmpty()) {
        parts.add(
            "events: "
                + String.join(
                    "; ",
                    latest.stream()
                        .map(e -> e.getReason() + ": " + String.valueOf(e.getMessage()).strip())
                        .toList()));
      }
    } catch (KubernetesClientException e) {
      parts.add("its events could not be read: " + oneLine(e));
    }
    return java.util.Optional.of(String.join("; ", parts));
  }

  private static String eventTime(io.fabric8.kubernetes.api.model.Event e) {
    // RFC 3339 in UTC sorts as text; newer events carry eventTime, older lastTimestamp.
    if (e.getLastTimestamp() != null) {
      return e.getLastTimestamp();
    }
    if (e.getEventTime() != null && e.getEventTime().getTime() != null) {
      return e.getEventTime().getTime();
    }
    return e.getMetadata().getCreationTimestamp() == null
        ? ""
        : e.getMetadata().getCreationTimestamp();
  }

  @Override
  public LogSlice log(AttemptId attempt, boolean stderr, long from, int maxBytes) {
    if (stderr) {
      return LogSlice.EMPTY; // a container's log is its stdout and stderr as one stream
    }
    String text;
    try {
      text =
          client
              .pods()
              .inNamespace(options.namespace())
              .withName(PodNames.of(attempt))
              .inContainer(AttemptPods.CONTAINER)
              .getLog();
    } catch (KubernetesClientException e) {
      return LogSlice.EMPTY;
    }
    if (text == null) {
      return LogSlice.EMPTY;
    }
    byte[] all = text.getBytes(StandardCharsets.UTF_8);
    long start = from < 0 ? Math.max(0, all.length - maxBytes) : Math.min(from, all.length);
    int n = (int) Math.min(maxBytes, all.length - start);
    byte[] slice = java.util.Arrays.copyOfRange(all, (int) start, (int) start + n);
    return new LogSlice(all.length, start, slice);
  }

  @Override
  public void close() {
    creators.shutdownNow();
    nodes.close();
    pods.close();
    if (ownsClient) {
      client.close();
    }
  }

  // --- what a pod says

  private static boolean ended(Kind reported) {
    return reported != null && reported != Kind.STARTED;
  }

  private AttemptId attemptOf(Pod p) {
    var labels = p.getMetadata().getLabels();
    var annotations = p.getMetadata().getAnnotations();
    if (labels == null
        || annotations == null
        || !options.instance().equals(labels.get(INSTANCE))
        || !options.namespace().equals(p.getMetadata().getNamespace())) {
      return null;
    }
    String id = annotations.get(TASK_ID);
    String attempt = labels.get(ATTEMPT);
    if (id == null || attempt == null) {
      return null;
    }
    try {
      var a = new AttemptId(id, Integer.parseInt(attempt));
      // A pod whose name is not its attempt's was not made here.
      return PodNames.of(a).equals(p.getMetadata().getName()) ? a : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private synchronized void emit(AttemptId attempt, Kind kind, Integer exitCode, String message) {
    events.add(new TaskEvent(attempt, kind, exitCode, message, clock.instant()));
    wakeUp.run();
  }

  /** Reports a pod's news once per kind: an informer's resync repeats what it already said. */
  private void report(Pod p) {
    AttemptId a = attemptOf(p);
    if (a == null) {
      return;
    }
    PodStatuses.Outcome o = PodStatuses.outcome(p);
    if (o == null && PodStatuses.cannotStart(p) != null) {
      stuckSince.putIfAbsent(a, clock.instant());
    } else {
      stuckSince.remove(a);
    }
    if (o != null) {
      if (reported.put(a, o.kind()) != o.kind()) {
        emit(a, o.kind(), o.exitCode(), o.message());
      }
    } else if ("Running".equals(PodStatuses.phase(p))
        && reported.putIfAbsent(a, Kind.STARTED) == null) {
      emit(a, Kind.STARTED, null, "pod running on " + p.getSpec().getNodeName());
    }
  }

  private final class PodChanges implements ResourceEventHandler<Pod> {
    @Override
    public void onAdd(Pod p) {
      unseen.remove(p.getMetadata().getName());
      report(p);
    }

    @Override
    public void onUpdate(Pod old, Pod now) {
      report(now);
    }

    @Override
    public void onDelete(Pod p, boolean finalStateUnknown) {
      unseen.remove(p.getMetadata().getName());
      AttemptId a = attemptOf(p);
      if (a == null || PodStatuses.outcome(p) != null || ended(reported.get(a))) {
        return; // not ours, or already reported as ended
      }
      stuckSince.remove(a);
      if (killed.remove(a)) {
        reported.put(a, Kind.KILLED);
        emit(a, Kind.KILLED, null, "pod deleted on request");
      } else if (reported.put(a, Kind.LOST) != Kind.LOST) {
        emit(a, Kind.LOST, null, "its pod was deleted");
      }
    }
  }

  // --- what a node says

  private synchronized void nodeEvent(NodeEvent e) {
    nodeEvents.add(e);
    wakeUp.run();
  }

  private final class NodeChanges implements ResourceEventHandler<Node> {
    @Override
    public void onAdd(Node n) {
      nodeEvent(new NodeEvent.Added(capacity(n)));
    }

    @Override
    public void onUpdate(Node old, Node now) {
      Offer was = capacity(old);
      Offer is = capacity(now);
      if (!was.equals(is)) {
        nodeEvent(new NodeEvent.Changed(is));
      }
    }

    @Override
    public void onDelete(Node n, boolean finalStateUnknown) {
      nodeEvent(new NodeEvent.Removed(n.getMetadata().getName(), "the node was deleted"));
      LOG.info("node {} left the cluster", n.getMetadata().getName());
    }
  }

  private Offer capacity(Node n) {
    return new Offer(
        n.getMetadata().getName(),
        n.getMetadata().getName(),
        counts.allocatable(n),
        ResourceCounts.attributes(n),
        ResourceCounts.taints(n));
  }
}
