package dev.stowage.scheduler.queues;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/** The queue store in memory; thread-safe. */
final class InMemoryQueueStore implements QueueStore {
  private final ConcurrentSkipListMap<String, Queue> queues = new ConcurrentSkipListMap<>();

  InMemoryQueueStore() {
    queues.put(Queue.DEFAULT.name(), Queue.DEFAULT);
  }

  @Override
  public List<Queue> list() {
    return List.copyOf(queues.values());
  }

  @Override
  public Optional<Queue> get(String name) {
    return Optional.ofNullable(queues.get(name));
  }

  @Override
  public boolean create(Queue queue) {
    return queues.putIfAbsent(queue.name(), queue) == null;
  }

  @Override
  public boolean replace(Queue queue) {
    return queues.replace(queue.name(), queue) != null;
  }

  @Override
  public boolean delete(String name) {
    if (Queue.DEFAULT.name().equals(name)) {
      throw new IllegalArgumentException("the default queue cannot be deleted");
    }
    return queues.remove(name) != null;
  }
}
