package dev.stowage.scheduler;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One result a task leaves in its work directory, copied out after its process exits with 0 and
 * before the task counts as succeeded.
 *
 * @param source a file or directory, relative to the attempt's work directory; never outside it
 * @param destination {@code file:///absolute/path} or {@code s3://bucket/key} ({@code
 *     s3://bucket/prefix/} for a directory's files)
 */
public record StagedOutput(String source, String destination) {
  public StagedOutput {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(destination, "destination");
  }

  /** What is wrong with this output, by field ({@code source}, {@code destination}). */
  public Map<String, String> problems() {
    var out = new LinkedHashMap<String, String>();
    String problem = StagedInput.destinationProblem(source);
    if (problem != null) {
      out.put("source", problem);
    }
    problem = StagedInput.sourceProblem(destination);
    if (problem != null) {
      out.put("destination", problem);
    }
    return out;
  }

  /**
   * As {@link #problems()}, and, for a well-formed destination, whether {@code allowed} allows it.
   */
  public Map<String, String> problems(AllowedSources allowed) {
    var out = problems();
    if (!out.containsKey("destination")) {
      String refused = allowed.problem(destinationLocation());
      if (refused != null) {
        out.put("destination", refused);
      }
    }
    return out;
  }

  /** The destination as a location {@link AllowedSources} can check, and its parts read. */
  public StagedInput destinationLocation() {
    return new StagedInput(destination, "x");
  }
}
