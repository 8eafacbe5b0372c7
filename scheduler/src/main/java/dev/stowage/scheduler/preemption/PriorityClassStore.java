package dev.stowage.scheduler.preemption;

import java.util.List;
import java.util.Optional;

/**
 * Where priority classes are kept. Implementations make each call atomic and answer {@link #list}
 * and {@link #get} from memory: the cycle reads them every time it preempts.
 */
public interface PriorityClassStore {
  /** Every class, by name. */
  List<PriorityClass> list();

  Optional<PriorityClass> get(String name);

  /** Adds a class; false when one of that name exists (nothing changes). */
  boolean create(PriorityClass priorityClass);

  /** Replaces the class of that name; false when there is none. */
  boolean replace(PriorityClass priorityClass);

  /** Deletes a class; false when there is none. Tasks that named it keep their priority. */
  boolean delete(String name);

  /** A store in memory, empty: for tests and for embedding. */
  static PriorityClassStore inMemory() {
    return new InMemoryPriorityClassStore();
  }
}
