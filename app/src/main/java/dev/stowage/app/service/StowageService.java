package dev.stowage.app.service;

import dev.stowage.access.AccessStore;
import dev.stowage.access.AdminToken;
import dev.stowage.access.IdempotencyKeys;
import dev.stowage.access.Tokens;
import dev.stowage.app.telemetry.Telemetry;
import dev.stowage.backend.local.LocalProcessBackend;
import dev.stowage.backend.local.TaskIsolation;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.CrashPoints;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.SchedulingState;
import dev.stowage.scheduler.TaskStore;
import dev.stowage.staging.DataStager;
import dev.stowage.staging.S3Storage;
import dev.stowage.store.Database;
import dev.stowage.store.EmbeddedPostgres;
import dev.stowage.store.PostgresAccessStore;
import dev.stowage.store.PostgresIdempotencyKeys;
import dev.stowage.store.PostgresTaskStore;
import io.javalin.Javalin;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler service: the store (embedded PostgreSQL by default, or an external server), the
 * local backend, the cycle loop, and the HTTP API, started and stopped together.
 */
public final class StowageService implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StowageService.class);

  /** A service to start, with this project's defaults for everything {@code up} leaves out. */
  public static Builder builder(Path dataDir) {
    return new Builder(dataDir);
  }

  /**
   * The service's set-up in one place: where its data lives, which database and cluster, how it
   * listens, and the parts of the scheduler (clock, match mode, matcher with its scorer). Every
   * setting has a default: embedded PostgreSQL under the data directory, this machine as the
   * cluster, a free port on loopback, a cycle a second of at most 20,000 tasks.
   */
  public static final class Builder {
    /** What a task that names no CPU or memory requests: one core, as Slurm gives, and 1 GiB. */
    public static final dev.stowage.engine.Resources DEFAULT_REQUEST =
        new dev.stowage.engine.Resources(1000, 1024, 0, 0);

    private final Path dataDir;
    private String dbUrl;
    private String dbUser;
    private String dbPassword;
    private int port;
    private Duration interval = Duration.ofSeconds(1);
    private Cluster cluster = new Cluster.Local(null);
    private int maxTasksPerCycle = 20_000;
    private boolean deleteOrphans;
    private Path traceFile;
    private List<String> allowedSources = List.of();
    private List<String> allowedOutputs = List.of();
    private Exposure exposure = Exposure.LOOPBACK;
    private dev.stowage.engine.Resources defaultRequest = DEFAULT_REQUEST;
    private String traceLink;
    private Clock clock = Clock.systemUTC();
    private MatchMode mode = MatchMode.PACK;
    private Matcher matcher = Matcher.fast();
    private Function<String, String> environment = System::getenv;
    private List<dev.stowage.scheduler.preemption.PriorityClass> priorityClasses = List.of();

    private Builder(Path dataDir) {
      this.dataDir = java.util.Objects.requireNonNull(dataDir, "dataDir");
    }

    /** An external PostgreSQL (JDBC URL) instead of the embedded one; null keeps the embedded. */
    public Builder database(String url, String user, String password) {
      this.dbUrl = url;
      this.dbUser = user;
      this.dbPassword = password;
      return this;
    }

    /** The HTTP port; 0 (the default) picks a free one. */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /** The longest wait between cycles (events wake the loop sooner). */
    public Builder interval(Duration interval) {
      this.interval = java.util.Objects.requireNonNull(interval, "interval");
      return this;
    }

    /**
     * Priority classes to have at start, each created or replaced (as {@code up --priority-class}
     * gives them); the others the API made stay.
     */
    public Builder priorityClasses(List<dev.stowage.scheduler.preemption.PriorityClass> classes) {
      this.priorityClasses = List.copyOf(classes);
      return this;
    }

    public Builder cluster(Cluster cluster) {
      this.cluster = java.util.Objects.requireNonNull(cluster, "cluster");
      return this;
    }

    /**
     * Whether to stop, at start, what the backend runs for tasks this store does not hold (pods,
     * processes); they are only reported when not.
     */
    public Builder deleteOrphans(boolean delete) {
      this.deleteOrphans = delete;
      return this;
    }

    public Builder maxTasksPerCycle(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxTasksPerCycle must be at least 1");
      }
      this.maxTasksPerCycle = max;
      return this;
    }

    /** A file every kept trace is appended to, or null for none. */
    public Builder traceFile(Path traceFile) {
      this.traceFile = traceFile;
      return this;
    }

    /** Where inputs may be read from (none by default). */
    public Builder allowedSources(List<String> sources) {
      this.allowedSources = List.copyOf(sources);
      return this;
    }

    /** Where outputs may be written to (none by default). */
    public Builder allowedOutputs(List<String> outputs) {
      this.allowedOutputs = List.copyOf(outputs);
      return this;
    }

    public Builder exposure(Exposure exposure) {
      this.exposure = exposure == null ? Exposure.LOOPBACK : exposure;
      return this;
    }

    /**
     * Where the dashboard links a trace: a URL of the operator's trace viewer (Jaeger, Tempo) with
     * {@code {traceId}} in it; null for the service's own {@code /api/traces/{traceId}}.
     */
    public Builder traceLink(String template) {
      this.traceLink = checkTraceLink(template);
      return this;
    }

    public Builder defaultRequest(dev.stowage.engine.Resources request) {
      this.defaultRequest = request == null ? DEFAULT_REQUEST : request;
      return this;
    }

    /** The time every part of the service reads; the system's UTC clock by default. */
    public Builder clock(Clock clock) {
      this.clock = java.util.Objects.requireNonNull(clock, "clock");
      return this;
    }

    public Builder mode(MatchMode mode) {
      this.mode = java.util.Objects.requireNonNull(mode, "mode");
      return this;
    }

    /** The matcher, with its scorer; {@link Matcher#fast()} by default. */
    public Builder matcher(Matcher matcher) {
      this.matcher = java.util.Objects.requireNonNull(matcher, "matcher");
      return this;
    }

    /**
     * Where the standard variables (OpenTelemetry's {@code OTEL_*}, S3's {@code AWS_*}, {@code
     * STOWAGE_CRASH_AT}) are read: the process's own by default.
     */
    public Builder environment(Function<String, String> environment) {
      this.environment = java.util.Objects.requireNonNull(environment, "environment");
      return this;
    }

    /** Starts everything; on failure stops what had started and rethrows. */
    public StowageService start() throws IOException {
      var service = new StowageService(clock);
      try {
        service.boot(this);
      } catch (IOException | RuntimeException e) {
        service.close();
        throw e;
      }
      return service;
    }
  }

  /**
   * Where the API listens and under which names it is reached.
   *
   * @param host the address to listen on: loopback by default; any other needs {@code tls}, or
   *     {@code behindProxy} for a proxy that terminates TLS in front of it
   * @param publicHosts further names that clients use in their {@code Host} header (a DNS name, a
   *     proxy's)
   * @param tls the certificate chain and private key, PEM files, or null for plain HTTP
   */
  public record Exposure(String host, List<String> publicHosts, Tls tls, boolean behindProxy) {
    public static final Exposure LOOPBACK = new Exposure("127.0.0.1", List.of(), null, false);

    public Exposure {
      host = host == null ? "127.0.0.1" : host;
      publicHosts = publicHosts == null ? List.of() : List.copyOf(publicHosts);
      if (!Exposures.isLoopback(host) && tls == null && !behindProxy) {
        throw new IllegalArgumentException(
            "--host "
                + host
                + " listens beyond loopback: give --tls-cert and --tls-key, or --behind-proxy"
                + " when a proxy terminates TLS in front of Stowage");
      }
    }

    public record Tls(Path certificateChain, Path privateKey) {}
  }

  /** Where tasks run. */
  public sealed interface Cluster {
    /**
     * This machine as one node; {@code capacity} null means detected (cores, memory, disk).
     *
     * @param passEnv the service's variables every task gets (none else of its environment)
     * @param runAs the user attempts run as when the service runs as root ({@code nobody} when
     *     null); ignored otherwise
     * @param keepWork how long a finished task's work directories stay; null until purged
     */
    record Local(
        dev.stowage.engine.Resources capacity,
        List<String> passEnv,
        String runAs,
        Duration keepWork)
        implements Cluster {
      /** Seven days, then a finished task's work directories go. */
      public static final Duration KEEP_WORK = Duration.ofDays(7);

      public Local {
        passEnv = passEnv == null ? List.of() : List.copyOf(passEnv);
      }

      public Local(dev.stowage.engine.Resources capacity) {
        this(capacity, List.of(), null, KEEP_WORK);
      }
    }

    /**
     * Simulated nodes: a task holds its resources for its STOWAGE_SIM_DURATION_MS, then exits 0 (or
     * STOWAGE_SIM_EXIT_CODE). For scale tests and benchmarks.
     */
    record Simulated(List<SimulatedCluster.Node> nodes) implements Cluster {
      public Simulated {
        nodes = List.copyOf(nodes);
        if (nodes.isEmpty()) {
          throw new IllegalArgumentException("a simulated cluster needs at least one node");
        }
      }
    }

    /**
     * A Kubernetes cluster's nodes, reached as {@code kubectl} reaches them; each attempt a pod.
     */
    record Kubernetes(
        dev.stowage.backend.kubernetes.KubernetesBackend.Connection connection,
        dev.stowage.backend.kubernetes.KubernetesBackend.Options options)
        implements Cluster {
      public Kubernetes {
        java.util.Objects.requireNonNull(connection, "connection");
        java.util.Objects.requireNonNull(options, "options");
      }
    }

    /**
     * A backend built elsewhere (another cluster's, or a test's), reading the same clock: the
     * service takes it over and closes it when it stops.
     */
    record Given(ClusterBackend backend) implements Cluster {
      public Given {
        java.util.Objects.requireNonNull(backend, "backend");
      }
    }
  }

  // Set one by one as they start, so that a failed start stops exactly what had started.
  private DataDirectoryLock lock;
  private WorkRetention retention;
  private EmbeddedPostgres embedded;
  private Database database;
  private ClusterBackend backend;
  private Telemetry telemetry;
  private HttpTracing httpTracing;
  private DataStager stager;
  private SchedulingCycle cycle;
  private CycleLoop loop;
  private Javalin http;
  private dev.stowage.app.dashboard.Dashboard dashboard;
  private TaskStore store;
  private SchedulingState state; // the store above: what it has not recorded is written at close
  private AccessStore access;
  private dev.stowage.scheduler.queues.QueueStore queues;
  private dev.stowage.scheduler.preemption.PriorityClassStore priorityClasses;
  private IdempotencyKeys idempotency;
  private Tokens tokens;
  private ApiGuard guard;
  private Path adminTokenFile;
  private boolean tls;
  private dev.stowage.engine.Resources defaultRequest;
  private final Clock clock;

  private StowageService(Clock clock) {
    this.clock = clock;
  }

  private void boot(Builder config) throws IOException {
    Function<String, String> environment = config.environment;
    Path data = config.dataDir.toAbsolutePath();
    lock = DataDirectoryLock.take(data, clock.instant());
    telemetry = Telemetry.start(config.traceFile, environment);
    if (config.dbUrl == null) {
      embedded = EmbeddedPostgres.start(data.resolve("postgres"));
      database = Database.open(embedded);
    } else {
      database = Database.open(config.dbUrl, config.dbUser, config.dbPassword);
    }
    // Unfinished tasks in memory for the cycle, PostgreSQL the record of every task.
    var crashPoints = CrashPoints.armedAt(environment.apply("STOWAGE_CRASH_AT"));
    state = SchedulingState.load(PostgresTaskStore.oneWriter(database.dataSource()), crashPoints);
    store = state;
    access = new PostgresAccessStore(database.dataSource());
    queues = new dev.stowage.store.PostgresQueueStore(database.dataSource());
    priorityClasses = new dev.stowage.store.PostgresPriorityClassStore(database.dataSource());
    for (var pc : config.priorityClasses) {
      if (!priorityClasses.replace(pc)) {
        priorityClasses.create(pc);
      }
    }
    idempotency = new PostgresIdempotencyKeys(database.dataSource());
    tokens = new Tokens(access, clock);
    adminTokenFile = data.resolve("admin.token");
    AdminToken.ensure(tokens, access, adminTokenFile)
        .ifPresent(
            t ->
                LOG.info(
                    "created the admin token '{}'; its secret is in {} (readable by this user"
                        + " only)",
                    t.name(),
                    adminTokenFile));
    backend =
        switch (config.cluster) {
          case Cluster.Local(var capacity, var passEnv, var runAs, var keepWork) -> {
            Path work = data.resolve("work");
            var local =
                new LocalProcessBackend(
                    work,
                    capacity != null ? capacity : LocalProcessBackend.detectCapacity(work),
                    "local",
                    clock,
                    isolation(passEnv, runAs, environment));
            local
                .limitsNotEnforced()
                .ifPresent(
                    why ->
                        LOG.warn(
                            "CPU and memory limits are not enforced: tasks may use more than"
                                + " they request ({})",
                            why));
            retention = new WorkRetention(store, local, clock, keepWork);
            yield local;
          }
          case Cluster.Simulated(var nodes) -> new SimulatedCluster(nodes, clock);
          case Cluster.Kubernetes(var connection, var options) ->
              dev.stowage.backend.kubernetes.KubernetesBackend.connect(connection, options, clock);
          case Cluster.Given(var given) -> given;
        };
    if (retention == null) {
      retention = new WorkRetention(store, backend, clock, null);
    }
    var otel = telemetry.openTelemetry();
    var allowed = AllowedSources.of(config.allowedSources);
    var allowedOutputs = AllowedSources.forOutputs(config.allowedOutputs);
    // The S3 client (native, with its own threads) only when some bucket is allowed.
    S3Storage s3 =
        java.util.stream.Stream.concat(
                    config.allowedSources.stream(), config.allowedOutputs.stream())
                .anyMatch(e -> e.startsWith("s3://"))
            ? S3Storage.fromEnvironment(environment)
            : null;
    stager =
        new DataStager(
            DataStager.Options.defaults(allowed, allowedOutputs),
            s3,
            otel.getTracer("dev.stowage.staging"),
            otel.getMeter("dev.stowage.staging"));
    cycle =
        new SchedulingCycle(
            store,
            backend,
            stager,
            config.matcher,
            config.mode,
            config.maxTasksPerCycle,
            clock,
            otel.getTracer("dev.stowage.scheduler"),
            otel.getMeter("dev.stowage.scheduler"),
            crashPoints,
            queues,
            priorityClasses);
    ServiceMetrics.register(otel.getMeter("dev.stowage.service"), store, backend, cycle.nodes());
    ServiceMetrics.registerQueues(
        otel.getMeter("dev.stowage.service"), store, queues, cycle.nodes());
    int checked = cycle.reconcile();
    if (checked > 0) {
      LOG.info("reconciled {} task(s) that were in flight when the service last stopped", checked);
    }
    reportOrphans(cycle.orphans(), config.deleteOrphans);
    loop = new CycleLoop(cycle, config.interval, clock);
    backend.onEvents(loop::wakeUp);
    stager.onResults(loop::wakeUp);
    httpTracing =
        new HttpTracing(otel.getTracer("dev.stowage.api"), otel.getMeter("dev.stowage.api"));
    guard = new ApiGuard(tokens, Exposures.hostNames(config.exposure));
    tls = config.exposure.tls() != null;
    var sessions = new dev.stowage.app.dashboard.Sessions(clock);
    dashboard =
        new dev.stowage.app.dashboard.Dashboard(
            new ServiceDashboardData(store, cycle, loop, backend, stager, clock),
            new dev.stowage.store.PostgresClusterHistory(database.dataSource()),
            sessions,
            guard::refusal,
            ApiGuard::who,
            tls,
            config.traceLink);
    guard.sessions(dashboard::authorization);
    defaultRequest = config.defaultRequest;
    http =
        new ServiceApi(
                store,
                cycle,
                loop,
                backend,
                stager,
                retention,
                telemetry,
                httpTracing,
                access,
                queues,
                priorityClasses,
                idempotency,
                tokens,
                guard,
                defaultRequest,
                clock)
            .start(config.port, config.exposure, dashboard);
  }

  /**
   * A task's share of the service: the named variables only and, as root, its own unprivileged
   * user; not root, tasks can only run as the service's user, and a warning says so.
   */
  private static TaskIsolation isolation(
      List<String> passEnv, String runAs, Function<String, String> environment) throws IOException {
    boolean root =
        ((Integer) java.nio.file.Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    TaskIsolation.RunAs user = null;
    if (root) {
      user = TaskIsolation.RunAs.lookup(runAs == null ? "nobody" : runAs);
    } else if (runAs != null) {
      throw new IllegalArgumentException(
          "--run-as "
              + runAs
              + " needs the service to run as root; it runs as "
              + System.getProperty("user.name"));
    } else {
      LOG.warn(
          "tasks run as this service's user ({}): they get a clean environment, but can read"
              + " what this user can; run the service as root to run them as their own user",
          System.getProperty("user.name"));
    }
    return new TaskIsolation(passEnv, environment, user, true);
  }

  /** The API's address on loopback. */
  public String url() {
    return (tls ? "https" : "http") + "://127.0.0.1:" + http.port();
  }

  /** Stops placing new work until {@link #resumeScheduling}; see {@code /api/scheduling}. */
  public void pauseScheduling() {
    loop.pause();
  }

  public void resumeScheduling() {
    loop.resume();
  }

  /** The file holding the admin token's secret, written when the service created that token. */
  public Path adminTokenFile() {
    return adminTokenFile;
  }

  /** Dashboard pages holding their live event stream open now. */
  int liveDashboardPages() {
    return dashboard.livePages();
  }

  /** A trace link template as given, or why it is not one (null is none). */
  public static String checkTraceLink(String template) {
    if (template != null
        && (!template.contains("{traceId}")
            || !(template.startsWith("https://") || template.startsWith("http://")))) {
      throw new IllegalArgumentException(
          "must be an http(s) URL with {traceId} in it, got '" + template + "'");
    }
    return template;
  }

  /**
   * Every HTTP route the API serves, as {@code METHOD /path}: what the OpenAPI document names. The
   * dashboard's pages are not the API and are left out.
   */
  java.util.SortedSet<String> routes() {
    var out = new java.util.TreeSet<String>();
    for (var parsed : http.unsafe.internalRouter.allHttpHandlers()) {
      String path = parsed.endpoint.path;
      if (parsed.endpoint.method.isHttpMethod()
          && (path.startsWith("/api/") || path.equals("/metrics"))) {
        out.add(parsed.endpoint.method.name() + " " + parsed.endpoint.path);
      }
    }
    return out;
  }

  @Override
  public void close() {
    if (http != null) {
      http.stop();
    }
    if (dashboard != null) {
      dashboard.close();
    }
    if (loop != null) {
      loop.close();
    }
    if (stager != null) {
      stager.close();
    }
    if (retention != null) {
      retention.close();
    }
    if (backend != null) {
      backend.close();
    }
    if (state != null) {
      state.close();
    }
    if (database != null) {
      database.close();
    }
    if (embedded != null) {
      embedded.close();
    }
    if (telemetry != null) {
      telemetry.close();
    }
    if (lock != null) {
      try {
        lock.close();
      } catch (IOException e) {
        LOG.warn("could not release the data directory's lock", e);
      }
    }
  }

  /**
   * Says what the backend runs for tasks this store does not hold, and stops it when told to: a
   * store reset, or another service under the same instance name, leaves such work behind.
   */
  private void reportOrphans(List<dev.stowage.scheduler.AttemptId> orphans, boolean delete) {
    if (orphans.isEmpty()) {
      return;
    }
    var shown =
        orphans.stream().limit(10).map(a -> a.taskId() + " attempt " + a.attempt()).toList();
    String list = String.join(", ", shown) + (orphans.size() > 10 ? ", ..." : "");
    if (!delete) {
      LOG.warn(
          "{} attempt(s) run for tasks this store does not hold: {}; left alone (up"
              + " --delete-orphans stops them)",
          orphans.size(),
          list);
      return;
    }
    for (var a : orphans) {
      backend.kill(a);
    }
    LOG.warn(
        "{} attempt(s) run for tasks this store does not hold: {}; stopped (--delete-orphans)",
        orphans.size(),
        list);
  }
}
