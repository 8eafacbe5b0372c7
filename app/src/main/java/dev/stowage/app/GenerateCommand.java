package dev.stowage.app;

import dev.stowage.workload.Workload;
import dev.stowage.workload.WorkloadFiles;
import dev.stowage.workload.WorkloadGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = "Write a realistic generated workload: DIR/tasks.jsonl and DIR/offers.jsonl.")
final class GenerateCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--tasks", required = true, description = "Number of tasks.")
  int tasks;

  @Option(names = "--offers", required = true, description = "Number of offers (one per node).")
  int offers;

  @Option(
      names = "--seed",
      defaultValue = "1",
      description = "Random seed (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--out", required = true, description = "Directory to write into (created).")
  Path out;

  @Override
  public Integer call() throws Exception {
    if (tasks < 0) {
      throw new ParameterException(spec.commandLine(), "--tasks must not be negative: " + tasks);
    }
    if (offers < 0) {
      throw new ParameterException(spec.commandLine(), "--offers must not be negative: " + offers);
    }
    if (Files.exists(out) && !Files.isDirectory(out)) {
      throw new IllegalArgumentException(out + ": exists and is not a directory");
    }
    Files.createDirectories(out);
    Workload w = WorkloadGenerator.generate(tasks, offers, seed);
    Path taskFile = out.resolve("tasks.jsonl");
    Path offerFile = out.resolve("offers.jsonl");
    WorkloadFiles.writeTasks(taskFile, w.tasks());
    WorkloadFiles.writeOffers(offerFile, w.offers());
    spec.commandLine()
        .getOut()
        .printf(
            "wrote %d tasks to %s and %d offers to %s (seed %d)%n",
            tasks, taskFile, offers, offerFile, seed);
    return 0;
  }
}
