package dev.stowage.scheduler;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Where tasks live between cycles. Implementations must make each call atomic. */
public interface TaskStore {

  /**
   * Stores a batch atomically, or nothing. Tasks whose dependencies have all succeeded are queued,
   * others wait; a task depending on a failed or cancelled task is upstream_failed at once.
   *
   * @throws InvalidSubmissionException listing every problem with the batch
   */
  default void submit(List<TaskSpec> batch, Instant now) {
    submit(batch, java.util.Map.of(), now);
  }

  /**
   * {@link #submit(List, Instant)}, with the tasks no node could ever host flagged (id to reason):
   * they are stored, but left out of {@link #processable} until {@link #clearNeverSchedulable}.
   */
  void submit(List<TaskSpec> batch, java.util.Map<String, String> neverSchedulable, Instant now);

  /** How many tasks are in each state (states with none are left out). */
  java.util.Map<TaskState, Long> countByState();

  /** How many queued tasks no node could ever host (among the queued counted above). */
  default long countNeverSchedulable() {
    return neverSchedulable().stream().filter(t -> t.state() == TaskState.QUEUED).count();
  }

  /** Tasks flagged never schedulable that have not finished: to check again when nodes change. */
  List<StoredTask> neverSchedulable();

  /**
   * Records why attempt {@code attempt} of a task failed, for people reading the task; ignored if
   * the task has moved on to a later attempt.
   */
  void recordError(String id, int attempt, String error);

  /** The cluster changed and these tasks now fit a node: they rejoin the queue. */
  void clearNeverSchedulable(java.util.Collection<String> ids);

  Optional<StoredTask> get(String id);

  /**
   * The task's attempts in order: those that ended, then the current one while it is placed,
   * staging, launched or running. Empty for a task never placed, or not stored.
   */
  List<AttemptRecord> attempts(String id);

  /** The stored tasks among these ids, in one read. */
  java.util.Map<String, StoredTask> getAll(java.util.Collection<String> ids);

  /**
   * The newest tasks that pass {@code filter}, newest first: those submitted before the task {@code
   * beforeId} (null: from the newest), at most {@code limit}, looking at no more than {@link
   * TaskFilter#SEARCHED_MAX} tasks. An id not stored gives an empty page.
   */
  TaskFilter.Page newest(TaskFilter filter, String beforeId, int limit);

  /** The ids of the tasks that depend on any of these, in one read. */
  java.util.Set<String> dependantsOf(java.util.Collection<String> ids);

  /**
   * Which of these ids are stored: for checking a submission before it is sent to {@link #submit}.
   */
  java.util.Set<String> existing(java.util.Collection<String> ids);

  /**
   * Tasks in submit order, optionally only those in {@code state}, starting after the task {@code
   * afterId} (null: from the start): one page of at most {@code limit}. An {@code afterId} that is
   * not stored gives an empty page, never the first one again.
   */
  List<StoredTask> list(TaskState state, String afterId, int limit);

  /**
   * Tasks placed but not finished (assigned, staging, launched, running): what a restart checks.
   */
  List<StoredTask> inFlight();

  /**
   * Every task not finished (waiting, queued or in flight), in submit order: what a start loads.
   */
  List<StoredTask> unfinished();

  /**
   * Changes whenever this store may have lost writes it had answered (a store that answers before
   * its writes are durable, and found one refused): the cycle then reconciles with the backend, as
   * after a restart, before it places anything.
   */
  default long generation() {
    return 0;
  }

  /**
   * Queued tasks whose retry backoff (if any) has passed by {@code now} and that are not flagged
   * never schedulable, by priority (highest first), then submit time, then submit order.
   */
  List<StoredTask> processable(int limit, Instant now);

  /**
   * As {@link #processable(int, Instant)}, but the queues take turns as {@code turns} says, each
   * queue in that order within itself.
   */
  default List<StoredTask> processable(int limit, Instant now, QueueTurns turns) {
    var byQueue = new java.util.TreeMap<String, List<StoredTask>>();
    for (StoredTask t : processable(Integer.MAX_VALUE, now)) {
      byQueue.computeIfAbsent(t.spec().queue(), q -> new java.util.ArrayList<>()).add(t);
    }
    return QueueTurns.take(
        List.copyOf(byQueue.keySet()),
        byQueue.values().stream().map(List::iterator).toList(),
        limit,
        turns);
  }

  /** What the tasks in flight of each queue hold (queues with none may be left out). */
  default java.util.Map<String, dev.stowage.engine.Resources> runningByQueue() {
    var out = new java.util.TreeMap<String, dev.stowage.engine.Resources>();
    QueueLoad.of(inFlight()).forEach((q, load) -> out.put(q, load.running()));
    return out;
  }

