package dev.stowage.scheduler;

import java.time.Instant;

/**
 * How an attempt ends, the one place every stage goes through: a failure is retried per the task's
 * policy or fails the task for good, a success and a cancel are counted; each with its span's
 * outcome and, for a failure or a cancel, one structured log record inside the attempt's span.
 */
final class AttemptEnds {
  // Under the cycle's logger name, as before the stages: what operators filter logs by.
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(SchedulingCycle.class);

  private final TaskStore store;
  private final CycleMetrics metrics;
  private final AttemptSpans spans;

  AttemptEnds(TaskStore store, CycleMetrics metrics, AttemptSpans spans) {
    this.store = store;
    this.metrics = metrics;
    this.spans = spans;
  }

  /** An attempt ended well: its span, and the count a success ratio is charted from. */
  void succeeded(AttemptId attempt) {
    metrics.attemptSucceeded();
    spans.succeeded(attempt);
  }

  /** An attempt stopped because its task was cancelled. */
  void cancelled(AttemptId attempt) {
    try (var ignored = spans.enter(attempt);
        var fields =
            new LogFields(
                "stowage.task",
                attempt.taskId(),
                "stowage.attempt",
                Integer.toString(attempt.attempt()))) {
      LOG.info(
          "attempt {} of {} stopped: the task is cancelled", attempt.attempt(), attempt.taskId());
    }
    spans.cancelled(attempt, "killed on request");
  }

  /** Retry per the task's policy, or fail it for good. */
  boolean failed(
      AttemptId attempt, TaskState from, Instant now, CycleMetrics.Failure cause, String reason) {
    return failed(attempt, from, now, cause, reason, null);
  }

  /**
   * Retry per the task's policy, or fail it for good; returns whether the task moved.
   *
   * @param exitCode how the process ended, when it did
   */
  boolean failed(
      AttemptId attempt,
      TaskState from,
      Instant now,
      CycleMetrics.Failure cause,
      String reason,
      Integer exitCode) {
    metrics.attemptFailed(cause);
    StoredTask t = store.get(attempt.taskId()).orElse(null);
    if (t != null && !t.state().isTerminal()) {
      RetryPolicy retry = t.spec().retry();
      // Attempts evicted for other tasks, or made before a retry by hand, do not count.
      int counted = t.attemptsCounted(attempt.attempt());
      boolean again = counted < retry.maxAttempts();
      // One record per failed attempt, inside its span: the record leads to the trace.
      try (var ignored = spans.enter(attempt);
          var fields =
              new LogFields(
                  "stowage.task", attempt.taskId(),
                  "stowage.attempt", Integer.toString(attempt.attempt()),
                  "stowage.failure", cause.label(),
                  "stowage.retry", Boolean.toString(again))) {
        LOG.warn(
            again
                ? "attempt {} of {} failed ({}): {}; retried after {} (attempt {} of {})"
                : "attempt {} of {} failed ({}): {}; the task failed, with no attempt left"
                    + " of {}",
            attempt.attempt(),
            attempt.taskId(),
            cause.label(),
            reason,
            again ? retry.delayBefore(counted + 1) : retry.maxAttempts(),
            counted + 1,
            retry.maxAttempts());
      }
    }
    spans.failed(attempt, reason, cause.label(), exitCode);
    store.recordError(attempt.taskId(), attempt.attempt(), reason);
    if (t == null || t.state().isTerminal()) {
      return false;
    }
    RetryPolicy retry = t.spec().retry();
    int counted = t.attemptsCounted(attempt.attempt());
    if (counted < retry.maxAttempts()) {
      return store.requeue(t.id(), from, now.plus(retry.delayBefore(counted + 1)), now);
    }
    return store.transition(t.id(), from, TaskState.FAILED, now);
  }

  /** What the backend's event says went wrong, for a person. */
  static String failure(TaskEvent e) {
    String what =
        switch (e.kind()) {
          case TIMED_OUT -> "timed out";
          case OUT_OF_MEMORY -> "out of memory";
          case LOST -> "lost by the backend";
          case EVICTED -> "evicted from its node";
          case STAGING_FAILED -> "staging failed";
          default -> "launch failed";
        };
    return e.message() == null || e.message().isBlank() ? what : what + ": " + e.message();
  }

  /** The same event as the failed-attempts metric counts it. */
  static CycleMetrics.Failure cause(TaskEvent e) {
    return switch (e.kind()) {
      case TIMED_OUT -> CycleMetrics.Failure.TIMEOUT;
      case OUT_OF_MEMORY -> CycleMetrics.Failure.OOM;
      case LOST -> CycleMetrics.Failure.LOST;
      case EVICTED -> CycleMetrics.Failure.EVICTED;
      case STAGING_FAILED -> CycleMetrics.Failure.STAGING;
      default -> CycleMetrics.Failure.LAUNCH;
    };
  }

  /**
   * A record's own fields, in the logging context for as long as the record is written: every
   * format reads them from there (JSON lines as top-level keys, OTLP as attributes).
   */
  private static final class LogFields implements AutoCloseable {
    private final String[] keysAndValues;

    LogFields(String... keysAndValues) {
      this.keysAndValues = keysAndValues;
      for (int i = 0; i < keysAndValues.length; i += 2) {
        org.slf4j.MDC.put(keysAndValues[i], keysAndValues[i + 1]);
      }
    }

    @Override
    public void close() {
      for (int i = 0; i < keysAndValues.length; i += 2) {
        org.slf4j.MDC.remove(keysAndValues[i]);
      }
    }
  }
}
