package dev.stowage.app.service;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Tasks as the API returns them (what clients send is read by {@link SubmissionReader}). Resources
 * use the workload files' field names.
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

  /**
   * Specs from a request body, with the field errors found in it. Where a field is wrong the spec
   * carries a stand-in value, so that the batch can still be checked as a whole; a submission with
   * any error is never stored.
   */
  record Parsed(List<TaskSpec> specs, List<FieldError> errors) {}

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
}
