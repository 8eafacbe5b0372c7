package dev.stowage.app.service;

import dev.stowage.access.AccessStore;
import dev.stowage.access.AdminToken;
import dev.stowage.access.ApiToken;
import dev.stowage.access.AuditEntry;
import dev.stowage.access.IdempotencyKeys;
import dev.stowage.access.Role;
import dev.stowage.access.Tokens;
import dev.stowage.app.service.ApiGuard.Access;
import dev.stowage.app.telemetry.Telemetry;
import dev.stowage.backend.local.LocalProcessBackend;
import dev.stowage.backend.local.TaskIsolation;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.CrashPoints;
import dev.stowage.scheduler.DuplicateTaskException;
import dev.stowage.scheduler.Feasibility;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.SchedulingState;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.Submissions;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TaskStore;
import dev.stowage.scheduler.TraceContext;
import dev.stowage.staging.DataStager;
import dev.stowage.staging.S3Storage;
import dev.stowage.store.Database;
import dev.stowage.store.EmbeddedPostgres;
import dev.stowage.store.PostgresAccessStore;
import dev.stowage.store.PostgresIdempotencyKeys;
import dev.stowage.store.PostgresTaskStore;
import dev.stowage.store.StoreException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.json.JavalinJackson;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler service: the store (embedded PostgreSQL by default, or an external server), the
 * local backend, the cycle loop, and the HTTP API, started and stopped together.
 */
