package dev.stowage.app.service;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import dev.stowage.scheduler.RetryPolicy;
import dev.stowage.scheduler.StagedOutput;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TraceContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Tasks as JSON: what clients send (one task, or {@code {"tasks": [...]}} for a DAG) and what the
 * API returns. Resources use the workload files' field names. Unknown fields are errors.
 */
final class TaskJson {
  static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
          .serializationInclusion(JsonInclude.Include.NON_NULL)
          .build();

  private TaskJson() {}

  record RetryRequest(Integer maxAttempts, Double backoffSeconds, Double maxBackoffSeconds) {}

  record TaskRequest(
      String id,
      String name,
      List<String> command,
      Map<String, String> env,
      Long cpuMillis,
      Long memoryMiB,
      Long diskMiB,
      Long gpus,
      Map<String, String> constraints,
      Integer priority,
      List<String> dependsOn,
      RetryRequest retry,
      Double timeoutSeconds,
      Map<String, String> labels,
      List<InputRequest> inputs,
      List<InputRequest> outputs) {}

  /** An input ({@code source} a URI, {@code destination} in the work directory) or an output. */
  record InputRequest(String source, String destination) {}

  record Batch(List<TaskRequest> tasks) {}

  /**
   * Specs from a request body, with the field errors found in it. Where a field is wrong the spec
   * carries a stand-in value, so that the batch can still be checked as a whole; a submission with
   * any error is never stored.
   */
  record Parsed(List<TaskSpec> specs, List<FieldError> errors) {}

