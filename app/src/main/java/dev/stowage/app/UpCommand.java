package dev.stowage.app;

import dev.stowage.app.service.StowageService;
import dev.stowage.backend.local.LocalProcessBackend;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.workload.WorkloadFiles;
import dev.stowage.workload.WorkloadGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
    name = "up",
    mixinStandardHelpOptions = true,
    description = {
      "Start the scheduler service: embedded PostgreSQL (or --db-url), this machine (or a"
          + " simulated cluster) as the cluster, and the HTTP API. Runs until stopped (Ctrl-C or SIGTERM).",
      "Tasks and their state survive restarts in --data-dir."
    })
final class UpCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--data-dir",
      description =
          "Where the database and work directories live. Default: ~/.stowage, or"
              + " /var/lib/stowage when run as root (PostgreSQL then runs as nobody, which cannot"
              + " enter /root).")
  Path dataDir;

  @Option(
      names = "--db-url",
      defaultValue = "${env:STOWAGE_DB_URL}",
      description =
          "An external PostgreSQL (JDBC URL) instead of the embedded one. Default: the"
              + " STOWAGE_DB_URL variable, if set.")
  String dbUrl;

  @Option(
      names = "--db-user",
      defaultValue = "${env:STOWAGE_DB_USER:-postgres}",
      description = "Default: the STOWAGE_DB_USER variable, else postgres.")
  String dbUser;

  // From the environment (a Kubernetes Secret, say) rather than the command line, where any
  // process on the machine could read it.
  @Option(
      names = "--db-password",
      defaultValue = "${env:STOWAGE_DB_PASSWORD:-}",
      description = "Default: the STOWAGE_DB_PASSWORD variable, else empty.")
  String dbPassword;

  @Option(
      names = "--port",
      defaultValue = "7070",
      description = "HTTP port. Default: ${DEFAULT-VALUE}.")
  int port;

  @Option(
      names = "--backend",
      defaultValue = "local",
      description =
          "local: this machine as one node, each task an OS process. sim: simulated nodes"
              + " (--sim-nodes or --sim-offers) where a task holds its resources for its"
              + " STOWAGE_SIM_DURATION_MS. kubernetes: a cluster's nodes, each attempt a pod"
              + " (KUBECONFIG, ~/.kube/config or the pod's service account; --namespace,"
              + " --kube-context, --kube-image). Default: ${DEFAULT-VALUE}.")
  String backend;

  @Option(
      names = "--capacity",
      split = ",",
      paramLabel = "DIMENSION=AMOUNT",
      description =
          "The local node's capacity, overriding what is detected, for example"
              + " cpuMillis=4000,memoryMiB=8192 (also diskMiB, gpus).")
  Map<String, String> capacity = new LinkedHashMap<>();

  @Option(
      names = "--sim-nodes",
      description =
          "How many simulated nodes, in the generator's mix of shapes, zones and arch"
              + " (see 'stowage generate').")
  Integer simNodes;

  @Option(
      names = "--namespace",
      defaultValue = "default",
      description =
          "With --backend kubernetes: where attempts' pods go. Default: ${DEFAULT-VALUE}.")
  String namespace;

  @Option(
      names = "--kube-context",
      description = "With --backend kubernetes: the kubeconfig context (default: its current one).")
  String kubeContext;

  @Option(
      names = "--kube-image",
      defaultValue = "busybox:1.36",
      description = "With --backend kubernetes: the image tasks run in. Default: ${DEFAULT-VALUE}.")
  String kubeImage;

  @Option(
      names = "--kube-instance",
      defaultValue = "stowage",
      description =
          "With --backend kubernetes: this scheduler's name on its pods, to find them again after"
              + " a restart. Default: ${DEFAULT-VALUE}.")
  String kubeInstance;

  @Option(
      names = "--kube-max-requests",
      defaultValue = "16",
      description =
          "With --backend kubernetes: API requests in flight at most. Default: ${DEFAULT-VALUE}.")
  int kubeMaxRequests;

  @Option(
      names = "--kube-qps",
      defaultValue = "1000",
      description =
          "With --backend kubernetes: pod creations and deletions per second at most, as"
              + " client-go's QPS (the API server's own 429s are backed off from as well)."
              + " Default: ${DEFAULT-VALUE}.")
  double kubeQps;

  @Option(
      names = "--kube-delete-grace",
      defaultValue = "30s",
      description =
          "With --backend kubernetes: how long a cancelled or timed-out pod gets to stop."
              + " Default: ${DEFAULT-VALUE}.")
  String kubeDeleteGrace;

  @Option(
      names = "--kube-start-wait",
      defaultValue = "2m",
      description =
          "With --backend kubernetes: how long a pod may fail to start (its image not pulled, its"
              + " config wrong) before its attempt fails with the kubelet's reason."
              + " Default: ${DEFAULT-VALUE}.")
  String kubeStartWait;

  @Option(
      names = "--kube-stager-image",
      description =
          "With --backend kubernetes: the Stowage image (deploy/kubernetes/Dockerfile), which"
              + " stages a task's inputs into its pod before it starts and copies its outputs out"
              + " after. Without it a task that declares inputs or outputs fails its attempt.")
  String kubeStagerImage;

  @Option(
      names = "--kube-s3-secret",
      description =
          "With --backend kubernetes: a Secret in --namespace whose keys (AWS_ACCESS_KEY_ID,"
              + " AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3) the pod's stager gets as"
              + " its environment; the task's own container never does.")
  String kubeS3Secret;

  @Option(
      names = "--sim-offers",
      description = "Simulated nodes from an offers JSONL file, as 'stowage generate' writes.")
  Path simOffers;

  @Option(
      names = "--seed",
      defaultValue = "42",
      description = "Seed for --sim-nodes. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(
      names = "--delete-orphans",
      description =
          "At start, stop what the backend runs for tasks this store does not hold (on Kubernetes,"
              + " pods labelled with this --kube-instance whose task is not stored). Without it"
              + " they are reported and left alone.")
  boolean deleteOrphans;

  @Option(
      names = "--priority-class",
      paramLabel = "NAME=VALUE[,preempts][,non-preemptible]",
      description =
          "A priority class to have at start, created or replaced (PUT /api/priority-classes/NAME"
              + " changes it later): its tasks take VALUE as their priority; with preempts, one"
              + " that fits nowhere may evict running tasks of lower priority; with"
              + " non-preemptible, its own running tasks are never evicted. Repeat for more.")
  List<String> priorityClasses = new java.util.ArrayList<>();

  @Option(
      names = "--max-tasks-per-cycle",
      defaultValue = "20000",
      description = "Processable tasks one cycle considers at most. Default: ${DEFAULT-VALUE}.")
  int maxTasksPerCycle;

  @Option(
      names = "--trace-file",
      description =
          "Also append every span to this file as OTLP/JSON lines (the Collector's file format)."
              + " Traces go to a collector when OTEL_EXPORTER_OTLP_ENDPOINT is set; the last 1,000"
              + " are always served at /api/traces.")
  Path traceFile;

  @Option(
      names = "--allow-source",
      split = ",",
      paramLabel = "URI",
      description =
          "Where task inputs may come from: a file:/// directory (or an absolute path) or an"
              + " s3://bucket[/prefix/]. Repeat or separate with commas. None by default: a task"
              + " with inputs is refused at submit until its sources are allowed. S3 is reached"
              + " the standard way (AWS_REGION, AWS_ACCESS_KEY_ID, ~/.aws, AWS_ENDPOINT_URL_S3).")
  List<String> allowSources = new java.util.ArrayList<>();

  @Option(
      names = "--allow-output",
      split = ",",
      paramLabel = "URI",
      description =
          "Where task outputs may be copied to after success: a file:/// directory (or an"
              + " absolute path) or an s3://bucket[/prefix/]. Repeat or separate with commas."
              + " None by default: a task with outputs is refused at submit.")
  List<String> allowOutputs = new java.util.ArrayList<>();

  @Option(
      names = "--default-cpu-millis",
      defaultValue = "1000",
      description =
          "What a task that names no cpuMillis requests (and, on this machine, is limited to)."
              + " Default: ${DEFAULT-VALUE}, one core.")
  long defaultCpuMillis;

  @Option(
      names = "--default-memory-mib",
      defaultValue = "1024",
      description =
          "What a task that names no memoryMiB requests (and is limited to). Default:"
              + " ${DEFAULT-VALUE}.")
  long defaultMemoryMiB;

  @Option(
      names = "--keep-work-dirs",
      defaultValue = "7d",
      description =
          "How long a finished task's work directory (its inputs, outputs and logs) stays, then"
              + " it is removed: 12h, 7d, or 'forever'. Default: ${DEFAULT-VALUE}. 'stowage purge'"
              + " removes them sooner.")
  String keepWorkDirs;

  @Option(
      names = "--pass-env",
      split = ",",
      paramLabel = "NAME",
      description =
          "A variable of this service's environment that every task gets. Tasks get none other"
              + " (PATH and LANG aside): not its credentials, not its database's. Repeatable.")
  List<String> passEnv = new java.util.ArrayList<>();

  @Option(
      names = "--run-as",
      description =
          "When the service runs as root, the user its tasks run as. Default: nobody. (Not as"
              + " root, tasks run as the service's user.)")
  String runAs;

  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description =
          "The address to listen on. Default: ${DEFAULT-VALUE} (this machine only). Any other"
              + " (0.0.0.0 for all) needs --tls-cert and --tls-key, or --behind-proxy.")
  String host;

  @Option(
      names = "--public-host",
      split = ",",
      paramLabel = "NAME",
      description =
          "A further name clients reach the service by (a DNS name, a proxy's), accepted in"
              + " their Host header; loopback's names and the listening address always are."
              + " Repeat or separate with commas.")
  List<String> publicHosts = new java.util.ArrayList<>();

  @Option(names = "--tls-cert", description = "The certificate chain, a PEM file: serve HTTPS.")
  Path tlsCert;

  @Option(names = "--tls-key", description = "The certificate's private key, a PEM file.")
  Path tlsKey;

  @Option(
      names = "--behind-proxy",
      description =
          "Plain HTTP beyond loopback, for a reverse proxy that terminates TLS in front of"
              + " Stowage and reaches it on a private network.")
  boolean behindProxy;

  @Option(
      names = "--trace-link",
      paramLabel = "URL",
      description =
          "Where the dashboard links a trace: a URL of your trace viewer with {traceId} in it"
              + " (Jaeger: https://jaeger.example/trace/{traceId}). Default: the service's own"
              + " /api/traces/{traceId}.")
  String traceLink;

  /** Allowed locations, checked now so that a wrong one stops the start, naming its option. */
  private List<String> checked(
      String option,
      List<String> entries,
      java.util.function.Function<List<String>, dev.stowage.scheduler.AllowedSources> parse) {
    try {
      parse.apply(entries);
    } catch (IllegalArgumentException e) {
      throw usage(option + ": " + e.getMessage());
    }
    return entries;
  }

  @Override
  public Integer call() throws Exception {
    Path data = dataDir != null ? dataDir : defaultDataDir();
    var service =
        StowageService.builder(data)
            .database(dbUrl, dbUser, dbPassword)
            .port(port)
            .interval(Duration.ofSeconds(1))
            .cluster(cluster(data))
            .maxTasksPerCycle(positive("--max-tasks-per-cycle", maxTasksPerCycle))
            .deleteOrphans(deleteOrphans)
            .traceFile(traceFile)
            .allowedSources(
                checked("--allow-source", allowSources, dev.stowage.scheduler.AllowedSources::of))
            .allowedOutputs(
                checked(
                    "--allow-output",
                    allowOutputs,
                    dev.stowage.scheduler.AllowedSources::forOutputs))
            .exposure(exposure())
            .defaultRequest(defaultRequest())
            .priorityClasses(priorityClasses())
            .traceLink(traceLink())
            .start();
    var stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  service.close();
                  stopped.countDown();
                },
                "stowage-shutdown"));
    spec.commandLine()
        .getOut()
        .printf("Stowage is up at %s (data in %s)%n", service.url(), data.toAbsolutePath());
    spec.commandLine().getOut().flush();
    stopped.await();
    return 0;
  }

  private String traceLink() {
    try {
      return StowageService.checkTraceLink(traceLink);
    } catch (IllegalArgumentException e) {
      throw usage("--trace-link: " + e.getMessage());
    }
  }

  private Duration keepWork() {
    if (keepWorkDirs.equals("forever")) {
      return null;
    }
    try {
      return Durations.parse("--keep-work-dirs", keepWorkDirs, true);
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage() + ", or 'forever'");
    }
  }

  private Duration kubeDuration(String option, String text) {
    try {
      return Durations.parse(option, text, true);
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage());
    }
  }

  private Resources defaultRequest() {
    try {
      return new Resources(defaultCpuMillis, defaultMemoryMiB, 0, 0);
    } catch (IllegalArgumentException e) {
      throw usage("--default-cpu-millis and --default-memory-mib: " + e.getMessage());
    }
  }

  private StowageService.Exposure exposure() {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw usage("--tls-cert and --tls-key go together");
    }
    try {
      return new StowageService.Exposure(
          host,
          publicHosts,
          tlsCert == null ? null : new StowageService.Exposure.Tls(tlsCert, tlsKey),
          behindProxy);
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage());
    }
  }

  private StowageService.Cluster cluster(Path data) throws Exception {
    return switch (backend) {
      case "local" -> {
        if (simNodes != null || simOffers != null) {
          throw usage("--sim-nodes and --sim-offers need --backend sim");
        }
        yield new StowageService.Cluster.Local(
            capacity.isEmpty()
                ? null
                : withOverrides(LocalProcessBackend.detectCapacity(data.resolve("work")), capacity),
            passEnv,
            runAs,
            keepWork());
      }
      case "sim" -> {
        if ((simNodes == null) == (simOffers == null)) {
          throw usage("--backend sim needs one of --sim-nodes N or --sim-offers FILE");
        }
        if (!capacity.isEmpty()) {
          throw usage("--capacity is for --backend local; simulated nodes come with their own");
        }
        List<Offer> offers =
            simOffers != null
                ? WorkloadFiles.readOffers(simOffers)
                : WorkloadGenerator.generate(0, positive("--sim-nodes", simNodes), seed).offers();
        yield new StowageService.Cluster.Simulated(SimulatedCluster.Node.of(offers));
      }
      case "kubernetes" -> {
        if (simNodes != null || simOffers != null) {
          throw usage("--sim-nodes and --sim-offers need --backend sim");
        }
        if (!capacity.isEmpty()) {
          throw usage("--capacity is for --backend local; a cluster's nodes come with their own");
        }
        for (var allowed :
            List.of(
                Map.entry("--allow-source", allowSources),
                Map.entry("--allow-output", allowOutputs))) {
          for (String a : allowed.getValue()) {
            if (!a.startsWith("s3://")) {
              throw usage(
                  allowed.getKey()
                      + " "
                      + a
                      + ": on --backend kubernetes data moves inside the pods, which cannot reach"
                      + " this machine's files; only s3:// locations can be allowed");
            }
          }
        }
        yield new StowageService.Cluster.Kubernetes(
            new dev.stowage.backend.kubernetes.KubernetesBackend.Connection(
                kubeContext,
                positive("--kube-max-requests", kubeMaxRequests),
                positiveRate("--kube-qps", kubeQps)),
            new dev.stowage.backend.kubernetes.KubernetesBackend.Options(
                    namespace,
                    kubeInstance,
                    null,
                    kubeImage,
                    null,
                    kubeDuration("--kube-delete-grace", kubeDeleteGrace),
                    kubeDuration("--kube-start-wait", kubeStartWait))
                .withStaging(
                    new dev.stowage.backend.kubernetes.KubernetesBackend.PodStaging(
                        kubeStagerImage, kubeS3Secret, allowSources, allowOutputs)));
      }
      default -> throw usage("--backend must be local, sim or kubernetes, got '" + backend + "'");
    };
  }

  /** The detected capacity with the named dimensions replaced; a bad one names itself. */
  static Resources withOverrides(Resources detected, Map<String, String> overrides) {
    long[] amounts = new long[4];
    for (int d = 0; d < 4; d++) {
      amounts[d] = detected.get(d);
    }
    for (var e : overrides.entrySet()) {
      int d = List.of(Resources.DIMENSIONS).indexOf(e.getKey());
      if (d < 0) {
        throw new IllegalArgumentException(
            "--capacity: unknown dimension '"
                + e.getKey()
                + "' (expected one of "
                + String.join(", ", Resources.DIMENSIONS)
                + ")");
      }
      try {
        amounts[d] = Long.parseLong(e.getValue().strip());
      } catch (NumberFormatException x) {
        throw new IllegalArgumentException(
            "--capacity: " + e.getKey() + " must be an integer, got '" + e.getValue() + "'");
      }
    }
    try {
      return new Resources(amounts[0], amounts[1], amounts[2], amounts[3]);
    } catch (IllegalArgumentException x) {
      throw new IllegalArgumentException("--capacity: " + x.getMessage());
    }
  }

  private double positiveRate(String option, double value) {
    if (!(value > 0) || Double.isInfinite(value)) {
      throw usage(option + " must be a positive number, got " + value);
    }
    return value;
  }

  private int positive(String option, int value) {
    if (value < 1) {
      throw usage(option + " must be at least 1, got " + value);
    }
    return value;
  }

  /** Each --priority-class, read; a bad one is a usage error naming it. */
  private List<dev.stowage.scheduler.preemption.PriorityClass> priorityClasses() {
    var out = new java.util.ArrayList<dev.stowage.scheduler.preemption.PriorityClass>();
    for (String given : priorityClasses) {
      String[] parts = given.split(",", -1);
      int eq = parts[0].indexOf('=');
      String name = eq < 0 ? parts[0] : parts[0].substring(0, eq);
      Integer value = null;
      if (eq >= 0) {
        try {
          value = Integer.parseInt(parts[0].substring(eq + 1));
        } catch (NumberFormatException e) {
          value = null;
        }
      }
      if (value == null) {
        throw usage(
            "--priority-class "
                + given
                + ": expected NAME=VALUE[,preempts][,non-preemptible], VALUE an integer");
      }
      boolean preempts = dev.stowage.scheduler.preemption.PriorityClass.DEFAULT_PREEMPTS;
      boolean preemptible = dev.stowage.scheduler.preemption.PriorityClass.DEFAULT_PREEMPTIBLE;
      for (int i = 1; i < parts.length; i++) {
        switch (parts[i]) {
          case "preempts" -> preempts = true;
          case "non-preemptible" -> preemptible = false;
          default ->
              throw usage(
                  "--priority-class "
                      + given
                      + ": unknown flag '"
                      + parts[i]
                      + "' (expected preempts or non-preemptible)");
        }
      }
      var problems = dev.stowage.scheduler.preemption.PriorityClass.problems(name);
      if (!problems.isEmpty()) {
        throw usage("--priority-class " + given + ": " + problems.getFirst());
      }
      out.add(
          new dev.stowage.scheduler.preemption.PriorityClass(name, value, preempts, preemptible));
    }
    return out;
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  static Path defaultDataDir() throws Exception {
    boolean root = ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    return root
        ? Path.of("/var/lib/stowage")
        : Path.of(System.getProperty("user.home"), ".stowage");
  }
}
