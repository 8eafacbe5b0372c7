package dev.stowage.app.service;

import dev.stowage.access.AccessStore;
import dev.stowage.access.ApiToken;
import dev.stowage.access.AuditEntry;
import dev.stowage.access.IdempotencyKeys;
import dev.stowage.access.Role;
import dev.stowage.access.Tokens;
import dev.stowage.app.service.ApiGuard.Access;
import dev.stowage.app.telemetry.Telemetry;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.DuplicateTaskException;
import dev.stowage.scheduler.Feasibility;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.Stager;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.Submissions;
import dev.stowage.scheduler.TaskArrays;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TaskStore;
import dev.stowage.scheduler.TraceContext;
import dev.stowage.staging.DataStager;
import dev.stowage.store.StoreException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.json.JavalinJackson;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP layer: every route of the API, its access rule, and its handler, over the parts the
 * service wired ({@link StowageService}). Views are serialised by Jackson; the OpenAPI document
 * ({@code openapi.json}) is held to these routes by a test.
 */
final class ServiceApi {
  private static final Logger LOG = LoggerFactory.getLogger(StowageService.class);

  private final TaskStore store;
  private final SchedulingCycle cycle;
  private final CycleLoop loop;
  private final ClusterBackend backend;
  private final DataStager stager;
  private final WorkRetention retention;
  private final Telemetry telemetry;
  private final HttpTracing httpTracing;
  private final AccessStore access;
  private final dev.stowage.scheduler.queues.QueueStore queues;
  private final QueueApi queueApi;
  private final dev.stowage.scheduler.preemption.PriorityClassStore priorityClasses;
  private final PriorityClassApi classApi;
  private final IdempotencyKeys idempotency;
  private final Tokens tokens;
  private final ApiGuard guard;
  private final dev.stowage.engine.Resources defaultRequest;
  private final Clock clock;

  ServiceApi(
      TaskStore store,
      SchedulingCycle cycle,
      CycleLoop loop,
      ClusterBackend backend,
      DataStager stager,
      WorkRetention retention,
      Telemetry telemetry,
      HttpTracing httpTracing,
      AccessStore access,
      dev.stowage.scheduler.queues.QueueStore queues,
      dev.stowage.scheduler.preemption.PriorityClassStore priorityClasses,
      IdempotencyKeys idempotency,
      Tokens tokens,
      ApiGuard guard,
      dev.stowage.engine.Resources defaultRequest,
      Clock clock) {
    this.store = store;
    this.cycle = cycle;
    this.loop = loop;
    this.backend = backend;
    this.stager = stager;
    this.retention = retention;
    this.telemetry = telemetry;
    this.httpTracing = httpTracing;
    this.access = access;
    this.queues = queues;
    this.queueApi = new QueueApi(queues, store, cycle, access, clock);
    this.priorityClasses = priorityClasses;
    this.classApi = new PriorityClassApi(priorityClasses, access, clock);
    this.idempotency = idempotency;
    this.tokens = tokens;
    this.guard = guard;
    this.defaultRequest = defaultRequest;
    this.clock = clock;
  }