  /** Parses a request body; throws only when the body is not a task or batch at all. */
  static Parsed parseSubmission(
      String body, TraceContext trace, AllowedSources allowed, AllowedSources allowedOutputs) {
    JsonNode root;
    try {
      root = MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      throw invalid("body", "not JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw invalid("body", "expected a task object, or {\"tasks\": [...]} for a batch");
    }
    List<TaskRequest> requests;
    String prefix;
    try {
      if (root.has("tasks")) {
        requests = MAPPER.treeToValue(root, Batch.class).tasks();
        prefix = "tasks";
      } else {
        requests = List.of(MAPPER.treeToValue(root, TaskRequest.class));
        prefix = null;
      }
    } catch (JsonMappingException e) {
      throw invalid(path(e), e.getOriginalMessage());
    } catch (JsonProcessingException e) {
      throw invalid("body", e.getOriginalMessage());
    }
    var errors = new ArrayList<FieldError>();
    var specs = new ArrayList<TaskSpec>();
    for (int i = 0; i < requests.size(); i++) {
      String at = prefix == null ? "" : prefix + "[" + i + "].";
      TaskRequest r = requests.get(i);
      if (r == null) {
        errors.add(new FieldError(prefix + "[" + i + "]", "must be a task object"));
        continue;
      }
      try {
        specs.add(toSpec(r, at, i, trace, allowed, allowedOutputs, errors));
      } catch (RuntimeException e) {
        errors.add(
            new FieldError(
                at.isEmpty() ? "task" : at.substring(0, at.length() - 1), e.getMessage()));
      }
    }
    return new Parsed(specs, errors);
  }

  private static TaskSpec toSpec(
      TaskRequest r,
      String at,
      int index,
      TraceContext trace,
      AllowedSources allowed,
      AllowedSources allowedOutputs,
      List<FieldError> errors) {
    if (r.id() == null || r.id().isBlank()) {
      errors.add(new FieldError(at + "id", "required"));
    }
    if (r.command() == null) {
      errors.add(new FieldError(at + "command", "required: the program and its arguments"));
    }
    long[] amounts = new long[4];
    Long[] given = {r.cpuMillis(), r.memoryMiB(), r.diskMiB(), r.gpus()};
    for (int d = 0; d < 4; d++) {
      long v = given[d] == null ? 0 : given[d];
      if (v < 0 || v > Resources.MAX_AMOUNT) {
        errors.add(
            new FieldError(
                at + Resources.DIMENSIONS[d], "must be an integer in [0, 2^53], got " + v));
        v = 0;
      }
      amounts[d] = v;
    }
    RetryPolicy retry = RetryPolicy.NONE;
    if (r.retry() != null) {
      var rr = r.retry();
      int max = rr.maxAttempts() == null ? 1 : rr.maxAttempts();
      if (max < 1) {
        errors.add(new FieldError(at + "retry.maxAttempts", "must be at least 1, got " + max));
        max = 1;
      }
      retry =
          new RetryPolicy(
              max,
              seconds(rr.backoffSeconds(), at + "retry.backoffSeconds", errors),
              seconds(rr.maxBackoffSeconds(), at + "retry.maxBackoffSeconds", errors));
    }
    Duration timeout =
        r.timeoutSeconds() == null
            ? null
            : seconds(r.timeoutSeconds(), at + "timeoutSeconds", errors);
    if (r.timeoutSeconds() != null && timeout.isZero()) {
      errors.add(new FieldError(at + "timeoutSeconds", "must be positive"));
      timeout = null;
    }
    var inputs =
        pairs(
            r.inputs(),
            at + "inputs",
            dev.stowage.scheduler.StagedInput::new,
            in -> in.problems(allowed),
            errors);
    var outputs =
        pairs(
            r.outputs(),
            at + "outputs",
            StagedOutput::new,
            out -> out.problems(allowedOutputs),
            errors);
    return new TaskSpec(
        r.id() == null || r.id().isBlank() ? "missing-id-" + index : r.id(),
        r.name(),
        r.command() == null ? List.of("missing-command") : r.command(),
        r.env(),
        new Resources(amounts[0], amounts[1], amounts[2], amounts[3]),
        r.constraints(),
        r.priority() == null ? 0 : r.priority(),
        r.dependsOn(),
        retry,
        timeout,
        r.labels(),
        trace,
        inputs,
        outputs,
        null);
  }

  /** Each {source, destination} pair of a list, made a T, with every field error it has. */
  private static <T> List<T> pairs(
      List<InputRequest> given,
      String field,
      java.util.function.BiFunction<String, String, T> make,
      java.util.function.Function<T, Map<String, String>> problems,
      List<FieldError> errors) {
    var out = new ArrayList<T>();
    for (int j = 0; given != null && j < given.size(); j++) {
      InputRequest pair = given.get(j);
      String at = field + "[" + j + "]";
      if (pair == null || pair.source() == null || pair.destination() == null) {
        errors.add(new FieldError(at, "needs a source and a destination"));
        continue;
      }
      T made = make.apply(pair.source(), pair.destination());
      problems.apply(made).forEach((k, v) -> errors.add(new FieldError(at + "." + k, v)));
      out.add(made);
    }
    return out;
  }

  private static Duration seconds(Double s, String field, List<FieldError> errors) {
    if (s == null) {
      return Duration.ZERO;
    }
    if (s < 0 || s.isNaN() || s.isInfinite() || s > 1e9) {
      errors.add(new FieldError(field, "must be a number of seconds in [0, 1e9], got " + s));
      return Duration.ZERO;
    }
    return Duration.ofNanos((long) (s * 1e9));
  }

  /** The task as the API shows it. */
  static Map<String, Object> view(StoredTask t) {
    var out = new LinkedHashMap<String, Object>();
    TaskSpec s = t.spec();
    out.put("id", s.id());
    out.put("name", s.name());
    out.put("state", t.state().label());
    out.put("attempt", t.attempt());
    if (t.offer() != null) {
      out.put("offer", t.offer());
    }
    out.put("command", s.command());
    out.put("priority", s.priority());
    for (int d = 0; d < 4; d++) {
      out.put(Resources.DIMENSIONS[d], s.resources().get(d));
    }
    out.put("constraints", s.constraints());
    out.put("dependsOn", s.dependsOn());
    out.put("pendingDependencies", t.pendingDependencies());
    if (t.neverSchedulable() != null) {
      out.put("neverSchedulable", t.neverSchedulable());
    }
    out.put("maxAttempts", s.retry().maxAttempts());
    if (s.timeout() != null) {
      out.put("timeoutSeconds", s.timeout().toMillis() / 1000.0);
    }
    out.put("labels", s.labels());
    if (!s.outputs().isEmpty()) {
      out.put("outputs", s.outputs());
    }
    if (!s.inputs().isEmpty()) {
      out.put("inputs", s.inputs());
    }
    if (t.lastError() != null) {
      out.put("lastError", t.lastError());
    }
    if (s.trace() != null && s.trace().traceId() != null) {
      // Its attempts' spans are in this trace: /api/traces/{traceId}.
      out.put("traceId", s.trace().traceId());
    }
    out.put("submittedAt", t.submittedAt().toString());
    out.put("updatedAt", t.updatedAt().toString());
    if (t.notBefore() != null) {
      out.put("notBefore", t.notBefore().toString());
    }
    return out;
  }

  static Map<String, Object> errors(List<FieldError> errors) {
    return Map.of(
        "error",
        "invalid request",
        "fields",
        errors.stream()
            .map(e -> Map.of("field", e.field(), "message", e.message()))
            .collect(Collectors.toList()));
  }

  private static InvalidSubmissionException invalid(String field, String message) {
    return new InvalidSubmissionException(List.of(new FieldError(field, message)));
  }

  /** {@code tasks[2].cpu} from Jackson's path of the failure. */
  private static String path(JsonMappingException e) {
    var sb = new StringBuilder();
    for (JsonMappingException.Reference ref : e.getPath()) {
      if (ref.getIndex() >= 0) {
        sb.append('[').append(ref.getIndex()).append(']');
      } else if (ref.getFieldName() != null) {
        if (!sb.isEmpty()) {
          sb.append('.');
        }
        sb.append(ref.getFieldName());
      }
    }
    return sb.isEmpty() ? "body" : sb.toString();
  }
}
