package dev.stowage.scheduler;

/** Checks shared by the task store implementations. */
public final class TaskStores {
  private TaskStores() {}

  /** A retry by hand opens only a task that failed or was cancelled. */
  public static void requireRetryable(String id, TaskState from) {
    if (!from.isRetryable()) {
      throw new IllegalArgumentException(
          "only a failed or cancelled task is retried, not task " + id + " (" + from.label() + ")");
    }
  }

  /** Batch transitions are for edges that touch no other task. */
  public static void requireSideEffectFree(TaskState from, TaskState to) {
    if (!from.canMoveTo(to)) {
      throw new IllegalArgumentException(
          "illegal task transition " + from.label() + " -> " + to.label());
    }
    if (to == TaskState.SUCCEEDED || to.blocksDependants()) {
      throw new IllegalArgumentException(
          "a batch transition cannot end in " + to.label() + ": use transition() for each task");
    }
  }
}
