package dev.stowage.app.service;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import dev.stowage.scheduler.TaskSpec;
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

  /**
   * Reads a request body that is not a submission (a token, a queue): a key given twice is an error
   * naming it, never the last one silently winning.
   */
  private static final com.fasterxml.jackson.databind.ObjectReader STRICT_READER =
      MAPPER.reader().with(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION);

  /**
   * A request body that is not a submission (a token, a queue) as a tree: a key given twice is an
   * error naming that key, never the last one silently winning; text that is not JSON is an error
   * of the body.
   */
  static com.fasterxml.jackson.databind.JsonNode readStrict(String body) {
    try {
      return STRICT_READER.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      var twice =
          java.util.regex.Pattern.compile("Duplicate field '(.*)'").matcher(e.getOriginalMessage());
      throw new dev.stowage.scheduler.InvalidSubmissionException(
          List.of(
              twice.find()
                  ? new FieldError(twice.group(1), "given twice")
                  : new FieldError("body", "not JSON: " + e.getOriginalMessage())));
    }
  }

  private TaskJson() {}

  /**
   * Specs from a request body, with the field errors found in it. Where a field is wrong the spec
   * carries a stand-in value, so that the batch can still be checked as a whole; a submission with
   * any error is never stored.
   *
   * @param at for each spec, the task in the body it came from ({@code tasks[3]}), for errors found
   *     later: an array's tasks all name the one that asked for them
   */
  record Parsed(List<TaskSpec> specs, List<String> at, List<FieldError> errors) {}

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
