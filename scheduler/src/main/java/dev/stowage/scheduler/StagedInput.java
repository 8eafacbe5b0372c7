package dev.stowage.scheduler;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One input a task needs in its work directory before it starts: copied from {@code source} to
 * {@code destination}, a path relative to the work directory.
 *
 * @param source {@code file:///absolute/path}, a file or a directory (copied whole)
 * @param destination where it lands, relative to the attempt's work directory; never outside it
 */
public record StagedInput(String source, String destination) {
  public StagedInput {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(destination, "destination");
  }

  /** What is wrong with this input, by field ({@code source}, {@code destination}); empty if ok. */
  public Map<String, String> problems() {
    var out = new LinkedHashMap<String, String>();
    try {
      URI uri = new URI(source);
      if (uri.getScheme() == null || !uri.getScheme().equals("file")) {
        out.put(
            "source",
            "must be a file:///absolute/path URI (other schemes such as s3:// are not staged"
                + " yet), got '"
                + source
                + "'");
      } else if (uri.getPath() == null
          || !uri.getPath().startsWith("/")
          || uri.getAuthority() != null) {
        out.put("source", "must be file:///absolute/path, got '" + source + "'");
      }
    } catch (URISyntaxException e) {
      out.put("source", "not a URI: " + e.getMessage());
    }
    String problem = destinationProblem(destination);
    if (problem != null) {
      out.put("destination", problem);
    }
    return out;
  }

  /** The source as a local path; call only when {@link #problems()} is empty. */
  public Path sourcePath() {
    return Path.of(URI.create(source));
  }

  private static String destinationProblem(String destination) {
    if (destination.isBlank() || destination.indexOf('\0') >= 0) {
      return "must be a non-empty path relative to the task's work directory";
    }
    if (destination.startsWith("/")) {
      return "must be relative to the task's work directory, got the absolute path '"
          + destination
          + "'";
    }
    for (String part : destination.split("/")) {
      if (part.equals("..")) {
        return "must stay inside the task's work directory: '..' is not allowed, got '"
            + destination
            + "'";
      }
    }
    Path p = Path.of(destination).normalize();
    if (p.toString().isEmpty() || p.toString().equals(".")) {
      return "must name a file or directory inside the work directory, got '" + destination + "'";
    }
    return null;
  }
}
