package dev.stowage.app;

import dev.stowage.engine.Assignment;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Scorer;
import dev.stowage.workload.Workload;
import dev.stowage.workload.WorkloadFiles;
import dev.stowage.workload.WorkloadGenerator;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs matchers side by side on the same generated workloads and prints one table: the talk's loop
 * in Python, the same loop in Java (the reference matcher), and the fast matcher. Slow peers run
 * only where their pair count says they finish in minutes. Every peer's assignments are compared
 * with the fast matcher's.
 */
final class SideBySide {

  /** What to run. Sizes are (tasks, offers) pairs. */
  record Options(
      List<int[]> sizes,
      List<MatchMode> modes,
      Scorer scorer,
      long seed,
      int warmups,
      long warmupMillis,
      int runs,
      long pythonMaxPairs,
      long referenceMaxPairs,
      String python) {}

  private record Row(
      String size,
      String mode,
      String peer,
      int runs,
      double medianMs,
      int matched,
      long offersUsed,
      String agree) {}

  private final Options options;
  private final PrintWriter out;

  SideBySide(Options options, PrintWriter out) {
    this.options = options;
    this.out = out;
  }

  public void run() throws IOException, InterruptedException {
    out.printf(
        "# stowage bench: scorer=%s seed=%d warmups=%d (at least %d ms) runs=%d java=%s cores=%d"
            + " maxHeap=%dMiB%n",
        options.scorer().label(),
        options.seed(),
        options.warmups(),
        options.warmupMillis(),
        options.runs(),
        System.getProperty("java.version"),
        Runtime.getRuntime().availableProcessors(),
        Runtime.getRuntime().maxMemory() >> 20);
    var rows = new ArrayList<Row>();
    for (int[] size : options.sizes()) {
      int n = size[0];
      int m = size[1];
      String label = n + "x" + m;
      Workload w = WorkloadGenerator.generate(n, m, options.seed());
      long pairs = (long) n * m;
      Path dir = null;
      for (MatchMode mode : options.modes()) {
        Matcher fast = Matcher.fast(options.scorer());
        // Warm up by count and by time: a few runs of a small workload end before the JIT has
        // compiled the search, and the table would then time the interpreter.
        MatchResult fastResult = null;
        long warmupEnd = System.nanoTime() + options.warmupMillis() * 1_000_000L;
        for (int i = 0; i < options.warmups() || System.nanoTime() < warmupEnd; i++) {
          fastResult = fast.match(w.tasks(), w.offers(), mode);
        }
        double[] fastMs = new double[options.runs()];
        for (int i = 0; i < options.runs(); i++) {
          long t0 = System.nanoTime();
          fastResult = fast.match(w.tasks(), w.offers(), mode);
          fastMs[i] = (System.nanoTime() - t0) / 1e6;
        }
        List<Assignment> expected = fastResult.assignments();
        double fastMedian = median(fastMs);
        rows.add(
            new Row(
                label,
                mode.label(),
                "fast",
                fastMs.length,
                fastMedian,
                expected.size(),
                offersUsed(expected),
                "-"));
        progress(rows.getLast(), fastMedian);

        if (pairs <= options.referenceMaxPairs()) {
          Matcher reference = Matcher.reference(options.scorer());
          int runs = pairs > 100_000_000L ? 1 : 3;
          double[] ms = new double[runs];
          List<Assignment> got = List.of();
          for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            got = reference.match(w.tasks(), w.offers(), mode).assignments();
            ms[i] = (System.nanoTime() - t0) / 1e6;
          }
          rows.add(
              new Row(
                  label,
                  mode.label(),
                  "java-loop",
                  runs,
                  median(ms),
                  got.size(),
                  offersUsed(got),
                  got.equals(expected) ? "yes" : "NO"));
          progress(rows.getLast(), fastMedian);
        }

        if (options.python() != null
            && pairs <= options.pythonMaxPairs()
            && options.scorer() == Scorer.TIGHTEST_FIT) {
          if (dir == null) {
            dir = Files.createTempDirectory("stowage-bench");
            WorkloadFiles.writeTasks(dir.resolve("tasks.jsonl"), w.tasks());
            WorkloadFiles.writeOffers(dir.resolve("offers.jsonl"), w.offers());
          }
          Row row = python(dir, label, mode, expected);
          if (row != null) {
            rows.add(row);
            progress(row, fastMedian);
          }
        }
      }
      if (dir != null) {
        deleteTree(dir);
      }
    }
    out.println();
    printTable(rows);
    out.flush();
  }

  private Row python(Path dir, String label, MatchMode mode, List<Assignment> expected)
      throws IOException, InterruptedException {
    Path script = dir.resolve("talk_loop.py");
    try (InputStream in = SideBySide.class.getResourceAsStream("talk_loop.py")) {
      Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    Path result = dir.resolve("assignments-python.jsonl");
    Process p;
    try {
      p =
          new ProcessBuilder(
                  options.python(),
                  script.toString(),
                  dir.resolve("tasks.jsonl").toString(),
                  dir.resolve("offers.jsonl").toString(),
                  mode.label(),
                  result.toString())
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      out.println("# python peer skipped: cannot start '" + options.python() + "'");
      return null;
    }
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(1, TimeUnit.HOURS) || p.exitValue() != 0) {
      out.println("# python peer failed: " + output.strip());
      return null;
    }
    var matcher = Pattern.compile("match_ms=([0-9.]+)").matcher(output);
    if (!matcher.find()) {
      out.println("# python peer printed no match_ms: " + output.strip());
      return null;
    }
    List<Assignment> got;
    try {
      got = WorkloadFiles.readAssignments(result);
    } catch (dev.stowage.workload.WorkloadException e) {
      out.println("# python peer wrote bad output: " + e.getMessage());
      return null;
    }
    return new Row(
        label,
        mode.label(),
        "python-loop",
        1,
        Double.parseDouble(matcher.group(1)),
        got.size(),
        offersUsed(got),
        got.equals(expected) ? "yes" : "NO");
  }

  private void progress(Row row, double fastMedian) {
    out.printf(
        "# %s %s %s: %.1f ms (x%.1f of fast)%n",
        row.size(), row.mode(), row.peer(), row.medianMs(), row.medianMs() / fastMedian);
    out.flush();
  }

  private static long offersUsed(List<Assignment> assignments) {
    return assignments.stream().map(Assignment::offer).distinct().count();
  }

  private void printTable(List<Row> rows) {
    out.printf(
        "%-16s %-8s %-12s %5s %12s %10s %9s %11s %6s%n",
        "tasks x offers",
        "mode",
        "matcher",
        "runs",
        "median ms",
        "vs fast",
        "matched",
        "offers used",
        "agree");
    double fast = 0;
    for (Row r : rows) {
      if (r.peer().equals("fast")) {
        fast = r.medianMs();
      }
      out.printf(
          "%-16s %-8s %-12s %5d %12.1f %10s %9d %11d %6s%n",
          r.size(),
          r.mode(),
          r.peer(),
          r.runs(),
          r.medianMs(),
          r.peer().equals("fast") ? "1" : String.format("x%.0f", r.medianMs() / fast),
          r.matched(),
          r.offersUsed(),
          r.agree());
    }
  }

  static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  private static void deleteTree(Path dir) throws IOException {
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        Files.deleteIfExists(f);
      }
    }
    Files.deleteIfExists(dir);
  }
}
