package dev.stowage.scheduler;

import java.time.Instant;

/**
 * A task as the store holds it.
 *
 * @param neverSchedulable why no node of the cluster could ever host it, or null if one could
 * @param lastError what made the last failed attempt fail, when known (staging, launch, exit code)
 * @param preemptions how many of its attempts were evicted for other tasks: they do not count
 *     against its retries
 * @param preemptedBy the task its last evicted attempt made room for, or null
 * @param attemptsBeforeRetry the counted attempts it had made when it was last retried by hand: its
 *     retries start again after them
 */
public record StoredTask(
    TaskSpec spec,
    TaskState state,
    int attempt,
    String offer,
    int pendingDependencies,
    Instant notBefore,
    Instant submittedAt,
    Instant updatedAt,
    String neverSchedulable,
    String lastError,
    int preemptions,
    String preemptedBy,
    int attemptsBeforeRetry) {

  /** A task never retried by hand. */
  public StoredTask(
      TaskSpec spec,
      TaskState state,
      int attempt,
      String offer,
      int pendingDependencies,
      Instant notBefore,
      Instant submittedAt,
      Instant updatedAt,
      String neverSchedulable,
      String lastError,
      int preemptions,
      String preemptedBy) {
    this(
        spec,
        state,
        attempt,
        offer,
        pendingDependencies,
        notBefore,
        submittedAt,
        updatedAt,
        neverSchedulable,
        lastError,
        preemptions,
        preemptedBy,
        0);
  }

  /** A task never preempted. */
  public StoredTask(
      TaskSpec spec,
      TaskState state,
      int attempt,
      String offer,
      int pendingDependencies,
      Instant notBefore,
      Instant submittedAt,
      Instant updatedAt,
      String neverSchedulable,
      String lastError) {
    this(
        spec,
        state,
        attempt,
        offer,
        pendingDependencies,
        notBefore,
        submittedAt,
        updatedAt,
        neverSchedulable,
        lastError,
        0,
        null);
  }

  /**
   * How many of its attempts count against its retries: those not evicted for others, since it was
   * last retried by hand.
   */
  public int attemptsCounted() {
    return attemptsCounted(attempt);
  }

  /** {@link #attemptsCounted()} once attempt {@code attempt} has been made. */
  public int attemptsCounted(int attempt) {
    return attempt - preemptions - attemptsBeforeRetry;
  }

  public String id() {
    return spec.id();
  }

  /** Since when the task has waited to be placed: queued, or the end of its retry's backoff. */
  Instant queuedSince() {
    return notBefore != null ? notBefore : submittedAt;
  }
}
