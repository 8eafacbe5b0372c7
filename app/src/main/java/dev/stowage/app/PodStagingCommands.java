package dev.stowage.app;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StagedOutput;
import dev.stowage.staging.ByteCounts;
import dev.stowage.staging.DataMover;
import dev.stowage.staging.S3Storage;
import dev.stowage.staging.StagingException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The two halves of staging inside a Kubernetes pod, run by the Stowage image in the pod's own
 * containers (see docs/design/kubernetes.md): what to move comes from the environment the backend
 * set, the allowed sources and destinations are checked again here, and a failure ends in one line,
 * the last of the container's log, which the kubelet hands back as its termination message.
 */
final class PodStagingCommands {
  private static final ObjectMapper JSON = new ObjectMapper();

  private PodStagingCommands() {}

  @Command(
      name = "stage-in",
      hidden = true,
      description =
          "In an attempt's pod, before the task: copy its inputs (STOWAGE_INPUTS) into the work"
              + " volume, reading only what STOWAGE_ALLOWED_SOURCES allows.")
  static final class In implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--work", required = true, description = "The work volume.")
    Path work;

    @Override
    public Integer call() {
      return run(
          spec,
          "stage-in",
          () -> {
            List<StagedInput> inputs =
                read("STOWAGE_INPUTS", new TypeReference<List<StagedInput>>() {});
            var allowed = allowed("STOWAGE_ALLOWED_SOURCES", AllowedSources::of);
            try (S3Storage storage = storage(inputs.stream().anyMatch(StagedInput::fromS3));
                var mover = new DataMover(8, 0, storage)) {
              return mover.stage(inputs, work, allowed, new DataMover.Listener() {});
            }
          });
    }
  }

  @Command(
      name = "stage-out",
      hidden = true,
      description =
          "In an attempt's pod, beside the task: wait for its exit code, and after a 0 copy its"
              + " outputs (STOWAGE_OUTPUTS) out of the work volume to what"
              + " STOWAGE_ALLOWED_OUTPUTS allows.")
  static final class Out implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--work", required = true, description = "The work volume.")
    Path work;

    @Option(
        names = "--exit-code-file",
        required = true,
        description = "Where the task's container leaves its exit code.")
    Path exitCodeFile;

    @Option(
        names = "--poll-ms",
        defaultValue = "200",
        description = "How often to look for the exit code. Default: ${DEFAULT-VALUE}.")
    long pollMs;

    @Override
    public Integer call() throws InterruptedException {
      while (!Files.exists(exitCodeFile)) {
        Thread.sleep(pollMs);
      }
      String code;
      try {
        code = Files.readString(exitCodeFile).strip();
      } catch (IOException e) {
        spec.commandLine().getErr().println("stowage stage-out: cannot read the exit code: " + e);
        return Main.BAD_INPUT;
      }
      if (!code.equals("0")) {
        // The task failed: nothing to publish, and the pod's failure is the task's own.
        spec.commandLine().getOut().println("the task exited with " + code + ": no outputs copied");
        return 0;
      }
      return run(
          spec,
          "stage-out",
          () -> {
            List<StagedOutput> outputs =
                read("STOWAGE_OUTPUTS", new TypeReference<List<StagedOutput>>() {});
            var allowed = allowed("STOWAGE_ALLOWED_OUTPUTS", AllowedSources::forOutputs);
            boolean s3 = outputs.stream().anyMatch(o -> o.destination().startsWith("s3://"));
            try (S3Storage storage = storage(s3);
                var mover = new DataMover(8, 0, storage)) {
              return mover.collect(outputs, work, allowed, new DataMover.Listener() {});
            }
          });
    }
  }

  private interface Move {
    DataMover.Summary run() throws IOException, StagingException;
  }

  private static int run(picocli.CommandLine.Model.CommandSpec spec, String what, Move move) {
    try {
      DataMover.Summary done = move.run();
      spec.commandLine()
          .getOut()
          .printf(
              "%s: %d file(s), %s; %d already there%n",
              what, done.files(), ByteCounts.human(done.bytes()), done.skipped());
      return 0;
    } catch (StagingException | IOException | IllegalArgumentException e) {
      spec.commandLine().getErr().println(what + ": " + oneLine(e));
      return Main.BAD_INPUT;
    }
  }

  private static String oneLine(Exception e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.replace('\n', ' ');
  }

  private static <T> T read(String variable, TypeReference<T> type) {
    String value = System.getenv(variable);
    if (value == null) {
      throw new IllegalArgumentException(variable + " is not set");
    }
    try {
      return JSON.readValue(value, type);
    } catch (IOException e) {
      throw new IllegalArgumentException(variable + " is not a JSON list of {source, destination}");
    }
  }

  private static AllowedSources allowed(
      String variable, Function<List<String>, AllowedSources> parse) {
    String value = System.getenv(variable);
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException(variable + " names nothing: every location is refused");
    }
    return parse.apply(Arrays.asList(value.split(",")));
  }

  private static S3Storage storage(boolean needed) {
    return needed ? S3Storage.fromEnvironment(System::getenv) : null;
  }
}
