package dev.stowage.scheduler.queues;

import java.util.List;
import java.util.Optional;

/**
 * Where queues are kept. Always holds {@link Queue#DEFAULT} (which may be changed, not deleted).
 * Implementations make each call atomic and answer {@link #list} from memory: the cycle reads it
 * every time.
 */
public interface QueueStore {
  /** Every queue, by name. */
  List<Queue> list();

  Optional<Queue> get(String name);

  /** Adds a queue; false when one of that name exists (nothing changes). */
  boolean create(Queue queue);

  /** Replaces the queue of that name; false when there is none. */
  boolean replace(Queue queue);

  /** Deletes a queue; false when there is none. Refuses the default queue. */
  boolean delete(String name);

  /** A queue store in memory, holding just the default queue: for tests and for embedding. */
  static QueueStore inMemory() {
    return new InMemoryQueueStore();
  }
}
