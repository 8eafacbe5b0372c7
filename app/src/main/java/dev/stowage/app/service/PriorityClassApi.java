package dev.stowage.app.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.access.AccessStore;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import dev.stowage.scheduler.preemption.PriorityClass;
import dev.stowage.scheduler.preemption.PriorityClassStore;
import io.javalin.http.Context;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code /api/priority-classes}: named priorities and their preemption policy, created, changed and
 * deleted by admins and read by anyone with a token.
 */
final class PriorityClassApi {
  private static final List<String> FIELDS = List.of("name", "value", "preempts", "preemptible");

  private final PriorityClassStore classes;
  private final AccessStore access;
  private final Clock clock;

  PriorityClassApi(PriorityClassStore classes, AccessStore access, Clock clock) {
    this.classes = classes;
    this.access = access;
    this.clock = clock;
  }

  void create(Context ctx) {
    PriorityClass pc = parse(ctx.body(), null);
    if (!classes.create(pc)) {
      ctx.status(409).json(Map.of("error", "a priority class named '" + pc.name() + "' exists"));
      return;
    }
    audit(ctx, "priority-class.create", pc);
    ctx.status(201).json(pc);
  }

  void list(Context ctx) {
    ctx.json(Map.of("priorityClasses", classes.list()));
  }

  void get(Context ctx) {
    ctx.json(found(ctx));
  }

  void replace(Context ctx) {
    found(ctx);
    PriorityClass pc = parse(ctx.body(), ctx.pathParam("name"));
    if (!classes.replace(pc)) {
      throw new ServiceApi.NotFound("no priority class named '" + pc.name() + "'");
    }
    audit(ctx, "priority-class.replace", pc);
    ctx.json(pc);
  }

  /** Deleted: the tasks that named it keep their priority and take the default policy. */
  void delete(Context ctx) {
    PriorityClass pc = found(ctx);
    classes.delete(pc.name());
    audit(ctx, "priority-class.delete", pc);
    ctx.json(Map.of("name", pc.name(), "deleted", true));
  }

  private PriorityClass found(Context ctx) {
    String name = ctx.pathParam("name");
    return classes
        .get(name)
        .orElseThrow(() -> new ServiceApi.NotFound("no priority class named '" + name + "'"));
  }

  private void audit(Context ctx, String action, PriorityClass pc) {
    AdminBodies.audit(
        access,
        clock,
        ctx,
        action,
        pc.name(),
        "value "
            + pc.value()
            + ", preempts "
            + pc.preempts()
            + ", preemptible "
            + pc.preemptible());
  }

  /**
   * {@code {"name", "value", "preempts", "preemptible"}}: value required, {@code preempts} false
   * and {@code preemptible} true when left out. With {@code pathName} (a replace) the name may be
   * left out, and must be that name when given. Every problem at once.
   */
  static PriorityClass parse(String body, String pathName) {
    JsonNode root = TaskJson.readStrict(body);
    if (root == null || !root.isObject()) {
      throw new InvalidSubmissionException(
          List.of(
              new FieldError(
                  "body",
                  "expected {\"name\": ..., \"value\": ..., \"preempts\": ..., \"preemptible\":"
                      + " ...}")));
    }
    var errors = new ArrayList<FieldError>();
    root.fieldNames()
        .forEachRemaining(
            f -> {
              if (!FIELDS.contains(f)) {
                errors.add(
                    new FieldError(
                        f, "unknown field (expected " + String.join(", ", FIELDS) + ")"));
              }
            });
    String name = AdminBodies.name(root, pathName, errors);
    if (name != null) {
      for (String p : PriorityClass.problems(name)) {
        errors.add(new FieldError("name", p.substring("name: ".length())));
      }
    }
    int value = 0;
    JsonNode v = root.get("value");
    if (v == null) {
      errors.add(new FieldError("value", "required: the priority its tasks take, an integer"));
    } else if (!v.isIntegralNumber() || !v.canConvertToInt()) {
      errors.add(new FieldError("value", "must be an integer in [-2^31, 2^31-1], got " + v));
    } else {
      value = v.asInt();
    }
    boolean preempts = flag(root, "preempts", PriorityClass.DEFAULT_PREEMPTS, errors);
    boolean preemptible = flag(root, "preemptible", PriorityClass.DEFAULT_PREEMPTIBLE, errors);
    if (!errors.isEmpty()) {
      throw new InvalidSubmissionException(errors);
    }
    return new PriorityClass(name, value, preempts, preemptible);
  }

  private static boolean flag(
      JsonNode root, String field, boolean fallback, List<FieldError> errors) {
    JsonNode f = root.get(field);
    if (f == null) {
      return fallback;
    }
    if (!f.isBoolean()) {
      errors.add(new FieldError(field, "must be true or false, got " + f));
      return fallback;
    }
    return f.asBoolean();
  }
}