  /** Starts serving the routes on {@code port}, as {@code exposure} says. */
  Javalin start(
      int port, StowageService.Exposure exposure, dev.stowage.app.dashboard.Dashboard dashboard) {
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
              dashboard.register(config, Access.OPEN, Access.READER);
              config.routes.post("/api/tasks", this::submit, Access.SUBMITTER);
              config.routes.get("/api/tasks", this::list, Access.READER);
              config.routes.get("/api/tasks/{id}", this::get, Access.READER);
              config.routes.post("/api/tasks/{id}/cancel", this::cancel, Access.SUBMITTER);
              config.routes.post("/api/tasks/{id}/retry", this::retry, Access.SUBMITTER);
              config.routes.get("/api/arrays/{id}", this::array, Access.READER);
              config.routes.post("/api/arrays/{id}/cancel", this::cancelArray, Access.SUBMITTER);
              config.routes.get("/api/tasks/{id}/logs", this::logs, Access.READER);
              config.routes.get("/api/tasks/{id}/why", this::why, Access.READER);
              config.routes.get("/api/tasks/{id}/attempts", this::attempts, Access.READER);
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
                    loop.pause();
                    audit(ctx, "pause", "", "");
                    scheduling(ctx);
                  },
                  Access.ADMIN);
              config.routes.post(
                  "/api/scheduling/resume",
                  ctx -> {
                    loop.resume();
                    audit(ctx, "resume", "", "");
                    scheduling(ctx);
                  },
                  Access.ADMIN);
              config.routes.get("/api/whoami", this::whoami, Access.READER);
              config.routes.post("/api/queues", queueApi::create, Access.ADMIN);
              config.routes.get("/api/queues", queueApi::list, Access.READER);
              config.routes.get("/api/queues/{name}", queueApi::get, Access.READER);
              config.routes.put("/api/queues/{name}", queueApi::replace, Access.ADMIN);
              config.routes.delete("/api/queues/{name}", queueApi::delete, Access.ADMIN);
              config.routes.post("/api/priority-classes", classApi::create, Access.ADMIN);
              config.routes.get("/api/priority-classes", classApi::list, Access.READER);
              config.routes.get("/api/priority-classes/{name}", classApi::get, Access.READER);
              config.routes.put("/api/priority-classes/{name}", classApi::replace, Access.ADMIN);
              config.routes.delete("/api/priority-classes/{name}", classApi::delete, Access.ADMIN);
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
                                  ServiceApi.class
                                      .getResourceAsStream("openapi.json")
                                      .readAllBytes(),
                                  java.nio.charset.StandardCharsets.UTF_8)),
                  Access.OPEN);
              config.routes.exception(
                  ApiGuard.Refused.class,
                  (e, ctx) -> {
                    if (e.status == 401 && isPage(ctx)) {
                      dev.stowage.app.dashboard.Dashboard.toSignIn(ctx);
                    } else {
                      ctx.status(e.status).json(Map.of("error", e.getMessage()));
                    }
                  });
              config.routes.exception(
                  dev.stowage.app.dashboard.Dashboard.NotFound.class,
                  (e, ctx) ->
                      ctx.status(404)
                          .contentType("text/plain; charset=utf-8")
                          .result(e.getMessage()));
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

  /** A dashboard page or fragment, which a browser without a session is sent to sign in from. */
  private static boolean isPage(Context ctx) {
    String path = ctx.path();
    return ctx.method() == io.javalin.http.HandlerType.GET
        && !path.startsWith("/api/")
        && !path.equals("/metrics");
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
            defaultRequest,
            name -> queues.get(name).isPresent(),
            priorityClasses::get);
    List<TaskSpec> specs = dependOnStoredArrays(parsed.specs());
    var errors = parsed.errors();
    boolean grouped = specs.stream().anyMatch(t -> t.array() != null || t.gang() != null);
    if (!errors.isEmpty() || grouped) {
      // Report the body's field errors and the batch's own problems (cycles, unknown ids)
      // together, each naming the task of the body it is about (an array's tasks name the one
      // that asked for them); the store checks a batch again as it stores it.
      var all = new java.util.ArrayList<>(errors);
      var named = new java.util.HashSet<String>();
      for (TaskSpec t : specs) {
        named.add(t.id());
        named.addAll(t.dependsOn());
      }
      try {
        Submissions.check(
            specs, grouped ? parsed.at() : null, store.existing(named), store::gangUnfinished);
      } catch (InvalidSubmissionException e) {
        all.addAll(e.errors());
      }
      if (!all.isEmpty()) {
        throw new InvalidSubmissionException(all);
      }
    }
    // A well-formed batch: the store checks its own problems (cycles, unknown dependencies, taken
    // ids) as it stores it, atomically, and refuses it whole with every one of them.
    // Stored either way (the cluster may grow), but kept out of the queue and reported now.
    Map<String, String> never = Feasibility.neverSchedulable(specs, cycle.nodes().shapes());
    String owner = ApiGuard.token(ctx).name();
    specs = specs.stream().map(t -> t.withOwner(owner)).toList();
    store.submit(specs, never, clock.instant());
    audit(ctx, "submit", submittedIds(specs), specs.size() + " task(s)");
    loop.wakeUp();
    var body = new java.util.LinkedHashMap<String, Object>();
    body.put("ids", specs.stream().map(TaskSpec::id).toList());
    if (!never.isEmpty()) {
      body.put("neverSchedulable", never);
    }
    return Answer.of(201, body);
  }

  /**
   * Dependencies on an array stored earlier made dependencies on each of its tasks: the ids that
   * are neither in the batch nor a stored task's are looked up as arrays.
   */
  private List<TaskSpec> dependOnStoredArrays(List<TaskSpec> specs) {
    var inBatch = new java.util.HashSet<String>();
    var outside = new java.util.HashSet<String>();
    for (TaskSpec t : specs) {
      inBatch.add(t.id());
    }
    for (TaskSpec t : specs) {
      for (String d : t.dependsOn()) {
        if (!inBatch.contains(d)) {
          outside.add(d);
        }
      }
    }
    if (outside.isEmpty()) {
      return specs;
    }
    outside.removeAll(store.existing(outside));
    if (outside.isEmpty()) {
      return specs;
    }
    Map<String, Integer> sizes = TaskArrays.storedSizes(outside, store);
    if (sizes.isEmpty()) {
      return specs;
    }
    long edges = 0;
    for (TaskSpec t : specs) {
      for (String d : t.dependsOn()) {
        edges += sizes.getOrDefault(d, 1);
      }
    }
    if (edges > TaskArrays.MAX_EDGES) {
      throw invalid("tasks", TaskArrays.tooManyEdges(edges));
    }
    return specs.stream()
        .map(t -> t.withDependsOn(TaskArrays.members(t.dependsOn(), sizes::get)))
        .toList();
  }

  /** The ids of a submission for the audit log, each array's as one range. */
  private static String submittedIds(List<TaskSpec> specs) {
    var parts = new java.util.ArrayList<String>();
    for (TaskSpec t : specs) {
      if (t.array() == null) {
        parts.add(t.id());
      } else if (t.array().index() == 0) {
        parts.add(t.id() + " .. " + t.array().arrayId() + "_" + (t.array().size() - 1));
      }
    }
    return String.join(", ", parts);
  }

  private void get(Context ctx) {
    StoredTask task = found(ctx);
    Stager.Progress progress = null;
    if (task.state() == TaskState.STAGING || task.state() == TaskState.RUNNING) {
      // Inputs coming in, or (running, its process exited) outputs going out.
      progress = stager.progress(new AttemptId(task.id(), task.attempt())).orElse(null);
    }
    ctx.json(
        task.state() == TaskState.STAGING
            ? TaskView.of(task, progress, null)
            : TaskView.of(task, null, progress));
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
    ctx.json(
        new TaskView.Page(
            page.stream().map(TaskView::of).toList(),
            page.size() == limit ? page.getLast().id() : null));
  }

  private void cancel(Context ctx) {
    StoredTask t = found(ctx);
    mayCancel(ApiGuard.token(ctx), t);
    audit(ctx, "cancel", t.id(), "was " + t.state().label());
    switch (cancelOne(t, clock.instant())) {
      case CANCELLED -> ctx.json(Map.of("id", t.id(), "state", "cancelled"));
      case CANCELLING -> ctx.status(202).json(Map.of("id", t.id(), "state", "cancelling"));
      case CHANGED ->
          ctx.status(409).json(Map.of("error", "task '" + t.id() + "' changed state; try again"));
      case FINISHED ->
          ctx.status(409)
              .json(Map.of("error", "task '" + t.id() + "' is already " + t.state().label()));
    }
  }

  /**
   * A retry by hand of a failed or cancelled task, as Airflow's clear with its downstream: queued
   * again with a fresh set of attempts, and the tasks its end had made upstream_failed wait again.
   * Refused, saying why, for a task in another state, a gang's task (its gang runs together), or
   * one whose own dependency has failed or was cancelled (retry that one).
   */
  private void retry(Context ctx) {
    StoredTask t = found(ctx);
    may(ApiGuard.token(ctx), t, "retry");
    if (!t.state().isRetryable()) {
      String why =
          t.state() == TaskState.UPSTREAM_FAILED
              ? blockingDependency(t)
                  .map(d -> "; retry its dependency '" + d.id() + "' (" + d.state().label() + ")")
                  .orElse("")
              : "";
      throw new ApiGuard.Refused(
          409,
          "task '"
              + t.id()
              + "' is "
              + t.state().label()
              + ": only a failed or cancelled task is retried"
              + why);
    }
    if (t.spec().gang() != null) {
      throw new ApiGuard.Refused(
          409,
          "task '"
              + t.id()
              + "' is in gang '"
              + t.spec().gang().name()
              + "', whose tasks run together: submit the gang again rather than retry one task");
    }
    var blocking = blockingDependency(t);
    if (blocking.isPresent()) {
      throw new ApiGuard.Refused(
          409,
          "task '"
              + t.id()
              + "' depends on '"
              + blocking.get().id()
              + "', which is "
              + blocking.get().state().label()
              + ": retry that one first");
    }
    List<StoredTask> reopened = store.retry(t.id(), t.state(), clock.instant());
    if (reopened.isEmpty()) {
      throw new ApiGuard.Refused(409, "task '" + t.id() + "' changed state; try again");
    }
    List<String> below = reopened.subList(1, reopened.size()).stream().map(StoredTask::id).toList();
    audit(
        ctx,
        "retry",
        t.id(),
        "was "
            + t.state().label()
            + (below.isEmpty() ? "" : "; " + below.size() + " below wait again"));
    loop.wakeUp();
    var body = new java.util.LinkedHashMap<String, Object>();
    body.put("id", t.id());
    body.put("state", reopened.getFirst().state().label());
    body.put("reopened", below);
    ctx.json(body);
  }

  /** A dependency of the task that failed, was cancelled or is upstream_failed, if any. */
  private java.util.Optional<StoredTask> blockingDependency(StoredTask t) {
    return store.getAll(t.spec().dependsOn()).values().stream()
        .filter(d -> d.state().blocksDependants())
        .min(java.util.Comparator.comparing(StoredTask::id));
  }

  /** What cancelling one task did. */
  private enum Cancel {
    CANCELLED,
    CANCELLING,
    CHANGED,
    FINISHED
  }

  /** A submitter cancels only what it submitted; an admin, anything. */
  private static void mayCancel(ApiToken token, StoredTask t) {
    may(token, t, "cancel");
  }

  /** A submitter cancels or retries only what it submitted; an admin, anything. */
  private static void may(ApiToken token, StoredTask t, String action) {
    if (token.role() != Role.ADMIN && !token.name().equals(t.spec().owner())) {
      throw new ApiGuard.Refused(
          403,
          "token '"
              + token.name()
              + "' may "
              + action
              + " only the tasks it submitted; '"
              + t.id()
              + "' was submitted by "
              + (t.spec().owner() == null ? "no token" : "'" + t.spec().owner() + "'"));
    }
  }

  /**
   * Cancels a task not yet running at once; asks the backend to stop a running one, whose end then
   * cancels it.
   */
  private Cancel cancelOne(StoredTask t, Instant now) {
    return switch (t.state()) {
      case WAITING, QUEUED, ASSIGNED, STAGING ->
          store.transition(t.id(), t.state(), TaskState.CANCELLED, now)
              ? Cancel.CANCELLED
              : Cancel.CHANGED;
      case LAUNCHED, RUNNING -> {
        backend.kill(new AttemptId(t.id(), t.attempt()));
        yield Cancel.CANCELLING;
      }
      default -> Cancel.FINISHED;
    };
  }

  /** The size of the array of that id, from its first task; a 404 when there is no such array. */
  private int arraySize(Context ctx) {
    String id = ctx.pathParam("id");
    Integer size = TaskArrays.storedSizes(List.of(id), store).get(id);
    if (size == null) {
      throw new NotFound("no array with id '" + id + "'");
    }
    return size;
  }

  /**
   * An array as a whole: its size, how many of its tasks are in each state, and one page of its
   * tasks in index order ({@code from}, {@code limit}).
   */
  private void array(Context ctx) {
    String id = ctx.pathParam("id");
    int size = arraySize(ctx);
    int from = intParam(ctx, "from", 0, 0, size - 1);
    int limit = intParam(ctx, "limit", 100, 1, 1000);
    Map<String, StoredTask> members = store.getAll(TaskArrays.memberIds(id, 0, size));
    var states = new java.util.TreeMap<String, Integer>();
    for (StoredTask t : members.values()) {
      states.merge(t.state().label(), 1, Integer::sum);
    }
    var page = new java.util.ArrayList<TaskView>();
    int to = Math.min(size, from + limit);
    for (String member : TaskArrays.memberIds(id, from, to)) {
      StoredTask t = members.get(member);
      if (t != null) {
        page.add(TaskView.of(t));
      }
    }
    ctx.json(new ArrayView(id, size, states, page, to < size ? to : null));
  }

  /** An array as {@code GET /api/arrays/{id}} shows it; {@code next} null on the last page. */
  record ArrayView(
      String id,
      int size,
      Map<String, Integer> states,
      List<TaskView> tasks,
      @com.fasterxml.jackson.annotation.JsonInclude(
              com.fasterxml.jackson.annotation.JsonInclude.Include.ALWAYS)
          Integer next) {}

  /** Cancels every task of an array that has not finished, as a cancel of each would. */
  private void cancelArray(Context ctx) {
    String id = ctx.pathParam("id");
    int size = arraySize(ctx);
    Map<String, StoredTask> members = store.getAll(TaskArrays.memberIds(id, 0, size));
    ApiToken token = ApiGuard.token(ctx);
    for (StoredTask t : members.values()) {
      mayCancel(token, t);
    }
    Instant now = clock.instant();
    var outcomes = new java.util.EnumMap<Cancel, Integer>(Cancel.class);
    // The tasks not running first: a running one's end frees room the cycle would otherwise give
    // to one of them.
    var ordered = new java.util.ArrayList<StoredTask>(members.values());
    ordered.sort(java.util.Comparator.comparing((StoredTask t) -> t.state().isInFlight()));
    for (StoredTask t : ordered) {
      Cancel outcome = cancelOne(t, now);
      // Placed (or ended) since it was read: once more, as it is now.
      if (outcome == Cancel.CHANGED) {
        outcome = store.get(t.id()).map(again -> cancelOne(again, now)).orElse(Cancel.FINISHED);
      }
      outcomes.merge(outcome, 1, Integer::sum);
    }
    audit(ctx, "cancel", id, "array of " + size + ": " + outcomes);
    var body = new java.util.LinkedHashMap<String, Object>();
    body.put("id", id);
    body.put("cancelled", outcomes.getOrDefault(Cancel.CANCELLED, 0));
    body.put("cancelling", outcomes.getOrDefault(Cancel.CANCELLING, 0));
    // A task that moved on while this ran (placed, or finished) is counted with the finished.
    body.put(
        "alreadyFinished",
        outcomes.getOrDefault(Cancel.FINISHED, 0) + outcomes.getOrDefault(Cancel.CHANGED, 0));
    ctx.json(body);
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
    ctx.json(Why.of(t, store, backend, cycle, loop, stager, clock.instant()));
  }

  private void attempts(Context ctx) {
    StoredTask t = found(ctx);
    ctx.json(
        new AttemptView.Attempts(
            t.id(), store.attempts(t.id()).stream().map(AttemptView::of).toList()));
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
}
