package dev.stowage.scheduler;

import java.util.Iterator;
import java.util.List;

/**
 * Which queue places next: the order stage's policy, asked by the store as it takes queued tasks
 * (each queue already in its own order, priority then submission), so that the store knows nothing
 * of the policy and the policy nothing of how tasks are held. One instance serves one take.
 */
public interface QueueTurns {
  /** The queues that have processable tasks, by name; called once, first. */
  void start(List<String> queues);

  /** The index (in {@link #start}'s list) of the queue that places next, or -1 when none may. */
  int next();

  /**
   * Queue {@code queue}'s next task: true when it is taken (the queue's share grows by it), false
   * when the queue takes nothing more this time.
   */
  boolean take(int queue, StoredTask task);

  /** Queue {@code queue} has no more processable tasks. */
  void drained(int queue);

  /**
   * Takes at most {@code limit} tasks from the queues ({@code heads}, each in its order, by the
   * same index as {@code names}) in the turns they are given.
   */
  static List<StoredTask> take(
      List<String> names, List<Iterator<StoredTask>> heads, int limit, QueueTurns turns) {
    var out = new java.util.ArrayList<StoredTask>(Math.min(Math.max(limit, 0), 1024));
    turns.start(names);
    while (out.size() < limit) {
      int q = turns.next();
      if (q < 0) {
        break;
      }
      Iterator<StoredTask> it = heads.get(q);
      if (!it.hasNext()) {
        turns.drained(q);
      } else {
        StoredTask t = it.next();
        if (turns.take(q, t)) {
          out.add(t);
        }
      }
    }
    return out;
  }
}