public final class StowageService implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StowageService.class);

  /**
   * @param dataDir where the embedded database and task work directories live
   * @param dbUrl an external PostgreSQL (JDBC URL) instead of the embedded one, or null
   * @param port the HTTP port; 0 picks a free one
   */
  public record Config(
      Path dataDir,
      String dbUrl,
      String dbUser,
      String dbPassword,
      int port,
      Duration interval,
      Cluster cluster,
      int maxTasksPerCycle,
      Path traceFile,
      List<String> allowedSources,
      List<String> allowedOutputs,
      Exposure exposure,
      dev.stowage.engine.Resources defaultRequest) {
    /** What a task that names no CPU or memory requests: one core, as Slurm gives, and 1 GiB. */
    public static final dev.stowage.engine.Resources DEFAULT_REQUEST =
        new dev.stowage.engine.Resources(1000, 1024, 0, 0);

    public Config {
      defaultRequest = defaultRequest == null ? DEFAULT_REQUEST : defaultRequest;
      if (maxTasksPerCycle < 1) {
        throw new IllegalArgumentException("maxTasksPerCycle must be at least 1");
      }
      allowedSources = allowedSources == null ? List.of() : List.copyOf(allowedSources);
      allowedOutputs = allowedOutputs == null ? List.of() : List.copyOf(allowedOutputs);
      exposure = exposure == null ? Exposure.LOOPBACK : exposure;
    }

    /** Listening on loopback only. */
    public Config(
        Path dataDir,
        String dbUrl,
        String dbUser,
        String dbPassword,
        int port,
        Duration interval,
        Cluster cluster,
        int maxTasksPerCycle,
        Path traceFile,
        List<String> allowedSources,
        List<String> allowedOutputs) {
      this(
          dataDir,
          dbUrl,
          dbUser,
          dbPassword,
          port,
          interval,
          cluster,
          maxTasksPerCycle,
          traceFile,
          allowedSources,
          allowedOutputs,
          Exposure.LOOPBACK,
          null);
    }

    public Config withExposure(Exposure e) {
      return with(e, defaultRequest);
    }

    public Config withDefaultRequest(dev.stowage.engine.Resources r) {
      return with(exposure, r);
    }

    private Config with(Exposure e, dev.stowage.engine.Resources r) {
      return new Config(
          dataDir,
          dbUrl,
          dbUser,
          dbPassword,
          port,
          interval,
          cluster,
          maxTasksPerCycle,
          traceFile,
          allowedSources,
          allowedOutputs,
          e,
          r);
    }

    /** This machine as the cluster, 20,000 tasks a cycle at most. */
    public Config(
        Path dataDir, String dbUrl, String dbUser, String dbPassword, int port, Duration interval) {
      this(dataDir, dbUrl, dbUser, dbPassword, port, interval, new Cluster.Local(null), 20_000);
    }

    /** No trace file, and inputs allowed from nowhere. */
    public Config(
        Path dataDir,
        String dbUrl,
        String dbUser,
        String dbPassword,
        int port,
        Duration interval,
        Cluster cluster,
        int maxTasksPerCycle) {
      this(
          dataDir,
          dbUrl,
          dbUser,
          dbPassword,
          port,
          interval,
          cluster,
          maxTasksPerCycle,
          null,
          List.of(),
          List.of());
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
  private TaskStore store;
  private SchedulingState state; // the store above: what it has not recorded is written at close
  private AccessStore access;
  private IdempotencyKeys idempotency;
  private Tokens tokens;
  private ApiGuard guard;
  private Path adminTokenFile;
  private boolean tls;
  private dev.stowage.engine.Resources defaultRequest;
  private final Clock clock = Clock.systemUTC();

  private StowageService() {}

  private void boot(Config config, Function<String, String> environment) throws IOException {
    Path data = config.dataDir().toAbsolutePath();
    lock = DataDirectoryLock.take(data, clock.instant());
    telemetry = Telemetry.start(config.traceFile(), environment);
    if (config.dbUrl() == null) {
      embedded = EmbeddedPostgres.start(data.resolve("postgres"));
      database = Database.open(embedded);
    } else {
      database = Database.open(config.dbUrl(), config.dbUser(), config.dbPassword());
    }
    // Unfinished tasks in memory for the cycle, PostgreSQL the record of every task.
    var crashPoints = CrashPoints.armedAt(environment.apply("STOWAGE_CRASH_AT"));
    state = SchedulingState.load(PostgresTaskStore.oneWriter(database.dataSource()), crashPoints);
    store = state;
    access = new PostgresAccessStore(database.dataSource());
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
        switch (config.cluster()) {
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
        };
    if (retention == null) {
      retention = new WorkRetention(store, backend, clock, null);
    }
    var otel = telemetry.openTelemetry();
    var allowed = AllowedSources.of(config.allowedSources());
    var allowedOutputs = AllowedSources.forOutputs(config.allowedOutputs());
    // The S3 client (native, with its own threads) only when some bucket is allowed.
    S3Storage s3 =
        java.util.stream.Stream.concat(
                    config.allowedSources().stream(), config.allowedOutputs().stream())
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
            Matcher.fast(),
            MatchMode.PACK,
            config.maxTasksPerCycle(),
            clock,
            otel.getTracer("dev.stowage.scheduler"),
            otel.getMeter("dev.stowage.scheduler"),
            crashPoints);
    ServiceMetrics.register(otel.getMeter("dev.stowage.service"), store, backend, cycle.nodes());
    int checked = cycle.reconcile();
    if (checked > 0) {
      LOG.info("reconciled {} task(s) that were in flight when the service last stopped", checked);
    }
    loop = new CycleLoop(cycle, config.interval(), clock);
    backend.onEvents(loop::wakeUp);
    stager.onResults(loop::wakeUp);
    httpTracing =
        new HttpTracing(otel.getTracer("dev.stowage.api"), otel.getMeter("dev.stowage.api"));
    guard = new ApiGuard(tokens, Exposures.hostNames(config.exposure()));
    tls = config.exposure().tls() != null;
    defaultRequest = config.defaultRequest();
    http = api(config.port(), config.exposure());
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

  /** Starts everything; on failure stops what had started and rethrows. */
  public static StowageService start(Config config) throws IOException {
    return start(config, System::getenv);
  }

  /**
   * As {@link #start(Config)}, reading the standard variables (OpenTelemetry's {@code OTEL_*}, S3's
   * {@code AWS_*}) through {@code environment} instead of the process's own.
   */
  public static StowageService start(Config config, Function<String, String> environment)
      throws IOException {
    var service = new StowageService();
    try {
      service.boot(config, environment);
    } catch (IOException | RuntimeException e) {
      service.close();
      throw e;
    }
    return service;
  }

  /** The API's address on loopback. */
  public String url() {
    return (tls ? "https" : "http") + "://127.0.0.1:" + http.port();
  }

  /** The file holding the admin token's secret, written when the service created that token. */
  public Path adminTokenFile() {
    return adminTokenFile;
  }

  private Javalin api(int port, Exposure exposure) {
    return Javalin.create(
            config -> {
              config.concurrency.useVirtualThreads = true;
              config.startup.showJavalinBanner = false;
              config.http.maxRequestSize = 32L << 20;
              config.http.prefer405over404 = true;
              config.jsonMapper(new JavalinJackson(TaskJson.MAPPER, true));
              Exposures.listen(config, exposure, port);
              config.routes.before(guard::checkHost);
              config.routes.beforeMatched(httpTracing::start);
              config.routes.beforeMatched(guard::check);
              config.routes.afterMatched(httpTracing::end);
              config.routes.post("/api/tasks", this::submit, Access.SUBMITTER);
              config.routes.get("/api/tasks", this::list, Access.READER);
              config.routes.get("/api/tasks/{id}", this::get, Access.READER);
              config.routes.post("/api/tasks/{id}/cancel", this::cancel, Access.SUBMITTER);
              config.routes.get("/api/tasks/{id}/logs", this::logs, Access.READER);
              config.routes.get("/api/tasks/{id}/why", this::why, Access.READER);
              config.routes.get("/api/health", this::health, Access.OPEN);
              config.routes.get("/api/ready", this::ready, Access.OPEN);
              config.routes.get("/api/cluster", this::cluster, Access.READER);
              config.routes.get("/api/cycles", this::cycles, Access.READER);
              config.routes.get("/api/scheduling", this::scheduling, Access.READER);
              config.routes.get("/api/traces", this::traces, Access.READER);
              config.routes.get(
                  "/metrics",
                  ctx -> {
                    var scrape = telemetry.scrape(ctx.header("Accept"));
                    ctx.contentType(scrape.contentType()).result(scrape.body());
                  },
                  Access.READER);
              config.routes.get("/api/traces/{traceId}", this::trace, Access.READER);
              config.routes.post(
                  "/api/scheduling/pause",
                  ctx -> {
                    pauseScheduling();
                    audit(ctx, "pause", "", "");
                    scheduling(ctx);
                  },
                  Access.ADMIN);
              config.routes.post(
                  "/api/scheduling/resume",
                  ctx -> {
                    resumeScheduling();
                    audit(ctx, "resume", "", "");
                    scheduling(ctx);
                  },
                  Access.ADMIN);
              config.routes.get("/api/whoami", this::whoami, Access.READER);
              config.routes.post("/api/tokens", this::createToken, Access.ADMIN);
              config.routes.get("/api/tokens", this::listTokens, Access.ADMIN);
              config.routes.post("/api/tokens/{name}/revoke", this::revokeToken, Access.ADMIN);
              config.routes.get("/api/audit", this::auditLog, Access.ADMIN);
              config.routes.post("/api/purge", this::purge, Access.ADMIN);
              config.routes.get(
                  "/api/openapi.json",
                  ctx ->
                      ctx.contentType("application/json")
                          .result(
                              new String(
                                  StowageService.class
                                      .getResourceAsStream("openapi.json")
                                      .readAllBytes(),
                                  java.nio.charset.StandardCharsets.UTF_8)),
                  Access.OPEN);
              config.routes.exception(
                  ApiGuard.Refused.class,
                  (e, ctx) -> ctx.status(e.status).json(Map.of("error", e.getMessage())));
              ErrorBodies.register(config);
              config.routes.exception(
                  InvalidSubmissionException.class,
                  (e, ctx) -> ctx.status(400).json(TaskJson.errors(e.errors())));
              config.routes.exception(
                  NotFound.class,
                  (e, ctx) -> ctx.status(404).json(Map.of("error", e.getMessage())));
              config.routes.exception(
                  StoreException.class,
                  (e, ctx) -> {
                    LOG.error("store failed a request", e);
                    ctx.status(503).json(Map.of("error", "the task store is unavailable"));
                  });
              config.routes.exception(
                  Exception.class,
                  (e, ctx) -> {
                    LOG.error("request failed", e);
                    ctx.status(500).json(Map.of("error", "internal error: " + e.getMessage()));
                  });
            })
        .start();
  }

  private void submit(Context ctx) {
    String key = ctx.header("Idempotency-Key");
    if (key == null) {
      Answer answer = submitted(ctx);
      ctx.status(answer.status()).contentType("application/json").result(answer.body());
      return;
    }
    if (key.isEmpty() || key.length() > 255 || !key.chars().allMatch(ch -> ch > 32 && ch < 127)) {
      throw invalid("Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    }
    String actor = ApiGuard.token(ctx).name();
    String hash = Tokens.hash(ctx.contentType() + "\n" + ctx.body());
    switch (idempotency.claim(actor, key, hash, clock.instant())) {
      case IdempotencyKeys.Claim.Replay(var status, var body) ->
          ctx.status(status)
              .header("Idempotent-Replayed", "true")
              .contentType("application/json")
              .result(body);
      case IdempotencyKeys.Claim.Mismatch() ->
          ctx.status(422)
              .json(
                  Map.of(
                      "error", "Idempotency-Key '" + key + "' was used for a different request"));
      case IdempotencyKeys.Claim.InProgress() ->
          ctx.status(409)
              .json(
                  Map.of(
                      "error",
                      "a request with Idempotency-Key '"
                          + key
                          + "' is still being handled; retry"));
      case IdempotencyKeys.Claim.Fresh() -> {
        Answer answer;
        try {
          answer = submitted(ctx);
        } catch (RuntimeException e) {
          idempotency.release(actor, key); // no answer worth keeping: a retry may try again
          throw e;
        }
        idempotency.complete(actor, key, answer.status(), answer.body());
        ctx.status(answer.status()).contentType("application/json").result(answer.body());
      }
    }
  }

  /** A submit's answer, kept as it was sent for replays under an Idempotency-Key. */
  private record Answer(int status, String body) {
    static Answer of(int status, Object body) {
      try {
        return new Answer(status, TaskJson.MAPPER.writeValueAsString(body));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException("cannot write an answer", e);
      }
    }
  }

  private Answer submitted(Context ctx) {
    try {
      return store(ctx);
    } catch (InvalidSubmissionException e) {
      return Answer.of(400, TaskJson.errors(e.errors()));
    } catch (DuplicateTaskException e) {
      var body = new java.util.LinkedHashMap<String, Object>();
      body.put("error", e.getMessage());
      body.put("ids", e.ids());
      return Answer.of(409, body);
    }
  }

  private Answer store(Context ctx) {
    // The tasks join this request's trace, itself the child of the caller's when it sent a
    // traceparent: their processes' TRACEPARENT points at this submit.
    TraceContext trace = HttpTracing.currentTraceContext(ctx);
    String type =
        ctx.contentType() == null ? "" : ctx.contentType().toLowerCase(java.util.Locale.ROOT);
    boolean yaml = type.contains("yaml");
    TaskJson.Parsed parsed =
        SubmissionReader.read(
            ctx.body(),
            yaml,
            trace,
            stager.allowedSources(),
            stager.allowedOutputs(),
            defaultRequest);
    List<TaskSpec> specs = parsed.specs();
    // Report the body's field errors and the batch's own problems (cycles, unknown ids)
    // together; the store checks the batch again, atomically, when it stores it.
    var errors = new java.util.ArrayList<>(parsed.errors());
    var named = new java.util.HashSet<String>();
    for (TaskSpec t : specs) {
      named.add(t.id());
      named.addAll(t.dependsOn());
    }
    var stored = store.existing(named);
    try {
      Submissions.check(specs, stored);
    } catch (InvalidSubmissionException e) {
      errors.addAll(e.errors());
    }
    if (!errors.isEmpty()) {
      throw new InvalidSubmissionException(errors);
    }
    Submissions.refuseTaken(specs, stored);
    // Stored either way (the cluster may grow), but kept out of the queue and reported now.
    Map<String, String> never = Feasibility.neverSchedulable(specs, cycle.nodes().capacities());
    String owner = ApiGuard.token(ctx).name();
    specs = specs.stream().map(t -> t.withOwner(owner)).toList();
    store.submit(specs, never, clock.instant());
    audit(
        ctx,
        "submit",
        String.join(", ", specs.stream().map(TaskSpec::id).toList()),
        specs.size() + " task(s)");
    loop.wakeUp();
    var body = new java.util.LinkedHashMap<String, Object>();
    body.put("ids", specs.stream().map(TaskSpec::id).toList());
    if (!never.isEmpty()) {
      body.put("neverSchedulable", never);
    }
    return Answer.of(201, body);
  }

  private void get(Context ctx) {
    StoredTask task = found(ctx);
    var view = TaskJson.view(task);
    if (task.state() == TaskState.STAGING || task.state() == TaskState.RUNNING) {
      // Inputs coming in, or (running, its process exited) outputs going out.
      stager
          .progress(new AttemptId(task.id(), task.attempt()))
          .ifPresent(
              p ->
                  view.put(task.state() == TaskState.STAGING ? "staging" : "collectingOutputs", p));
    }
    ctx.json(view);
  }

  private void list(Context ctx) {
    TaskState state = null;
    String stateParam = ctx.queryParam("state");
    if (stateParam != null) {
      try {
        state = TaskState.parse(stateParam);
      } catch (IllegalArgumentException e) {
        throw invalid("state", e.getMessage());
      }
    }
    int limit = intParam(ctx, "limit", 100, 1, 1000);
    String after = ctx.queryParam("after");
    List<StoredTask> page = store.list(state, after, limit);
    // An empty page after an id: the end of the listing, or an id that is not stored.
    if (page.isEmpty() && after != null && store.existing(List.of(after)).isEmpty()) {
      throw invalid(
          "after", "no task with id '" + after + "': give the last id of the page before");
    }
    var body = new java.util.LinkedHashMap<String, Object>();
    body.put("tasks", page.stream().map(TaskJson::view).toList());
    body.put("next", page.size() == limit ? page.getLast().id() : null);
    ctx.json(body);
  }

  private void cancel(Context ctx) {
    StoredTask t = found(ctx);
    ApiToken token = ApiGuard.token(ctx);
    if (token.role() != Role.ADMIN && !token.name().equals(t.spec().owner())) {
      throw new ApiGuard.Refused(
          403,
          "token '"
              + token.name()
              + "' may cancel only the tasks it submitted; '"
              + t.id()
              + "' was submitted by "
              + (t.spec().owner() == null ? "no token" : "'" + t.spec().owner() + "'"));
    }
    audit(ctx, "cancel", t.id(), "was " + t.state().label());
    Instant now = clock.instant();
    switch (t.state()) {
      case WAITING, QUEUED, ASSIGNED, STAGING -> {
        if (!store.transition(t.id(), t.state(), TaskState.CANCELLED, now)) {
          ctx.status(409).json(Map.of("error", "task '" + t.id() + "' changed state; try again"));
          return;
        }
        ctx.json(Map.of("id", t.id(), "state", "cancelled"));
      }
      case LAUNCHED, RUNNING -> {
        backend.kill(new AttemptId(t.id(), t.attempt()));
        ctx.status(202).json(Map.of("id", t.id(), "state", "cancelling"));
      }
      default ->
          ctx.status(409)
              .json(Map.of("error", "task '" + t.id() + "' is already " + t.state().label()));
    }
  }

  /**
   * A log, or part of it: the last {@code maxBytes} (1 MiB) by default, or {@code maxBytes} from
   * byte {@code from}, for downloading it whole in parts and for following it. Headers say the
   * log's size, where the part starts, and whether bytes lie outside it.
   */
  private void logs(Context ctx) {
    StoredTask t = found(ctx);
    int attempt = intParam(ctx, "attempt", Math.max(1, t.attempt()), 1, Math.max(1, t.attempt()));
    String stream = ctx.queryParamAsClass("stream", String.class).getOrDefault("stdout");
    if (!stream.equals("stdout") && !stream.equals("stderr")) {
      throw invalid("stream", "must be stdout or stderr, got '" + stream + "'");
    }
    int maxBytes = intParam(ctx, "maxBytes", 1 << 20, 1, 16 << 20);
    long from = -1;
    String rawFrom = ctx.queryParam("from");
    if (rawFrom != null) {
      try {
        from = Long.parseLong(rawFrom);
      } catch (NumberFormatException e) {
        from = -1;
      }
      if (from < 0) {
        throw invalid("from", "must be a byte offset, 0 or more, got '" + rawFrom + "'");
      }
    }
    ClusterBackend.LogSlice slice =
        t.attempt() == 0
            ? ClusterBackend.LogSlice.EMPTY
            : backend.log(new AttemptId(t.id(), attempt), stream.equals("stderr"), from, maxBytes);
    ctx.header("Stowage-Log-Size", Long.toString(slice.size()))
        .header("Stowage-Log-From", Long.toString(slice.from()))
        .header("Stowage-Log-Truncated", Boolean.toString(slice.partial()))
        .contentType("text/plain; charset=utf-8")
        .result(slice.bytes());
  }

  private void why(Context ctx) {
    StoredTask t = found(ctx);
    ctx.json(
        Why.of(
            t,
            store,
            backend,
            cycle::lastExplanation,
            loop::cyclesSince,
            stager::progress,
            clock.instant()));
  }

  private StoredTask found(Context ctx) {
    String id = ctx.pathParam("id");
    return store.get(id).orElseThrow(() -> new NotFound("no task with id '" + id + "'"));
  }

  /** An unknown id: answered 404 with the message. */
  static final class NotFound extends RuntimeException {
    NotFound(String message) {
      super(message);
    }
  }

  private static int intParam(Context ctx, String name, int fallback, int min, int max) {
    String raw = ctx.queryParam(name);
    if (raw == null) {
      return fallback;
    }
    try {
      int v = Integer.parseInt(raw);
      if (v >= min && v <= max) {
        return v;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw invalid(name, "must be an integer in [" + min + ", " + max + "], got '" + raw + "'");
  }

  private static InvalidSubmissionException invalid(String field, String message) {
    return new InvalidSubmissionException(
        List.of(new InvalidSubmissionException.FieldError(field, message)));
  }

  /** Ready when the store answers and the cycle loop has run lately. */
  private void ready(Context ctx) {
    boolean storeOk;
    try {
      store.existing(List.of("readiness-probe"));
      storeOk = true;
    } catch (RuntimeException e) {
      storeOk = false;
    }
    boolean loopOk = loop.healthy(Duration.ofSeconds(30));
    ctx.status(storeOk && loopOk ? 200 : 503)
        .json(Map.of("ready", storeOk && loopOk, "store", storeOk, "cycleLoop", loopOk));
  }

  private void cluster(Context ctx) {
    var nodes = new java.util.ArrayList<Map<String, Object>>();
    for (var offer : backend.offers()) {
      var node = new java.util.LinkedHashMap<String, Object>();
      node.put("node", offer.node());
      for (int d = 0; d < 4; d++) {
        node.put("free." + dev.stowage.engine.Resources.DIMENSIONS[d], offer.available().get(d));
      }
      node.put("attributes", offer.attributes());
      nodes.add(node);
    }
    ctx.json(Map.of("nodes", nodes));
  }

  private void cycles(Context ctx) {
    var out = new java.util.ArrayList<Map<String, Object>>();
    for (CycleLoop.Recent r : loop.recent()) {
      var phases = new java.util.LinkedHashMap<String, Object>();
      r.report().phases().forEach((k, v) -> phases.put(k, v.toNanos() / 1e6));
      var c = new java.util.LinkedHashMap<String, Object>();
      c.put("cycle", r.number());
      c.put("at", r.at().toString());
      c.put("durationMs", r.report().took().toNanos() / 1e6);
      if (r.report().traceId() != null) {
        // In /api/traces/{traceId} when the cycle changed something (idle ones are not kept).
        c.put("traceId", r.report().traceId());
      }
      c.put("offers", r.report().offers());
      c.put("considered", r.report().considered());
      c.put("matched", r.report().matched());
      c.put("launched", r.report().launched());
      c.put("eventsApplied", r.report().eventsApplied());
      c.put("phasesMs", phases);
      out.add(c);
    }
    ctx.json(Map.of("cycles", out));
  }

  /**
   * Whether cycles place new work. Paused, the loop still applies what the cluster reports (tasks
   * finish, dependants are released) but launches nothing: for maintenance, as a Nomad operator
   * pauses its eval broker.
   */
  private void scheduling(Context ctx) {
    ctx.json(Map.of("paused", loop.paused(), "cycles", loop.cycles()));
  }

  /** Stops placing new work until {@link #resumeScheduling}; see {@code /api/scheduling}. */
  public void pauseScheduling() {
    loop.pause();
  }

  public void resumeScheduling() {
    loop.resume();
  }

  /** The newest traces kept in memory, newest first ({@code limit}, default 50). */
  private void traces(Context ctx) {
    int limit = intParam(ctx, "limit", 50, 1, 1000);
    var out = new java.util.ArrayList<Map<String, Object>>();
    for (var t : telemetry.recentTraces().recent(limit)) {
      var m = new java.util.LinkedHashMap<String, Object>();
      m.put("traceId", t.traceId());
      m.put("root", t.root());
      m.put("start", t.start().toString());
      m.put("durationMs", java.time.Duration.between(t.start(), t.end()).toNanos() / 1e6);
      m.put("spans", t.spans());
      if (t.dropped() > 0) {
        m.put("droppedSpans", t.dropped());
      }
      out.add(m);
    }
    ctx.json(Map.of("traces", out));
  }

  /** One kept trace as OTLP/JSON (an ExportTraceServiceRequest), as collectors and UIs read it. */
  private void trace(Context ctx) {
    String id = ctx.pathParam("traceId");
    byte[] json =
        telemetry
            .recentTraces()
            .otlpJson(id)
            .orElseThrow(() -> new NotFound("no trace with id '" + id + "' is kept"));
    ctx.contentType("application/json").result(json);
  }

  /** Records a change in the audit log under the request's token. */
  private void audit(Context ctx, String action, String target, String detail) {
    access.record(
        AuditEntry.of(clock.instant(), ApiGuard.token(ctx).name(), action, target, detail));
  }

  /** Removes finished tasks' work directories now: {@code {"olderThanSeconds": N}}, default 0. */
  private void purge(Context ctx) {
    long olderThan = 0;
    if (!ctx.body().isBlank()) {
      com.fasterxml.jackson.databind.JsonNode body;
      try {
        body = TaskJson.MAPPER.readTree(ctx.body());
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw invalid("body", "not JSON: " + e.getOriginalMessage());
      }
      var errors = new java.util.ArrayList<InvalidSubmissionException.FieldError>();
      if (body == null || !body.isObject()) {
        throw invalid("body", "expected {\"olderThanSeconds\": N}");
      }
      body.fieldNames()
          .forEachRemaining(
              f -> {
                if (!f.equals("olderThanSeconds")) {
                  errors.add(
                      new InvalidSubmissionException.FieldError(
                          f, "unknown field (expected olderThanSeconds)"));
                }
              });
      var n = body.get("olderThanSeconds");
      if (n != null && (!n.isIntegralNumber() || n.asLong() < 0)) {
        errors.add(
            new InvalidSubmissionException.FieldError(
                "olderThanSeconds", "must be a whole number of seconds, 0 or more, got " + n));
      } else if (n != null) {
        olderThan = n.asLong();
      }
      if (!errors.isEmpty()) {
        throw new InvalidSubmissionException(errors);
      }
    }
    int removed = retention.purge(Duration.ofSeconds(olderThan));
    audit(
        ctx,
        "purge",
        "",
        removed + " task(s)' work directories, finished " + olderThan + " s ago or more");
    ctx.json(Map.of("removed", removed));
  }

  private void whoami(Context ctx) {
    ctx.json(TokenJson.view(ApiGuard.token(ctx)));
  }

  private void createToken(Context ctx) {
    TokenJson.Request request = TokenJson.parse(ctx.body());
    Tokens.Issued issued;
    try {
      issued =
          tokens.create(
              request.name(), request.role(), request.lifetime(), ApiGuard.token(ctx).name());
    } catch (AccessStore.TokenNameTakenException e) {
      ctx.status(409).json(Map.of("error", e.getMessage()));
      return;
    }
    audit(ctx, "token.create", issued.token().name(), issued.token().role().label());
    var body = TokenJson.view(issued.token());
    body.put("token", issued.secret());
    ctx.status(201).json(body);
  }

  private void listTokens(Context ctx) {
    ctx.json(Map.of("tokens", access.tokens().stream().map(TokenJson::view).toList()));
  }

  private void revokeToken(Context ctx) {
    String name = ctx.pathParam("name");
    if (!tokens.revoke(name)) {
      throw new NotFound("no token named '" + name + "' that is not revoked already");
    }
    audit(ctx, "token.revoke", name, "");
    ctx.json(Map.of("name", name, "revoked", true));
  }

  private void auditLog(Context ctx) {
    long after = 0;
    String raw = ctx.queryParam("after");
    if (raw != null) {
      try {
        after = Long.parseLong(raw);
      } catch (NumberFormatException e) {
        throw invalid("after", "must be an entry id (an integer), got '" + raw + "'");
      }
    }
    int limit = intParam(ctx, "limit", 100, 1, 1000);
    var entries = new java.util.ArrayList<Map<String, Object>>();
    for (AuditEntry e : access.auditLog(after, limit)) {
      var m = new java.util.LinkedHashMap<String, Object>();
      m.put("id", e.id());
      m.put("at", e.at().toString());
      m.put("actor", e.actor());
      m.put("action", e.action());
      m.put("target", e.target());
      m.put("detail", e.detail());
      entries.add(m);
    }
    ctx.json(Map.of("entries", entries));
  }

  private void health(Context ctx) {
    ctx.json(Map.of("status", "ok", "cycles", loop.cycles()));
  }

  /** Every HTTP route the API serves, as {@code METHOD /path}: what the OpenAPI document names. */
  java.util.SortedSet<String> routes() {
    var out = new java.util.TreeSet<String>();
    for (var parsed : http.unsafe.internalRouter.allHttpHandlers()) {
      if (parsed.endpoint.method.isHttpMethod()) {
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
}
