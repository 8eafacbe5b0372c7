package dev.stowage.scheduler;

import java.time.Instant;
import java.util.List;

/**
 * The order stage: which queued tasks the cycle offers the matcher, in the order it offers them
 * (the matcher places earlier tasks first). Queue policy lives here ({@link FairShareOrder}),
 * reading the store's per-queue take order, without the matcher knowing.
 */
@FunctionalInterface
interface OrderTasks {
  /** At most {@code max} processable tasks, in the order they are to be placed. */
  List<StoredTask> take(int max, Instant now);

  /** One queue's order: priority, then submission. */
  static OrderTasks byPriority(TaskStore store) {
    return store::processable;
  }
}
