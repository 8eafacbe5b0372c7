package dev.stowage.app;

import dev.stowage.engine.Explanation;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Scorer;
import dev.stowage.workload.Workload;
import dev.stowage.workload.WorkloadFiles;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "match",
    mixinStandardHelpOptions = true,
    description = {
      "Match tasks to offers by exact greedy best fit (MATCHING.md).",
      "Writes assignments as JSON Lines in task order (to --out, or to standard output) and one"
          + " summary line with matched=K and match_ms=X (matching only: no JVM start, no parsing)."
    })
final class MatchCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--tasks", required = true, description = "Tasks file (JSON Lines).")
  Path tasks;

  @Option(names = "--offers", required = true, description = "Offers file (JSON Lines).")
  Path offers;

  @Option(
      names = "--mode",
      required = true,
      converter = ModeConverter.class,
      description = "consume: an offer takes one task; pack: offers take tasks while they fit.")
  MatchMode mode;

  @Option(
      names = "--scorer",
      defaultValue = "tightest-fit",
      converter = ScorerConverter.class,
      description =
          "tightest-fit (the contract), bin-packing or spread. Default: ${DEFAULT-VALUE}.")
  Scorer scorer;

  @Option(
      names = "--matcher",
      defaultValue = "fast",
      description = "fast (default) or reference (the plain loop, for checking).")
  String matcher;

  @Option(names = "--out", description = "Write assignments here instead of standard output.")
  Path out;

  @Option(names = "--explain", description = "Say why unassigned tasks fit no offer.")
  boolean explain;

  @Option(
      names = "--explain-limit",
      defaultValue = "20",
      description =
          "With --explain, explain at most this many unassigned tasks (0: all; each costs a pass"
              + " over the offers). Default: ${DEFAULT-VALUE}.")
  int explainLimit;

  @Option(
      names = "--warmups",
      defaultValue = "0",
      description =
          "Match this many times first, untimed, so that match_ms shows the JIT-compiled engine"
              + " rather than a cold JVM. Default: ${DEFAULT-VALUE}.")
  int warmups;

  @Override
  public Integer call() throws Exception {
    Matcher m =
        switch (matcher) {
          case "fast" -> Matcher.fast(scorer);
          case "reference" -> Matcher.reference(scorer);
          default ->
              throw new picocli.CommandLine.ParameterException(
                  spec.commandLine(), "--matcher must be fast or reference, got '" + matcher + "'");
        };
    if (explainLimit < 0) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--explain-limit must not be negative: " + explainLimit);
    }
    if (warmups < 0) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--warmups must not be negative: " + warmups);
    }
    Workload w = WorkloadFiles.read(tasks, offers);
    for (int i = 0; i < warmups; i++) {
      m.match(w.tasks(), w.offers(), mode);
    }

    long t0 = System.nanoTime();
    MatchResult result = m.match(w.tasks(), w.offers(), mode);
    double matchMs = (System.nanoTime() - t0) / 1e6;

    // With assignments on standard output, everything else goes to standard error.
    PrintWriter report = out == null ? spec.commandLine().getErr() : spec.commandLine().getOut();
    if (out == null) {
      WorkloadFiles.writeAssignments(spec.commandLine().getOut(), result.assignments());
    } else {
      try (Writer file = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
        WorkloadFiles.writeAssignments(file, result.assignments());
      }
    }
    report.println(
        String.format(
            Locale.ROOT,
            "matched=%d unassigned=%d tasks=%d offers=%d mode=%s scorer=%s matcher=%s match_ms=%.1f",
            result.matchedCount(),
            result.taskCount() - result.matchedCount(),
            w.tasks().size(),
            w.offers().size(),
            mode.label(),
            scorer.label(),
            matcher,
            matchMs));
    if (explain) {
      int unassigned = result.taskCount() - result.matchedCount();
      int limit = explainLimit == 0 ? Integer.MAX_VALUE : explainLimit;
      List<Explanation> explained = result.explainUnassigned(limit);
      for (Explanation e : explained) {
        report.println("unassigned " + e.task() + ": " + e.message());
      }
      if (explained.size() < unassigned) {
        report.printf(
            Locale.ROOT,
            "%d more unassigned tasks not explained (--explain-limit 0 explains all)%n",
            unassigned - explained.size());
      }
    }
    report.flush();
    return 0;
  }

  static final class ModeConverter implements picocli.CommandLine.ITypeConverter<MatchMode> {
    @Override
    public MatchMode convert(String value) {
      try {
        return MatchMode.parse(value);
      } catch (IllegalArgumentException e) {
        throw new picocli.CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  static final class ScorerConverter implements picocli.CommandLine.ITypeConverter<Scorer> {
    @Override
    public Scorer convert(String value) {
      try {
        return Scorer.parse(value);
      } catch (IllegalArgumentException e) {
        throw new picocli.CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
