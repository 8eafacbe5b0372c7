package dev.stowage.scheduler;

import dev.stowage.engine.Offer;
import java.util.List;

/**
 * The cluster as the scheduling cycle sees it: offers, node changes, launch, kill, and attempt
 * events. Small on purpose, so that a remote cluster's backend can implement it: its nodes arrive
 * as events, its attempts' ends carry typed causes, and it may stage data on the node itself. No
 * call throws for a task's own failure: that arrives as an event.
 */
public interface ClusterBackend extends AutoCloseable {

  /** What each node can take now. */
  List<Offer> offers();

  /**
   * Changes to the cluster's nodes since the last call, oldest first: every node it knows as {@link
   * NodeEvent.Added} on the first call, then what changed. The scheduler keeps its own picture of
   * the nodes from these ({@link ClusterNodes}), for telling tasks that no node could ever host and
   * for losing the attempts of a node that left. None from a backend that reports no nodes: then
   * nothing is flagged as never schedulable.
   */
  default List<NodeEvent> drainNodeEvents() {
    return List.of();
  }

  /**
   * Starts an attempt on the node of the chosen offer; a STARTED or LAUNCH_FAILED event follows.
   * Idempotent by attempt: launching an attempt this backend already holds starts nothing again,
   * and the event that follows says what became of it (STARTED, EXITED, LOST), as {@link #status}
   * would. A scheduler that crashed before its record of a launch was durable may launch the same
   * attempt again; the deterministic attempt id makes that an adoption, never a second run.
   */
  void launch(Launch launch);

  /**
   * The attempts this backend has launched and still holds anything of, each with the offer (node)
   * it went to: what reconciliation after a restart checks besides the attempts the task store has
   * in flight, since the store's record of a placement may not have been durable at a crash. Empty
   * for a backend that keeps nothing across restarts.
   */
  default java.util.Map<AttemptId, String> knownAttempts() {
    return java.util.Map.of();
  }

  /** Stops an attempt and everything it started; a KILLED event follows if it was running. */
  void kill(AttemptId attempt);

  /** Events since the last call, oldest first. */
  List<TaskEvent> drainEvents();

  /** Called (on some backend thread) whenever new events are waiting: the cycle's wake-up. */
  void onEvents(Runnable wakeUp);

  /**
   * What the backend knows of an attempt, for reconciliation after a restart: STARTED for one still
   * running (it is watched again and its end arrives as an event), EXITED with the exit code for
   * one that finished, LOST for one the backend cannot account for.
   */
  TaskEvent status(AttemptId attempt);

  /**
   * What the cluster itself says of a launched attempt, in one line for people (as {@code kubectl
   * describe} shows a pod's conditions and events): why it has not started, say. Empty when the
   * backend has nothing to add to the attempt's state.
   */
  default java.util.Optional<String> describe(AttemptId attempt) {
    return java.util.Optional.empty();
  }

  /**
   * Part of an attempt's standard output (or error): at most {@code maxBytes} from byte {@code
   * from}, or, with {@code from} negative, the last {@code maxBytes}. Empty, of size 0, when there
   * is none (yet).
   */
  LogSlice log(AttemptId attempt, boolean stderr, long from, int maxBytes);

  /**
   * Bytes of a log from offset {@code from}, of a log {@code size} bytes long when read: the slice
   * is the whole log when {@code from} is 0 and it reaches {@code size}.
   */
  record LogSlice(long size, long from, byte[] bytes) {
    public static final LogSlice EMPTY = new LogSlice(0, 0, new byte[0]);

    /** Whether bytes of the log lie before or after this slice. */
    public boolean partial() {
      return from > 0 || from + bytes.length < size;
    }
  }

  /**
   * The directory an attempt will run in, where its inputs must be staged before {@link #launch};
   * empty if this backend cannot take staged files (a task with inputs then fails its attempt).
   */
  default java.util.Optional<java.nio.file.Path> workDirectory(AttemptId attempt) {
    return java.util.Optional.empty();
  }

  /**
   * Whether this backend copies an attempt's inputs and outputs on its node itself (an init step
   * before the program, a last one after it), as a remote cluster must: then the scheduler's stager
   * is not used, the launch carries the lists, and an EXITED 0 event means the outputs are out.
   * False for a backend whose attempts run where the scheduler's stager can reach their {@link
   * #workDirectory}.
   */
  default boolean stagesOnNode() {
    return false;
  }

  @Override
  void close();

  /**
   * Removes what this backend keeps of finished tasks (work directories, logs): of the task ids it
   * holds anything for, {@code removable} answers which may go. Returns how many tasks' it removed;
   * a backend that keeps nothing removes nothing.
   */
  default int removeFinished(
      java.util.function.Function<java.util.Collection<String>, java.util.Set<String>> removable) {
    return 0;
  }
}
