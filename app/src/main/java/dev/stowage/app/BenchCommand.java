package dev.stowage.app;

import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Scorer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = {
      "Run matchers side by side on generated workloads; print medians and ratios.",
      "Peers: the talk's loop in Python, the same loop in Java (the reference matcher), and the"
          + " fast matcher. Slow peers run only up to their --*-max-pairs."
    })
final class BenchCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--sizes",
      defaultValue = "10000x2000,20000x20000,100000x100000,1000000x100000",
      split = ",",
      description = "TASKSxOFFERS sizes. Default: ${DEFAULT-VALUE}.")
  List<String> sizes;

  @Option(
      names = "--modes",
      defaultValue = "consume,pack",
      split = ",",
      converter = MatchCommand.ModeConverter.class,
      description = "Default: ${DEFAULT-VALUE}.")
  List<MatchMode> modes;

  @Option(
      names = "--scorer",
      defaultValue = "tightest-fit",
      converter = MatchCommand.ScorerConverter.class,
      description = "Default: ${DEFAULT-VALUE}.")
  Scorer scorer;

  @Option(names = "--seed", defaultValue = "42", description = "Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(
      names = "--warmups",
      defaultValue = "3",
      description = "Untimed runs of the fast matcher first. Default: ${DEFAULT-VALUE}.")
  int warmups;

  @Option(
      names = "--warmup-ms",
      defaultValue = "3000",
      description =
          "Keep warming up until this much time has passed, so the JIT has compiled the search."
              + " Default: ${DEFAULT-VALUE}.")
  long warmupMillis;

  @Option(names = "--runs", defaultValue = "7", description = "Default: ${DEFAULT-VALUE}.")
  int runs;

  @Option(
      names = "--python",
      defaultValue = "python3",
      description =
          "Python interpreter for the talk's loop; 'none' to skip. Default: ${DEFAULT-VALUE}.")
  String python;

  @Option(
      names = "--python-max-pairs",
      defaultValue = "20000000",
      description = "Largest tasks*offers the Python loop runs on. Default: ${DEFAULT-VALUE}.")
  long pythonMaxPairs;

  @Option(
      names = "--loop-max-pairs",
      defaultValue = "400000000",
      description = "Largest tasks*offers the Java loop runs on. Default: ${DEFAULT-VALUE}.")
  long loopMaxPairs;

  @Override
  public Integer call() throws Exception {
    if (runs < 1 || warmups < 0 || warmupMillis < 0) {
      throw new ParameterException(
          spec.commandLine(), "--runs must be at least 1, --warmups and --warmup-ms at least 0");
    }
    var parsed = new ArrayList<int[]>();
    for (String s : sizes) {
      parsed.add(parseSize(s));
    }
    var options =
        new SideBySide.Options(
            parsed,
            modes,
            scorer,
            seed,
            warmups,
            warmupMillis,
            runs,
            pythonMaxPairs,
            loopMaxPairs,
            python.equals("none") ? null : python);
    new SideBySide(options, spec.commandLine().getOut()).run();
    return 0;
  }

  private int[] parseSize(String text) {
    String[] parts = text.trim().toLowerCase(java.util.Locale.ROOT).split("x");
    try {
      if (parts.length == 2) {
        int n = Integer.parseInt(parts[0]);
        int m = Integer.parseInt(parts[1]);
        if (n >= 0 && m >= 0) {
          return new int[] {n, m};
        }
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new ParameterException(
        spec.commandLine(), "--sizes: '" + text + "' is not TASKSxOFFERS, for example 20000x20000");
  }
}
