package dev.stowage.scheduler;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where inputs may come from: local directories ({@code file:///data/}) and S3 buckets or prefixes
 * ({@code s3://bucket} or {@code s3://bucket/prefix/}). A task whose input lies elsewhere is
 * refused at submit, naming the input; the stager checks again, through symbolic links, when it
 * copies. With nothing allowed (the default, like Nomad's file sandbox) every input is refused. The
 * same kind of list says where outputs may go ({@link #forOutputs}); its messages say so.
 */
public final class AllowedSources {
  /** What a list allows, in the words its messages use. */
  private record Kind(String entry, String things, String places, String flag) {}

  private static final Kind INPUTS = new Kind("source", "inputs", "sources", "--allow-source");
  private static final Kind OUTPUTS =
      new Kind("output", "outputs", "output locations", "--allow-output");

  private final Kind kind;
  private final List<String> given;
  private final List<Path> roots = new ArrayList<>();
  private final List<StagedInput> s3 = new ArrayList<>(); // s3://bucket/prefix/ (or no prefix)

  private AllowedSources(Kind kind, List<String> given) {
    this.kind = kind;
    this.given = List.copyOf(given);
  }

  /**
   * Where inputs may come from.
   *
   * @throws IllegalArgumentException naming the entry that is neither a file:/// directory nor an
   *     s3:// bucket
   */
  public static AllowedSources of(List<String> entries) {
    return parse(INPUTS, entries);
  }

  /** Where outputs may go, the entries read as {@link #of} reads them. */
  public static AllowedSources forOutputs(List<String> entries) {
    return parse(OUTPUTS, entries);
  }

  private static AllowedSources parse(Kind kind, List<String> entries) {
    var out = new AllowedSources(kind, entries);
    for (String entry : entries) {
      if (entry.startsWith("s3://")) {
        var probe = new StagedInput(entry, "x");
        if (probe.problems().containsKey("source")) {
          throw new IllegalArgumentException(
              "allowed " + kind.entry() + " '" + entry + "': " + probe.problems().get("source"));
        }
        String prefix = probe.key();
        out.s3.add(
            new StagedInput(
                "s3://"
                    + probe.bucket()
                    + "/"
                    + (prefix.isEmpty() || prefix.endsWith("/") ? prefix : prefix + "/"),
                "x"));
      } else if (entry.startsWith("file:///")) {
        out.roots.add(Path.of(URI.create(entry)).normalize());
      } else if (entry.startsWith("/")) {
        out.roots.add(Path.of(entry).normalize());
      } else {
        throw new IllegalArgumentException(
            "allowed "
                + kind.entry()
                + " '"
                + entry
                + "' must be a file:///directory (or an absolute path) or s3://bucket[/prefix/]");
      }
    }
    return out;
  }

  public static AllowedSources none() {
    return new AllowedSources(INPUTS, List.of());
  }

  /** Why this (well-formed) input may not be staged, or null when it may. */
  public String problem(StagedInput input) {
    if (input.fromS3()) {
      for (StagedInput allowed : s3) {
        if (allowed.bucket().equals(input.bucket()) && input.key().startsWith(allowed.key())) {
          return null;
        }
      }
      return refusal(input);
    }
    return allows(input.sourcePath().normalize()) ? null : refusal(input);
  }

  /** True when {@code path} (already resolved, or lexically normalized) lies under a root. */
  public boolean allows(Path path) {
    for (Path root : roots) {
      if (path.startsWith(root)) {
        return true;
      }
    }
    return false;
  }

  /**
   * True when {@code real}, a path with its links resolved, lies under an allowed root, itself
   * resolved: a link inside an allowed directory may not lead out of it.
   */
  public boolean allowsResolved(Path real) {
    for (Path root : roots) {
      try {
        if (real.startsWith(root.toRealPath())) {
          return true;
        }
      } catch (java.io.IOException e) {
        // a root that does not exist allows nothing
      }
    }
    return false;
  }

  private String refusal(StagedInput input) {
    return given.isEmpty()
        ? kind.things()
            + " are not allowed from anywhere on this scheduler: start it with "
            + kind.flag()
            + " (a file:/// directory or an s3:// bucket), got '"
            + input.source()
            + "'"
        : "is outside " + description() + ", got '" + input.source() + "'";
  }

  /** "the allowed sources [...]", for messages. */
  public String description() {
    return "the allowed " + kind.places() + " " + given;
  }
}
