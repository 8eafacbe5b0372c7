package dev.stowage.app.dashboard;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskFilter;
import dev.stowage.scheduler.TaskState;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What the dashboard reads from the running service: the same state the API answers from, read
 * in-process. Changes do not go through here: the pages send them to the API.
 */
public interface DashboardData {
  /** One finished cycle: its phases in the order they ran. */
  record Cycle(
      long number,
      Instant at,
      double durationMs,
      Map<String, Double> phasesMs,
      int offers,
      int considered,
      int matched,
      int launched,
      int eventsApplied,
      String traceId) {}

  /** A node: what it has free, what its tasks in flight hold, and those tasks. */
  record Node(String name, Resources free, Resources used, List<StoredTask> tasks) {}

  /** One step of an attempt: placed, staged, launched, started, and how it ended. */
  record Step(String name, Instant at) {}

  /**
   * An attempt of a task as the store keeps it, with the steps it reached.
   *
   * @param error why it failed, was requeued or preempted; null otherwise
   * @param current it has not ended: the task is placed, staging, launched or running
   */
  record Attempt(long number, String node, List<Step> steps, String error, boolean current) {}

  /** The task's attempts, in order: those that ended, then the current one. */
  List<Attempt> attempts(StoredTask task);

  /** The last cycles, newest first. */
  List<Cycle> recentCycles();

  Map<TaskState, Long> countByState();

  TaskFilter.Page newest(TaskFilter filter, String beforeId, int limit);

  Optional<StoredTask> task(String id);

  Map<String, StoredTask> tasks(Collection<String> ids);

  Set<String> dependantsOf(Collection<String> ids);

  /** The task's why line, as {@code GET /api/tasks/{id}/why} gives it. */
  String why(StoredTask task);

  /** The last {@code maxBytes} of the task's current attempt's standard output. */
  String logTail(StoredTask task, int maxBytes);

  /** What staging has moved for the task's attempt, as "done of total bytes", if it stages. */
  Optional<String> staging(StoredTask task);

  List<Node> nodes();

  /** What each queue's tasks in flight hold. */
  Map<String, Resources> runningByQueue();

  boolean paused();

  Instant now();

  /**
   * Gives every cycle to {@code listener} after it ran, on the cycle's thread: it must return at
   * once.
   */
  void onCycle(java.util.function.Consumer<Cycle> listener);
}
