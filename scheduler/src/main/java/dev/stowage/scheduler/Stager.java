package dev.stowage.scheduler;

import java.nio.file.Path;
import java.util.List;

/**
 * Copies an attempt's inputs into its work directory beside the cycle: {@code prepare_payloads}
 * hands over the attempts that declare inputs (they move to staging), and a later cycle launches
 * each one whose staging succeeded or fails the attempt whose staging did not. A task is never
 * started on a partial input.
 */
public interface Stager extends AutoCloseable {

  /** Which way the data went: inputs in before the process, outputs out after it. */
  enum Phase {
    INPUTS,
    OUTPUTS
  }

  /** How one attempt's staging ended; {@code detail} says what failed, for a person. */
  record Result(AttemptId attempt, boolean succeeded, String detail, Phase phase) {
    /** An input staging's result. */
    public Result(AttemptId attempt, boolean succeeded, String detail) {
      this(attempt, succeeded, detail, Phase.INPUTS);
    }
  }

  /** Starts staging; returns at once. Its result arrives through {@link #drainResults}. */
  void stage(AttemptId attempt, List<StagedInput> inputs, Path workDirectory);

  /**
   * Starts copying an attempt's outputs out of its work directory, after its process exited with 0;
   * returns at once. Its result, with {@link Phase#OUTPUTS}, arrives through {@link #drainResults}.
   */
  void collect(AttemptId attempt, List<StagedOutput> outputs, Path workDirectory);

  /** How far an attempt's staging has come, while it stages. */
  record Progress(long bytesDone, long bytesTotal, int filesDone, int filesTotal) {}

  /** The attempt's progress while it is being staged (its total once its inputs are listed). */
  default java.util.Optional<Progress> progress(AttemptId attempt) {
    return java.util.Optional.empty();
  }

  /**
   * Removes what an interrupted staging left in a work directory (files under their temporary
   * names), so that a restart leaves no partial copies behind.
   */
  default void discardPartial(Path workDirectory) {}

  /** Results since the last call, oldest first. */
  List<Result> drainResults();

  /** Called (on some stager thread) whenever results are waiting: the cycle's wake-up. */
  void onResults(Runnable wakeUp);

  @Override
  void close();
}
