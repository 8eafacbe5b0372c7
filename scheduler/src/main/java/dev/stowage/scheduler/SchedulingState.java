package dev.stowage.scheduler;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The scheduling state: every unfinished task in memory, in front of the durable store. What the
 * cycle reads (the queue in take order, tasks in flight, the tasks its events name) comes from
 * memory, in time proportional to what it returns, however many tasks are stored; finished tasks
 * leave memory and are read from the durable store.
 *
 * <p>Each write goes to the durable store first and then to memory, one write at a time, so that
 * memory never holds what is not durable: a submit or cancel returns once it is durable, and a
 * crash loses nothing memory knew. Both apply the same lifecycle; if they ever answer a write
 * differently, the memory is a bug's victim and is loaded again from the durable store, with an
 * error logged. Readers lock memory only while it applies a write, never during the durable one.
 */
public final class SchedulingState implements TaskStore {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(SchedulingState.class);

  private final TaskStore durable;
  private final Object writes = new Object(); // one write at a time: durable, then memory
  private volatile InMemoryTaskStore memory;
  private final java.util.concurrent.atomic.AtomicLong divergences =
      new java.util.concurrent.atomic.AtomicLong();

  private SchedulingState(TaskStore durable) {
    this.durable = durable;
    this.memory = load();
  }

  /** The state of {@code durable}'s unfinished tasks, loaded now. */
  public static SchedulingState load(TaskStore durable) {
    return new SchedulingState(Objects.requireNonNull(durable, "durable"));
  }

  /** Loads memory again from the durable store: when this instance takes over scheduling. */
  public void reload() {
    synchronized (writes) {
      memory = load();
    }
  }

  private InMemoryTaskStore load() {
    Map<TaskState, Long> counts = durable.countByState();
    return InMemoryTaskStore.holdingUnfinished(durable.unfinished(), counts, this::finishedStates);
  }

  /** The states of tasks memory no longer holds: all finished, so read once from the store. */
  private Map<String, TaskState> finishedStates(Collection<String> ids) {
    var out = new HashMap<String, TaskState>();
    durable.getAll(ids).forEach((id, t) -> out.put(id, t.state()));
    return out;
  }

  /**
   * One write: durable, then memory, compared. Times are cut to the durable store's precision
   * (microseconds) by the caller, so that both hold the same instants.
   */
  private <T> T write(String what, Function<TaskStore, T> op) {
    synchronized (writes) {
      T stored = op.apply(durable);
      T remembered;
      try {
        remembered = op.apply(memory);
      } catch (RuntimeException e) {
        diverged(what, e.toString());
        return stored;
      }
      if (!Objects.equals(stored, remembered)) {
        diverged(what, "the store answered " + stored + ", memory " + remembered);
      }
      return stored;
    }
  }

  /** How many times memory disagreed with the durable store and was loaded again: a bug each. */
  public long divergences() {
    return divergences.get();
  }

  private void diverged(String what, String detail) {
    divergences.incrementAndGet();
    if (detail.length() > 300) {
      detail = detail.substring(0, 300) + "...";
    }
    LOG.error(
        "the scheduling state disagreed with the task store on {} ({}): loading it again",
        what,
        detail);
    memory = load();
  }

  private static Instant micros(Instant t) {
    return t == null ? null : t.truncatedTo(ChronoUnit.MICROS);
  }

  @Override
  public void submit(List<TaskSpec> batch, Map<String, String> neverSchedulable, Instant now) {
    Instant at = micros(now);
    write(
        "a submit",
        s -> {
          s.submit(batch, neverSchedulable, at);
          return null;
        });
  }

  @Override
  public void recordError(String id, int attempt, String error) {
    write(
        "an error",
        s -> {
          s.recordError(id, attempt, error);
          return null;
        });
  }

  @Override
  public void clearNeverSchedulable(Collection<String> ids) {
    write(
        "clearing flags",
        s -> {
          s.clearNeverSchedulable(ids);
          return null;
        });
  }

  @Override
  public int assign(String id, String offer, Instant now) {
    Instant at = micros(now);
    return write("an assign", s -> s.assign(id, offer, at));
  }

  @Override
  public Map<String, Integer> assignAll(Map<String, String> offerByTask, Instant now) {
    Instant at = micros(now);
    return write("a batch assign", s -> s.assignAll(offerByTask, at));
  }

  @Override
  public Set<String> transitionAll(
      Collection<AttemptId> attempts, TaskState from, TaskState to, Instant now) {
    TaskStores.requireSideEffectFree(from, to);
    Instant at = micros(now);
    return write("a batch transition", s -> s.transitionAll(attempts, from, to, at));
  }

  @Override
  public Set<String> succeedAll(Collection<AttemptId> attempts, TaskState from, Instant now) {
    Instant at = micros(now);
    return write("a batch success", s -> s.succeedAll(attempts, from, at));
  }

  @Override
  public boolean requeue(String id, TaskState from, Instant notBefore, Instant now) {
    Instant at = micros(now);
    Instant due = micros(notBefore);
    return write("a requeue", s -> s.requeue(id, from, due, at));
  }

  @Override
  public boolean unassign(String id, TaskState from, Instant now) {
    Instant at = micros(now);
    return write("an unassign", s -> s.unassign(id, from, at));
  }

  @Override
  public boolean transition(String id, TaskState from, TaskState to, Instant now) {
    Instant at = micros(now);
    return write("a transition", s -> s.transition(id, from, to, at));
  }

  // Reads. What only unfinished tasks answer comes from memory alone.

  @Override
  public Map<TaskState, Long> countByState() {
    return memory.countByState();
  }

  @Override
  public long countNeverSchedulable() {
    return memory.countNeverSchedulable();
  }

  @Override
  public List<StoredTask> neverSchedulable() {
    return memory.neverSchedulable();
  }

  @Override
  public List<StoredTask> inFlight() {
    return memory.inFlight();
  }

  @Override
  public List<StoredTask> unfinished() {
    return memory.unfinished();
  }

  @Override
  public List<StoredTask> processable(int limit, Instant now) {
    return memory.processable(limit, now);
  }

  @Override
  public Optional<StoredTask> get(String id) {
    Optional<StoredTask> held = memory.get(id);
    return held.isPresent() ? held : durable.get(id);
  }

  @Override
  public Map<String, StoredTask> getAll(Collection<String> ids) {
    Map<String, StoredTask> held = memory.getAll(ids);
    if (held.size() == ids.size()) {
      return held;
    }
    var rest = new ArrayList<String>();
    for (String id : ids) {
      if (!held.containsKey(id)) {
        rest.add(id);
      }
    }
    var out = new HashMap<>(held);
    // Finished since memory answered? The store has the newer version, so it wins.
    out.putAll(durable.getAll(rest));
    return out;
  }

  @Override
  public Set<String> existing(Collection<String> ids) {
    Set<String> held = memory.holding(ids);
    var out = new HashSet<>(held);
    if (held.size() < ids.size()) {
      var rest = new ArrayList<String>();
      for (String id : ids) {
        if (!held.contains(id)) {
          rest.add(id);
        }
      }
      out.addAll(durable.existing(rest));
    }
    return out;
  }

  /** Pages in submit order mix finished and unfinished tasks: the durable store, written first. */
  @Override
  public List<StoredTask> list(TaskState state, String afterId, int limit) {
    return durable.list(state, afterId, limit);
  }
}
