package dev.stowage.scheduler;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where a task is in its life. {@link #canMoveTo} is the whole lifecycle; {@link #canReopenTo} adds
 * the edges of a retry by hand, which opens a finished task again. The database enforces the same
 * edges (migrations V1 and V16), so an illegal transition is rejected twice.
 */
public enum TaskState {
  /** Dependencies not all succeeded yet. */
  WAITING,
  /** Ready: the cycle may place it. */
  QUEUED,
  /** Matched to an offer this cycle. */
  ASSIGNED,
  /** Input data being staged. */
  STAGING,
  /** Handed to the cluster backend. */
  LAUNCHED,
  /** Reported running by the backend. */
  RUNNING,
  SUCCEEDED,
  /** Failed and out of attempts (a retryable failure goes back to QUEUED instead). */
  FAILED,
  CANCELLED,
  /** A dependency failed or was cancelled, so this task will never run. */
  UPSTREAM_FAILED;

  private static final Map<TaskState, Set<TaskState>> NEXT =
      Map.of(
          WAITING, EnumSet.of(QUEUED, CANCELLED, UPSTREAM_FAILED),
          QUEUED, EnumSet.of(ASSIGNED, CANCELLED, FAILED),
          ASSIGNED, EnumSet.of(STAGING, LAUNCHED, QUEUED, FAILED, CANCELLED),
          STAGING, EnumSet.of(LAUNCHED, QUEUED, FAILED, CANCELLED),
          LAUNCHED, EnumSet.of(RUNNING, SUCCEEDED, FAILED, QUEUED, CANCELLED),
          RUNNING, EnumSet.of(SUCCEEDED, FAILED, QUEUED, CANCELLED),
          SUCCEEDED, EnumSet.noneOf(TaskState.class),
          FAILED, EnumSet.noneOf(TaskState.class),
          CANCELLED, EnumSet.noneOf(TaskState.class),
          UPSTREAM_FAILED, EnumSet.noneOf(TaskState.class));

  // A retry by hand: a failed or cancelled task is queued again (waiting while a dependency has not
  // succeeded; upstream_failed at once if one has failed since), and the tasks it had doomed wait
  // again. Not part of the lifecycle: no event of the cycle takes these edges.
  private static final Map<TaskState, Set<TaskState>> REOPEN =
      Map.of(
          FAILED, EnumSet.of(QUEUED, WAITING, UPSTREAM_FAILED),
          CANCELLED, EnumSet.of(QUEUED, WAITING, UPSTREAM_FAILED),
          UPSTREAM_FAILED, EnumSet.of(WAITING));

  public boolean canMoveTo(TaskState next) {
    return NEXT.get(this).contains(next);
  }

  /** An edge of a retry by hand, from a finished state: see {@link TaskStore#retry}. */
  public boolean canReopenTo(TaskState next) {
    return REOPEN.getOrDefault(this, Set.of()).contains(next);
  }

  /** A task that failed or was cancelled: what a person may retry. */
  public boolean isRetryable() {
    return this == FAILED || this == CANCELLED;
  }

  /** No transition of the lifecycle leaves this state (only a retry by hand). */
  public boolean isTerminal() {
    return NEXT.get(this).isEmpty();
  }

  /** Placed and not finished: assigned, staging, launched or running. */
  public boolean isInFlight() {
    return this == ASSIGNED || this == STAGING || this == LAUNCHED || this == RUNNING;
  }

  /** A terminal state other than success: dependants of such a task can never run. */
  public boolean blocksDependants() {
    return this == FAILED || this == CANCELLED || this == UPSTREAM_FAILED;
  }

  /** The name in the API and the database: {@code upstream_failed}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static TaskState parse(String label) {
    for (TaskState s : values()) {
      if (s.label().equals(label)) {
        return s;
      }
    }
    throw new IllegalArgumentException("unknown task state '" + label + "'");
  }
}
