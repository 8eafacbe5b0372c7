package dev.stowage.scheduler;

/** One attempt at running a task: attempts count from 1. */
public record AttemptId(String taskId, int attempt) {
  public AttemptId {
    if (attempt < 1) {
      throw new IllegalArgumentException("attempt counts from 1, got " + attempt);
    }
  }

  @Override
  public String toString() {
    return taskId + "#" + attempt;
  }
}
