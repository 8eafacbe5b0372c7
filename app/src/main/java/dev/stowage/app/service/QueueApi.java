package dev.stowage.app.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.access.AccessStore;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import dev.stowage.scheduler.QueueLoad;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.TaskStore;
import dev.stowage.scheduler.queues.FairShare;
import dev.stowage.scheduler.queues.Queue;
import dev.stowage.scheduler.queues.QueueStore;
import io.javalin.http.Context;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code /api/queues}: queues created, changed and deleted by admins, and read by anyone with a
 * token, each with what it holds now against its share.
 */
final class QueueApi {
  private final QueueStore queues;
  private final TaskStore store;
  private final SchedulingCycle cycle;
  private final AccessStore access;
  private final Clock clock;

  QueueApi(
      QueueStore queues, TaskStore store, SchedulingCycle cycle, AccessStore access, Clock clock) {
    this.queues = queues;
    this.store = store;
    this.cycle = cycle;
    this.access = access;
    this.clock = clock;
  }

  void create(Context ctx) {
    Queue queue = parse(ctx.body(), null);
    if (!queues.create(queue)) {
      ctx.status(409).json(Map.of("error", "a queue named '" + queue.name() + "' exists"));
      return;
    }
    audit(ctx, "queue.create", queue);
    ctx.status(201).json(views(List.of(queue)).getFirst());
  }

  void list(Context ctx) {
    ctx.json(Map.of("queues", views(queues.list())));
  }

  void get(Context ctx) {
    ctx.json(views(List.of(found(ctx))).getFirst());
  }

  void replace(Context ctx) {
    found(ctx);
    Queue queue = parse(ctx.body(), ctx.pathParam("name"));
    if (!queues.replace(queue)) {
      throw new ServiceApi.NotFound("no queue named '" + queue.name() + "'");
    }
    audit(ctx, "queue.replace", queue);
    ctx.json(views(List.of(queue)).getFirst());
  }

  void delete(Context ctx) {
    Queue queue = found(ctx);
    if (queue.name().equals(Queue.DEFAULT.name())) {
      ctx.status(409).json(Map.of("error", "the default queue cannot be deleted"));
      return;
    }
    QueueLoad load = store.queueLoads(false).getOrDefault(queue.name(), QueueLoad.EMPTY);
    if (load.queued() + load.runningTasks() > 0) {
      ctx.status(409)
          .json(
              Map.of(
                  "error",
                  "queue '"
                      + queue.name()
                      + "' holds "
                      + load.queued()
                      + " queued and "
                      + load.runningTasks()
                      + " running task(s): cancel them or let them finish first"));
      return;
    }
    queues.delete(queue.name());
    audit(ctx, "queue.delete", queue);
    ctx.json(Map.of("name", queue.name(), "deleted", true));
  }

  private Queue found(Context ctx) {
    String name = ctx.pathParam("name");
    return queues
        .get(name)
        .orElseThrow(() -> new ServiceApi.NotFound("no queue named '" + name + "'"));
  }

  private void audit(Context ctx, String action, Queue q) {
    AdminBodies.audit(
        access, clock, ctx, action, q.name(), "weight " + q.weight() + ", limits " + q.limits());
  }

  /** These queues as the API shows them, from one read of what every queue holds. */
  private List<Map<String, Object>> views(List<Queue> shown) {
    var loads = store.queueLoads(true);
    // Every queue's, for the weights the shown ones divide the cluster with.
    Map<String, Double> fair = FairShare.fairShares(queues.list(), loads.keySet());
    long[] capacity = FairShare.capacity(cycle.nodes().capacities());
    return shown.stream()
        .map(q -> view(q, loads, fair.getOrDefault(q.name(), 1.0), capacity))
        .toList();
  }

  private Map<String, Object> view(
      Queue q, Map<String, QueueLoad> loads, double fairShare, long[] capacity) {
    QueueLoad load = loads.getOrDefault(q.name(), QueueLoad.EMPTY);
    var m = new LinkedHashMap<String, Object>();
    m.put("name", q.name());
    m.put("weight", q.weight());
    m.put("limits", q.limits());
    m.put("running", resources(load.running()));
    m.put("runningTasks", load.runningTasks());
    m.put("dominantShare", FairShare.dominantShare(load.running(), capacity));
    m.put("fairShare", fairShare);
    m.put("queued", load.queued());
    if (load.oldestQueued() != null) {
      m.put(
          "oldestQueued",
          Map.of("id", load.oldestQueued(), "since", load.oldestQueuedSince().toString()));
    } else {
      m.put("oldestQueued", null);
    }
    cycle.queueAtLimit(q.name()).ifPresent(a -> m.put("atLimit", a.view()));
    return m;
  }

  private static Map<String, Long> resources(Resources r) {
    var m = new LinkedHashMap<String, Long>();
    for (int d = 0; d < Resources.DIMENSIONS.length; d++) {
      m.put(Resources.DIMENSIONS[d], r.get(d));
    }
    return m;
  }

  /**
   * {@code {"name", "weight", "limits"}}; with {@code pathName} (a replace) the name may be left
   * out, and must be that name when given. Every problem at once.
   */
  static Queue parse(String body, String pathName) {
    JsonNode root;
    root = TaskJson.readStrict(body);
    if (root == null || !root.isObject()) {
      throw new InvalidSubmissionException(
          List.of(
              new FieldError(
                  "body", "expected {\"name\": ..., \"weight\": ..., \"limits\": {...}}")));
    }
    var errors = new ArrayList<FieldError>();
    root.fieldNames()
        .forEachRemaining(
            f -> {
              if (!List.of("name", "weight", "limits").contains(f)) {
                errors.add(new FieldError(f, "unknown field (expected name, weight, limits)"));
              }
            });
    String name = AdminBodies.name(root, pathName, errors);
    double weight = 1;
    JsonNode w = root.get("weight");
    if (w != null && !w.isNull()) {
      if (!w.isNumber()) {
        errors.add(new FieldError("weight", "must be a number, got " + w));
      } else {
        weight = w.asDouble();
      }
    } else if (w != null) {
      errors.add(new FieldError("weight", "must be a number, got null"));
    }
    var limits = new LinkedHashMap<String, Long>();
    JsonNode l = root.get("limits");
    if (l != null && !l.isObject()) {
      errors.add(new FieldError("limits", "must be an object of resource to amount, got " + l));
    } else if (l != null) {
      l.fields()
          .forEachRemaining(
              e -> {
                if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToLong()) {
                  errors.add(
                      new FieldError(
                          "limits." + e.getKey(), "must be an integer, got " + e.getValue()));
                } else {
                  limits.put(e.getKey(), e.getValue().asLong());
                }
              });
    }
    for (String p : Queue.problems(name, weight, limits)) {
      int colon = p.indexOf(": ");
      String field = p.substring(0, colon);
      boolean reported = errors.stream().anyMatch(e -> e.field().equals(field));
      if (!reported && !(field.equals("name") && name == null)) {
        errors.add(new FieldError(field, p.substring(colon + 2)));
      }
    }
    if (!errors.isEmpty()) {
      throw new InvalidSubmissionException(errors);
    }
    return new Queue(name, weight, limits);
  }
}
