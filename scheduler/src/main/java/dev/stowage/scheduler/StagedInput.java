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
 * @param source {@code file:///absolute/path}, a file or a directory (copied whole); or {@code
 *     s3://bucket/key}, one object, or {@code s3://bucket/prefix/} (ending in a slash), every
 *     object under the prefix, their keys below it becoming paths below the destination
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
    String problem = sourceProblem(source);
    if (problem != null) {
      out.put("source", problem);
    }
    problem = destinationProblem(destination);
    if (problem != null) {
      out.put("destination", problem);
    }
    return out;
  }

  /** As {@link #problems()}, and, for a well-formed source, whether {@code allowed} allows it. */
  public Map<String, String> problems(AllowedSources allowed) {
    var out = problems();
    if (!out.containsKey("source")) {
      String refused = allowed.problem(this);
      if (refused != null) {
        out.put("source", refused);
      }
    }
    return out;
  }

  /** True for an {@code s3://} source. Call only when {@link #problems()} is empty. */
  public boolean fromS3() {
    return source.startsWith("s3://");
  }

  /** The source as a local path; call only for a valid {@code file://} source. */
  public Path sourcePath() {
    return Path.of(URI.create(source));
  }

  /** The bucket of a valid {@code s3://} source. */
  public String bucket() {
    String rest = source.substring("s3://".length());
    int slash = rest.indexOf('/');
    return slash < 0 ? rest : rest.substring(0, slash);
  }

  /** The key (or prefix, when it ends in a slash or is empty) of a valid {@code s3://} source. */
  public String key() {
    String rest = source.substring("s3://".length());
    int slash = rest.indexOf('/');
    return slash < 0 ? "" : rest.substring(slash + 1);
  }

  /** True when a valid {@code s3://} source names every object under a prefix. */
  public boolean namesPrefix() {
    return key().isEmpty() || key().endsWith("/");
  }

  static String sourceProblem(String source) {
    if (source.startsWith("s3://")) {
      String rest = source.substring("s3://".length());
      int slash = rest.indexOf('/');
      String bucket = slash < 0 ? rest : rest.substring(0, slash);
      // S3's bucket naming rules, in short: 3-63 lower-case letters, digits, dots and hyphens.
      if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
        return "must be s3://bucket/key with a valid bucket name (3-63 characters: a-z, 0-9, '.',"
            + " '-'), got '"
            + source
            + "'";
      }
      String key = slash < 0 ? "" : rest.substring(slash + 1);
      for (String part : key.split("/")) {
        if (part.equals("..") || part.equals(".")) {
          return "an S3 key may not have '.' or '..' segments (they would be paths below the"
              + " destination), got '"
              + source
              + "'";
        }
      }
      return null;
    }
    try {
      URI uri = new URI(source);
      if (uri.getScheme() == null || !uri.getScheme().equals("file")) {
        return "must be a file:///absolute/path or s3://bucket/key URI, got '" + source + "'";
      }
      if (uri.getPath() == null || !uri.getPath().startsWith("/") || uri.getAuthority() != null) {
        return "must be file:///absolute/path, got '" + source + "'";
      }
      return null;
    } catch (URISyntaxException e) {
      return "not a URI: " + e.getMessage();
    }
  }

  static String destinationProblem(String destination) {
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