  /**
   * What each queue holds: queues with no unfinished task are left out. {@code oldest}: with each
   * queue's longest-waiting task, which may cost a read of every queued task.
   */
  default java.util.Map<String, QueueLoad> queueLoads(boolean oldest) {
    return QueueLoad.of(unfinished());
  }

  /** Whether any task of the gang of that name is stored and not finished. */
  default boolean gangUnfinished(String gang) {
    return unfinished().stream()
        .anyMatch(t -> t.spec().gang() != null && t.spec().gang().name().equals(gang));
  }

  /**
   * How many tasks of each of these gangs are in flight (placed and not finished): gangs with none
   * are left out.
   */
  default java.util.Map<String, Integer> gangsInFlight(java.util.Collection<String> gangs) {
    var out = new java.util.HashMap<String, Integer>();
    for (StoredTask t : inFlight()) {
      if (t.spec().gang() != null && gangs.contains(t.spec().gang().name())) {
        out.merge(t.spec().gang().name(), 1, Integer::sum);
      }
    }
    return out;
  }

  /**
   * A queued task was placed on {@code offer}: it moves to assigned and its attempt count goes up
   * by one. Returns the new attempt number, or 0 if the task was no longer queued.
   */
  int assign(String id, String offer, Instant now);

  /**
   * {@link #assign} for many tasks in one write: returns the new attempt number of each task that
   * was still queued (the others are left out).
   */
  java.util.Map<String, Integer> assignAll(java.util.Map<String, String> offerByTask, Instant now);

  /**
   * Moves every listed attempt that is still its task's current attempt and still in {@code from}
   * to {@code to}, in one write; returns the ids of the tasks that moved. For transitions with no
   * effect on other tasks (not success or failure). Naming the attempt keeps news of an older
   * attempt from moving a task that has been placed again since.
   */
  java.util.Set<String> transitionAll(
      java.util.Collection<AttemptId> attempts, TaskState from, TaskState to, Instant now);

  /**
   * Records the success of every listed attempt that is still its task's current attempt and still
   * in {@code from}, and releases their dependants, in one write; returns the ids of the tasks that
   * succeeded. What {@link #transition} to succeeded does for one task, for a cycle's thousands.
   */
  java.util.Set<String> succeedAll(
      java.util.Collection<AttemptId> attempts, TaskState from, Instant now);

  /**
   * A failed attempt will be retried: the task goes back to queued from {@code from}, not to be
   * placed before {@code notBefore}. Returns whether it moved.
   */
  boolean requeue(String id, TaskState from, Instant notBefore, Instant now);

  /**
   * A running attempt is evicted to make room for task {@code by}: if it is still its task's
   * current attempt and in {@code from} (launched or running), the task goes back to queued at
   * once, due now, its preemptions counted up (so the attempt does not count against its retries)
   * and {@code by} recorded. Returns whether it moved; its process is the caller's to stop.
   */
  boolean preempt(AttemptId attempt, TaskState from, String by, Instant now);

  /**
   * An attempt that never started (its placement or staging cut short by a restart) goes back to
   * queued and does not count: its attempt number is given back, so the next placement is that
   * attempt again and a task allowed one attempt still gets it.
   */
  boolean unassign(String id, TaskState from, Instant now);

  /**
   * Moves a task from {@code from} to {@code to} if it is still in {@code from}; returns whether it
   * moved. Success releases dependants whose last dependency this was; failure (out of attempts)
   * and cancellation make every task that waits on it, directly or through waiting tasks,
   * upstream_failed.
   *
   * @throws IllegalArgumentException when the lifecycle has no such transition
   */
  boolean transition(String id, TaskState from, TaskState to, Instant now);

  /**
   * A retry by hand, as Airflow's "clear" with its downstream: a failed or cancelled task, if it is
   * still in {@code from}, is queued again with a fresh set of attempts (waiting while one of its
   * dependencies has not succeeded; upstream_failed if one failed or was cancelled), at the end of
   * submit order as a resubmission would be, its queue time starting {@code now}. Then every
   * upstream_failed task below it, through upstream_failed tasks, none of whose dependencies is
   * failed, cancelled or upstream_failed any more, waits again, in id order after it. A cancelled
   * task below stays cancelled: someone cancelled it.
   *
   * @return the tasks opened again, this one first and the others in id order; empty when it was
   *     not in {@code from}
   * @throws IllegalArgumentException when {@code from} is not failed or cancelled
   */
  List<StoredTask> retry(String id, TaskState from, Instant now);
}
