package dev.stowage.scheduler.preemption;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/** The priority class store in memory; thread-safe. */
final class InMemoryPriorityClassStore implements PriorityClassStore {
  private final ConcurrentSkipListMap<String, PriorityClass> classes =
      new ConcurrentSkipListMap<>();

  @Override
  public List<PriorityClass> list() {
    return List.copyOf(classes.values());
  }

  @Override
  public Optional<PriorityClass> get(String name) {
    return Optional.ofNullable(classes.get(name));
  }

  @Override
  public boolean create(PriorityClass c) {
    return classes.putIfAbsent(c.name(), c) == null;
  }

  @Override
  public boolean replace(PriorityClass c) {
    return classes.replace(c.name(), c) != null;
  }

  @Override
  public boolean delete(String name) {
    return classes.remove(name) != null;
  }
}
