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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The scheduling state: every unfinished task in memory, in front of the durable store. What the
 * cycle reads (the queue in take order, tasks in flight, the tasks its events name) comes from
 * memory, in time proportional to what it returns, however many tasks are stored; finished tasks
 * leave memory once their end is durable and are read from the durable store.
 *
 * <p>Each write is applied to memory and answered from it at once, and recorded: one thread writes
 * the records to the durable store in the order memory took them, in the background. A submit or a
 * cancel returns only once its record is durable; the cycle's own writes (placements, launches,
 * what the backend reported) do not wait, and a crash may lose the last of them. That is safe
 * because the backend remembers what it launched, by attempt: reconciliation after a restart asks
 * it, and what the record lacks is done again or adopted, never launched twice.
 *
 * <p>The durable store applies the same lifecycle as memory and must give the same answers. If it
 * ever answers otherwise, or fails, memory is no longer trusted: the writes not yet recorded are
 * dropped, the next write loads memory again from the durable store, and {@link #generation()}
 * changes, telling the cycle to reconcile with the backend as after a restart.
 */
public final class SchedulingState implements TaskStore, AutoCloseable {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(SchedulingState.class);

  /** A write applied to memory, to apply to the durable store. */
  private record Record(
      String what,
      CrashPoints.Point recorded,
      Function<TaskStore, Object> op,
      Object remembered,
      List<String> finished,
      CompletableFuture<Object> durable) {}

  /** The crash points just after a write of these kinds became durable. */
  private static final Map<String, CrashPoints.Point> RECORDED =
      Map.of(
          "a batch assign", CrashPoints.Point.PLACEMENT_RECORDED,
          "a batch success", CrashPoints.Point.SUCCESS_RECORDED);

  private static final long SLOW_RECORD_MS = 1_000;

  private final TaskStore durable;
  private final CrashPoints crashPoints;
  private final Object writes = new Object(); // memory and the record's order, together
  private final LinkedBlockingQueue<Record> records = new LinkedBlockingQueue<>();
  private final Thread recorder;
  private final AtomicLong divergences = new AtomicLong();
  private final AtomicLong generation = new AtomicLong();
  private volatile InMemoryTaskStore memory;
  private volatile boolean stale; // memory lost writes: load it again before the next
  private volatile boolean closed;

  private SchedulingState(TaskStore durable, CrashPoints crashPoints) {
    this.durable = durable;
    this.crashPoints = crashPoints;
    this.memory = load();
    this.recorder = Thread.ofPlatform().daemon().name("stowage-state-recorder").start(this::record);
  }

  /** The state of {@code durable}'s unfinished tasks, loaded now. */
  public static SchedulingState load(TaskStore durable) {
    return load(durable, CrashPoints.NONE);
  }

  /** With the crash tests' {@code crashPoints} armed. */
  public static SchedulingState load(TaskStore durable, CrashPoints crashPoints) {
    return new SchedulingState(Objects.requireNonNull(durable, "durable"), crashPoints);
  }

  /**
   * Loads memory again from the durable store (after recording what is pending): when this instance
   * takes over scheduling. The generation changes.
   */
  public void reload() {
    synchronized (writes) {
      flush();
      memory = load();
      generation.incrementAndGet();
    }
  }

  @Override
  public long generation() {
    return generation.get();
  }

  /** How many times memory disagreed with the durable store and was loaded again: a bug each. */
  public long divergences() {
    return divergences.get();
  }

  /** Waits until every write so far is durable (or was dropped, memory being stale). */
  public void flush() {
    CompletableFuture<Object> last;
    synchronized (writes) {
      var marker = new CompletableFuture<Object>();
      records.add(new Record("a flush", null, s -> null, null, List.of(), marker));
      last = marker;
    }
    try {
      last.join();
    } catch (java.util.concurrent.CompletionException e) {
      // Dropped: nothing more to wait for.
    }
  }

  /** Records what is pending, then stops recording. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    flush();
    closed = true;
    recorder.interrupt();
    try {
      recorder.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private InMemoryTaskStore load() {
    Map<TaskState, Long> counts = durable.countByState();
    return InMemoryTaskStore.holdingUnfinished(durable.unfinished(), counts, this::finishedStates);
  }

  /** The states of tasks memory no longer holds: all finished and durable, so read from there. */
  private Map<String, TaskState> finishedStates(Collection<String> ids) {
    var out = new HashMap<String, TaskState>();
    // Mostly the new ids of a submit, stored nowhere: ask which exist first (ids only).
    Set<String> stored = durable.existing(ids);
    if (!stored.isEmpty()) {
      durable.getAll(stored).forEach((id, t) -> out.put(id, t.state()));
    }
    return out;
  }

  /**
   * One write: applied to memory (which may refuse it: then nothing is recorded) and recorded, in
   * that order for every write; with {@code acknowledged}, returns only once it is durable. Times
   * are cut by the caller to the durable store's precision (microseconds), so that both hold the
   * same instants.
   */
  /** {@link #write(String, Function, boolean)} for a write that answers nothing. */
  private void apply(String what, java.util.function.Consumer<TaskStore> op, boolean acknowledged) {
    write(
        what,
        (Function<TaskStore, Object>)
            s -> {
              op.accept(s);
              return null;
            },
        acknowledged);
  }

  @SuppressWarnings("unchecked")
  private <T> T write(String what, Function<TaskStore, T> op, boolean acknowledged) {
    Record r;
    synchronized (writes) {
      if (closed) {
        throw new IllegalStateException("the scheduling state is closed");
      }
      if (stale) {
        // A write that slipped in as memory went stale may still be on its way to the store:
        // let it land first, or the fresh memory would lack it for good.
        flush();
        memory = load(); // throws while the durable store is out of reach: the write fails
        stale = false;
        generation.incrementAndGet();
      }
      InMemoryTaskStore m = memory;
      T remembered = op.apply(m);
      r =
          new Record(
              what,
              RECORDED.get(what),
              (Function<TaskStore, Object>) op,
              remembered,
              m.takeFinished(),
              new CompletableFuture<>());
      records.add(r);
    }
    if (!acknowledged) {
      return (T) r.remembered();
    }
    try {
      return (T) r.durable().join();
    } catch (java.util.concurrent.CompletionException e) {
      if (e.getCause() instanceof RuntimeException cause) {
        throw cause;
      }
      throw e;
    }
  }

  /** The recorder's loop: each record to the durable store, in order. */
  private void record() {
    while (!closed || !records.isEmpty()) {
      Record r;
      try {
        r = records.take();
      } catch (InterruptedException e) {
        if (closed) {
          return;
        }
        continue;
      }
      if (r.recorded() == CrashPoints.Point.PLACEMENT_RECORDED
          && crashPoints.holdsPlacementRecords()) {
        holdUntilKilled();
      }
      Object stored;
      long started = System.nanoTime();
      try {
        stored = r.op().apply(durable);
        long ms = (System.nanoTime() - started) / 1_000_000;
        if (ms >= SLOW_RECORD_MS) {
          // Everything acknowledged after it waits as long: say so.
          LOG.warn("recording {} took {} ms ({} records waiting)", r.what(), ms, records.size());
        }
      } catch (RuntimeException e) {
        // Stale first: a caller woken by the failure finds memory to be loaded again.
        diverged(r.what(), e.toString());
        r.durable().completeExceptionally(e);
        continue;
      }
      if (!Objects.equals(stored, r.remembered())) {
        diverged(r.what(), "the store answered " + stored + ", memory " + r.remembered());
        r.durable().complete(stored);
        continue;
      }
      memory.forget(r.finished());
      r.durable().complete(stored);
      if (r.recorded() != null) {
        crashPoints.reach(r.recorded());
      }
    }
  }

  /** For a crash test: the record waits here for the kill that is coming. */
  private static void holdUntilKilled() {
    while (true) {
      try {
        Thread.sleep(60_000);
      } catch (InterruptedException e) {
        // still held
      }
    }
  }

  /**
   * Memory holds writes the durable store did not take: those not recorded yet are dropped (their
   * callers, if waiting, told so), and the next write loads memory again.
   */
  private void diverged(String what, String detail) {
    divergences.incrementAndGet();
    if (detail.length() > 300) {
      detail = detail.substring(0, 300) + "...";
    }
    LOG.error(
        "the task store did not take {} as the scheduling state did ({}): the state is loaded"
            + " again and the cycle reconciles with the backend",
        what,
        detail);
    stale = true;
    var dropped = new ArrayList<Record>();
    records.drainTo(dropped);
    var lost = new IllegalStateException("not recorded: an earlier write failed (" + what + ")");
    for (Record d : dropped) {
      d.durable().completeExceptionally(lost);
    }
  }

  private static Instant micros(Instant t) {
    return t == null ? null : t.truncatedTo(ChronoUnit.MICROS);
  }

  @Override
  public void submit(List<TaskSpec> batch, Map<String, String> neverSchedulable, Instant now) {
    Instant at = micros(now);
    apply("a submit", s -> s.submit(batch, neverSchedulable, at), true);
  }

  @Override
  public void recordError(String id, int attempt, String error) {
    apply("an error", s -> s.recordError(id, attempt, error), false);
  }

  @Override
  public void clearNeverSchedulable(Collection<String> ids) {
    apply("clearing flags", s -> s.clearNeverSchedulable(ids), false);
  }

  @Override
  public int assign(String id, String offer, Instant now) {
    Instant at = micros(now);
    return write("an assign", s -> s.assign(id, offer, at), false);
  }

  @Override
  public Map<String, Integer> assignAll(Map<String, String> offerByTask, Instant now) {
    Instant at = micros(now);
    return write("a batch assign", s -> s.assignAll(offerByTask, at), false);
  }

  @Override
  public Set<String> transitionAll(
      Collection<AttemptId> attempts, TaskState from, TaskState to, Instant now) {
    Instant at = micros(now);
    return write("a batch transition", s -> s.transitionAll(attempts, from, to, at), false);
  }

  @Override
  public Set<String> succeedAll(Collection<AttemptId> attempts, TaskState from, Instant now) {
    Instant at = micros(now);
    return write("a batch success", s -> s.succeedAll(attempts, from, at), false);
  }

  @Override
  public boolean requeue(String id, TaskState from, Instant notBefore, Instant now) {
    Instant at = micros(now);
    Instant due = micros(notBefore);
    return write("a requeue", s -> s.requeue(id, from, due, at), false);
  }

  @Override
  public boolean preempt(AttemptId attempt, TaskState from, String by, Instant now) {
    Instant at = micros(now);
    return write("a preemption", s -> s.preempt(attempt, from, by, at), false);
  }

  @Override
  public boolean unassign(String id, TaskState from, Instant now) {
    Instant at = micros(now);
    return write("an unassign", s -> s.unassign(id, from, at), false);
  }

  @Override
  public boolean transition(String id, TaskState from, TaskState to, Instant now) {
    Instant at = micros(now);
    // A cancel is acknowledged: it is durable when this returns.
    return write("a transition", s -> s.transition(id, from, to, at), to == TaskState.CANCELLED);
  }

  /**
   * A retry walks finished tasks, which memory no longer holds: so it is done by the durable store,
   * with every earlier write recorded first and no other write in between, and memory takes the
   * tasks it opened again. It returns once durable, as a cancel does.
   */
  @Override
  public List<StoredTask> retry(String id, TaskState from, Instant now) {
    TaskStores.requireRetryable(id, from);
    Instant at = micros(now);
    synchronized (writes) {
      if (closed) {
        throw new IllegalStateException("the scheduling state is closed");
      }
      flush();
      if (stale) {
        memory = load();
        stale = false;
        generation.incrementAndGet();
      }
      List<StoredTask> reopened = durable.retry(id, from, at);
      if (reopened.isEmpty()) {
        return reopened;
      }
      try {
        memory.takeBack(
            reopened, from, durable.dependantsOf(reopened.stream().map(StoredTask::id).toList()));
      } catch (RuntimeException e) {
        // The store has the retry and memory may lack part of it: load memory again next time.
        stale = true;
        throw e;
      }
      return reopened;
    }
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
  public List<StoredTask> processable(int limit, Instant now, QueueTurns turns) {
    return memory.processable(limit, now, turns);
  }

  @Override
  public Map<String, dev.stowage.engine.Resources> runningByQueue() {
    return memory.runningByQueue();
  }

  @Override
  public Map<String, QueueLoad> queueLoads(boolean oldest) {
    return memory.queueLoads(oldest);
  }

  @Override
  public boolean gangUnfinished(String gang) {
    return memory.gangUnfinished(gang);
  }

  @Override
  public Map<String, Integer> gangsInFlight(Collection<String> gangs) {
    return memory.gangsInFlight(gangs);
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

  /**
   * Pages in submit order mix finished and unfinished tasks: the durable store's, a consistent
   * snapshot that may lag memory by the writes not recorded yet (never by an acknowledged one).
   */
  /** As durable, like {@link #list}: the cycle's last writes may not be there yet. */
  @Override
  public List<AttemptRecord> attempts(String id) {
    return durable.attempts(id);
  }

  @Override
  public List<StoredTask> list(TaskState state, String afterId, int limit) {
    return durable.list(state, afterId, limit);
  }

  @Override
  public TaskFilter.Page newest(TaskFilter filter, String beforeId, int limit) {
    return durable.newest(filter, beforeId, limit);
  }

  @Override
  public java.util.Set<String> dependantsOf(Collection<String> ids) {
    return durable.dependantsOf(ids);
  }
}
