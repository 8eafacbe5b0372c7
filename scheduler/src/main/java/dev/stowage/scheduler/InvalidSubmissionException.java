package dev.stowage.scheduler;

import java.util.List;
import java.util.stream.Collectors;

/** A submission that was refused, with every problem found, each naming its field. */
public final class InvalidSubmissionException extends RuntimeException {
  /** One problem: {@code field} is a path such as {@code tasks[2].dependsOn[0]}. */
  public record FieldError(String field, String message) {
    @Override
    public String toString() {
      return field + ": " + message;
    }
  }

  private final List<FieldError> errors;

  public InvalidSubmissionException(List<FieldError> errors) {
    super(errors.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
    this.errors = List.copyOf(errors);
  }

  public List<FieldError> errors() {
    return errors;
  }
}
