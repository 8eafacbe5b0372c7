package dev.stowage.scheduler;

import java.time.Instant;

/**
 * One attempt of a task as the store keeps it: where it was placed, when it reached each step, and
 * how it ended. The store writes it in the same statement as the task's own change, so it survives
 * a restart and needs no trace. A step the attempt never reached is null (a task that does not
 * stage has no {@code staged}); so are {@code ended} and {@code outcome} while it runs.
 *
 * <p>A placement taken back before launch (its attempt number given back) is not an attempt and
 * leaves no record.
 *
 * @param error why it failed or was preempted, when it was
 */
public record AttemptRecord(
    int attempt,
    String node,
    Instant placed,
    Instant staged,
    Instant launched,
    Instant started,
    Instant ended,
    Outcome outcome,
    String error) {

  /** How an attempt ended. */
  public enum Outcome {
    SUCCEEDED,
    FAILED,
    CANCELLED,
    /** It failed, and the task was queued for another attempt. */
    REQUEUED,
    /** Evicted for a task of higher priority or a queue below its share; the task was queued. */
    PREEMPTED;

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    public static Outcome ofLabel(String label) {
      return valueOf(label.toUpperCase(java.util.Locale.ROOT));
    }
  }

  /** Whether it still runs (or is placed, staging or launched). */
  public boolean current() {
    return outcome == null;
  }
}
