package dev.stowage.scheduler;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NavigableSet;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The task store in memory, with the same semantics as the PostgreSQL one: for tests of the cycle,
 * for embedding without a database, and as the memory of {@link SchedulingState}. Not durable.
 * Thread-safe: writes and the reads that span tasks lock; reads of tasks by id do not. Every call
 * that the cycle makes costs time in what it returns, not in how many tasks are held: queued tasks
 * wait in their queue already in the order the cycle takes them.
 */
public final class InMemoryTaskStore implements TaskStore {
  /** A task with its place in submit order. */
  private record Held(StoredTask task, long seq) {
    String id() {
      return task.id();
    }
  }

  /** The order the cycle takes queued tasks in, as the database orders them. */
  private static final Comparator<Held> TAKE_ORDER =
      Comparator.comparingInt((Held h) -> -h.task().spec().priority())
          .thenComparing(h -> h.task().submittedAt())
          .thenComparingLong(Held::seq);

  private static final Comparator<Held> BACKOFF_ORDER =
      Comparator.comparing((Held h) -> h.task().notBefore()).thenComparingLong(Held::seq);

  /**
   * The states of finished tasks a store that forgets them no longer holds, by id (ids not stored
   * are left out).
   */
  @FunctionalInterface
  interface Forgotten {
    Map<String, TaskState> states(Collection<String> ids);
  }

  // Read without the lock (one task at a time, each version immutable): a reader never waits for
  // the cycle's batch writes, which hold the lock for all their tasks.
  private final Map<String, Held> held = new java.util.concurrent.ConcurrentHashMap<>();
  // Submit order, by id: a task's place never changes, so updates leave this alone.
  private final NavigableMap<Long, String> bySeq = new TreeMap<>();
  private final Map<String, List<String>> dependants = new HashMap<>();
  // Queued tasks that may be placed now (backoff over, not flagged), per queue, in take order.
  // Hashed, not sorted: each queued task's move looks its queue up, and a sorted map's string
  // compares grew the cycle with the number of queues.
  private final Map<String, NavigableSet<Held>> queues = new HashMap<>();
  // Queued tasks still in their retry's backoff, soonest first: they join their queue when due.
  private final NavigableSet<Held> backingOff = new TreeSet<>(BACKOFF_ORDER);
  private final Set<String> flagged = new HashSet<>(); // never schedulable, not finished
  // Per queue: [queued tasks, tasks in flight, what those hold by dimension], kept as tasks move,
  // so that the order stage reads each queue's share without a scan.
  private final Map<String, long[]> queueCounts = new HashMap<>();
  // Per gang: [tasks not finished, tasks in flight], for the submit's check and the gang rule.
  private final Map<String, int[]> gangCounts = new HashMap<>();
  private final long[] counts = new long[TaskState.values().length]; // by ordinal
  private final Forgotten forgotten; // null: finished tasks are kept
  private final List<String> finishing = new ArrayList<>(); // finished, not forgotten yet
  // Kept only when finished tasks are (the twin of a durable store): per task, the current
  // attempt's step times [placed, staged, launched, started], and the attempts that ended.
  private final Map<String, Instant[]> steps = new HashMap<>();
  private final Map<String, List<AttemptRecord>> ended = new HashMap<>();
  private long seq;

  public InMemoryTaskStore() {
    this.forgotten = null;
  }

  private InMemoryTaskStore(Forgotten forgotten) {
    this.forgotten = forgotten;
  }

  /**
   * A store holding only unfinished tasks: these, in submit order, and each task submitted later
   * until it finishes. {@code counts} are every stored task's states, finished ones included, which
   * it goes on counting; {@code forgotten} answers for the finished tasks it does not hold.
   */
  static InMemoryTaskStore holdingUnfinished(
      List<StoredTask> unfinished, Map<TaskState, Long> counts, Forgotten forgotten) {
    var store = new InMemoryTaskStore(forgotten);
    for (StoredTask t : unfinished) {
      if (t.state().isTerminal()) {
        throw new IllegalArgumentException("task " + t.id() + " is finished: " + t.state());
      }
      store.hold(t);
    }
    for (StoredTask t : unfinished) {
      for (String d : t.spec().dependsOn()) {
        if (store.held.containsKey(d)) {
          store.dependants.computeIfAbsent(d, k -> new ArrayList<>()).add(t.id());
        }
      }
    }
    java.util.Arrays.fill(store.counts, 0);
    counts.forEach((state, n) -> store.counts[state.ordinal()] = n);
    return store;
  }

  @Override
  public synchronized void submit(
      List<TaskSpec> batch, Map<String, String> neverSchedulable, Instant now) {
    var named = new LinkedHashSet<String>();
    for (TaskSpec t : batch) {
      named.add(t.id());
      named.addAll(t.dependsOn());
    }
    var states = new HashMap<String, TaskState>();
    var notHeld = new ArrayList<String>();
    for (String id : named) {
      Held h = held.get(id);
      if (h != null) {
        states.put(id, h.task().state());
      } else {
        notHeld.add(id); // finished and forgotten, or not stored
      }
    }
    if (forgotten != null && !notHeld.isEmpty()) {
      states.putAll(forgotten.states(notHeld));
    }
    Submissions.check(batch, states.keySet(), gangCounts::containsKey);
    Submissions.refuseTaken(batch, states.keySet());
    Set<String> doomed = Submissions.doomed(batch, states);
    var submitted = new ArrayList<StoredTask>(batch.size());
    for (TaskSpec t : batch) {
      var deps = new LinkedHashSet<>(t.dependsOn());
      int pending = 0;
      for (String d : deps) {
        if (states.get(d) != TaskState.SUCCEEDED) {
          pending++;
        }
      }
      TaskState state =
          doomed.contains(t.id())
              ? TaskState.UPSTREAM_FAILED
              : pending == 0 ? TaskState.QUEUED : TaskState.WAITING;
      states.put(t.id(), state);
      var spec = t.withDependsOn(new java.util.TreeSet<>(deps).toArray(String[]::new));
      submitted.add(
          new StoredTask(
              spec, state, 0, null, pending, null, now, now, neverSchedulable.get(t.id()), null));
    }
    for (StoredTask t : submitted) {
      hold(t);
      counts[t.state().ordinal()]++;
    }
    for (StoredTask t : submitted) {
      for (String d : t.spec().dependsOn()) {
        if (held.containsKey(d)) {
          dependants.computeIfAbsent(d, k -> new ArrayList<>()).add(t.id());
        }
      }
    }
    for (StoredTask t : submitted) {
      forgetIfFinished(t);
    }
  }

  @Override
  public synchronized List<StoredTask> list(TaskState state, String afterId, int limit) {
    long after;
    if (afterId == null) {
      after = -1;
    } else {
      Held h = held.get(afterId);
      if (h == null) {
        return List.of();
      }
      after = h.seq();
    }
    var out = new ArrayList<StoredTask>();
    for (String id : bySeq.tailMap(after, false).values()) {
      if (out.size() >= limit) {
        break;
      }
      Held h = held.get(id);
      if (state == null || h.task().state() == state) {
        out.add(h.task());
      }
    }
    return out;
  }

  @Override
  public synchronized TaskFilter.Page newest(TaskFilter filter, String beforeId, int limit) {
    var before = bySeq;
    if (beforeId != null) {
      Held h = held.get(beforeId);
      if (h == null) {
        return new TaskFilter.Page(List.of(), null);
      }
      before = bySeq.headMap(h.seq(), false);
    }
    var out = new ArrayList<StoredTask>();
    int searched = 0;
    String last = null;
    for (String id : before.descendingMap().values()) {
      if (out.size() >= limit) {
        return new TaskFilter.Page(out, null);
      }
      if (searched == TaskFilter.SEARCHED_MAX) {
        return new TaskFilter.Page(out, last);
      }
      StoredTask t = held.get(id).task();
      searched++;
      last = id;
      if (filter.test(t)) {
        out.add(t);
      }
    }
    return new TaskFilter.Page(out, null);
  }

  @Override
  public synchronized Set<String> dependantsOf(Collection<String> ids) {
    var out = new java.util.TreeSet<String>();
    var wanted = Set.copyOf(ids);
    for (Held h : held.values()) {
      for (String d : h.task().spec().dependsOn()) {
        if (wanted.contains(d)) {
          out.add(h.id());
        }
      }
    }
    return out;
  }

  @Override
  public synchronized List<StoredTask> inFlight() {
    var out = new ArrayList<StoredTask>();
    for (String id : bySeq.values()) {
      Held h = held.get(id);
      if (IN_FLIGHT.contains(h.task().state())) {
        out.add(h.task());
      }
    }
    return out;
  }

  @Override
  public synchronized List<StoredTask> unfinished() {
    var out = new ArrayList<StoredTask>();
    for (String id : bySeq.values()) {
      Held h = held.get(id);
      if (!h.task().state().isTerminal()) {
        out.add(h.task());
      }
    }
    return out;
  }

  @Override
  public synchronized Map<TaskState, Long> countByState() {
    var out = new EnumMap<TaskState, Long>(TaskState.class);
    for (TaskState state : TaskState.values()) {
      if (counts[state.ordinal()] > 0) {
        out.put(state, counts[state.ordinal()]);
      }
    }
    return out;
  }

  @Override
  public synchronized long countNeverSchedulable() {
    long n = 0;
    for (String id : flagged) {
      if (held.get(id).task().state() == TaskState.QUEUED) {
        n++;
      }
    }
    return n;
  }

  @Override
  public synchronized List<StoredTask> neverSchedulable() {
    var out = new ArrayList<Held>();
    for (String id : flagged) {
      out.add(held.get(id));
    }
    out.sort(Comparator.comparingLong(Held::seq));
    return out.stream().map(Held::task).toList();
  }

  @Override
  public synchronized void recordError(String id, int attempt, String error) {
    Held h = held.get(id);
    if (h != null && h.task().attempt() == attempt) {
      replace(h, withNotes(h.task(), h.task().neverSchedulable(), error));
    }
  }

  /** The same task with other notes (never-schedulable reason, last error); its state unchanged. */
  private static StoredTask withNotes(StoredTask t, String neverSchedulable, String lastError) {
    return new StoredTask(
        t.spec(),
        t.state(),
        t.attempt(),
        t.offer(),
        t.pendingDependencies(),
        t.notBefore(),
        t.submittedAt(),
        t.updatedAt(),
        neverSchedulable,
        lastError,
        t.preemptions(),
        t.preemptedBy(),
        t.attemptsBeforeRetry());
  }

  @Override
  public synchronized void clearNeverSchedulable(Collection<String> ids) {
    for (String id : ids) {
      Held h = held.get(id);
      if (h != null && h.task().neverSchedulable() != null) {
        replace(h, withNotes(h.task(), null, h.task().lastError()));
      }
    }
  }

  private static final Set<TaskState> IN_FLIGHT =
      java.util.EnumSet.of(
          TaskState.ASSIGNED, TaskState.STAGING, TaskState.LAUNCHED, TaskState.RUNNING);

  @Override
  public synchronized Set<String> existing(Collection<String> ids) {
    var out = new HashSet<String>();
    var notHeld = new ArrayList<String>();
    for (String id : ids) {
      (held.containsKey(id) ? out : notHeld).add(id);
    }
    if (forgotten != null && !notHeld.isEmpty()) {
      out.addAll(forgotten.states(notHeld).keySet());
    }
    return out;
  }

  /** Which of these ids this store holds (in a store that forgets, the unfinished ones). */
  Set<String> holding(Collection<String> ids) {
    var out = new HashSet<String>();
    for (String id : ids) {
      if (held.containsKey(id)) {
        out.add(id);
      }
    }
    return out;
  }

  @Override
  public Map<String, StoredTask> getAll(Collection<String> ids) {
    var out = new HashMap<String, StoredTask>();
    for (String id : ids) {
      Held h = held.get(id);
      if (h != null) {
        out.put(id, h.task());
      }
    }
    return out;
  }

  @Override
  public Optional<StoredTask> get(String id) {
    Held h = held.get(id);
    return h == null ? Optional.empty() : Optional.of(h.task());
  }

  @Override
  public synchronized List<StoredTask> processable(int limit, Instant now) {
    promoteDue(now);
    var out = new ArrayList<StoredTask>(Math.min(limit, 1024));
    if (limit <= 0) {
      return out;
    }
    // Each queue is already in take order: merge their heads.
    var heads = new PriorityQueue<Head>((a, b) -> TAKE_ORDER.compare(a.next, b.next));
    for (NavigableSet<Held> q : queues.values()) {
      Iterator<Held> it = q.iterator();
      if (it.hasNext()) {
        heads.add(new Head(it.next(), it));
      }
    }
    while (!heads.isEmpty() && out.size() < limit) {
      Head head = heads.poll();
      StoredTask t = head.next.task();
      // Due by the latest time asked about, but maybe not by this (earlier) one.
      if (t.notBefore() == null || !t.notBefore().isAfter(now)) {
        out.add(t);
      }
      if (head.rest.hasNext()) {
        head.next = head.rest.next();
        heads.add(head);
      }
    }
    return out;
  }

  @Override
  public synchronized List<StoredTask> processable(int limit, Instant now, QueueTurns turns) {
    promoteDue(now);
    var names = new ArrayList<String>();
    var heads = new ArrayList<Iterator<StoredTask>>();
    for (var e : new TreeMap<>(queues).entrySet()) {
      if (!e.getValue().isEmpty()) {
        names.add(e.getKey());
        heads.add(due(e.getValue().iterator(), now));
      }
    }
    return QueueTurns.take(names, heads, limit, turns);
  }

  /** A queue's tasks due by {@code now}, in its order. */
  private static Iterator<StoredTask> due(Iterator<Held> queue, Instant now) {
    return new Iterator<>() {
      StoredTask next = advance();

      private StoredTask advance() {
        while (queue.hasNext()) {
          StoredTask t = queue.next().task();
          // Due by the latest time asked about, but maybe not by this (earlier) one.
          if (t.notBefore() == null || !t.notBefore().isAfter(now)) {
            return t;
          }
        }
        return null;
      }

      @Override
      public boolean hasNext() {
        return next != null;
      }

      @Override
      public StoredTask next() {
        if (next == null) {
          throw new java.util.NoSuchElementException();
        }
        StoredTask t = next;
        next = advance();
        return t;
      }
    };
  }

  private void promoteDue(Instant now) {
    while (!backingOff.isEmpty() && !backingOff.first().task().notBefore().isAfter(now)) {
      Held due = backingOff.pollFirst();
      queue(due).add(due);
    }
  }

  @Override
  public synchronized Map<String, dev.stowage.engine.Resources> runningByQueue() {
    var out = new TreeMap<String, dev.stowage.engine.Resources>();
    queueCounts.forEach(
        (q, c) -> {
          if (c[1] > 0) {
            out.put(q, new dev.stowage.engine.Resources(c[2], c[3], c[4], c[5]));
          }
        });
    return out;
  }

  @Override
  public synchronized Map<String, QueueLoad> queueLoads(boolean withOldest) {
    // The oldest queued task of each queue: each queue's sets are in take order, not age order,
    // so this reads every queued task (an API call's cost, never the cycle's).
    var oldest = new HashMap<String, StoredTask>();
    if (!withOldest) {
      return loads(oldest);
    }
    java.util.function.Consumer<Held> consider =
        h ->
            oldest.merge(
                h.task().spec().queue(),
                h.task(),
                (x, y) -> y.queuedSince().isBefore(x.queuedSince()) ? y : x);
    queues.values().forEach(q -> q.forEach(consider));
    backingOff.forEach(consider);
    for (String id : flagged) {
      Held h = held.get(id);
      if (h != null && h.task().state() == TaskState.QUEUED) {
        consider.accept(h);
      }
    }
    return loads(oldest);
  }

  private Map<String, QueueLoad> loads(Map<String, StoredTask> oldest) {
    var out = new TreeMap<String, QueueLoad>();
    queueCounts.forEach(
        (q, c) -> {
          if (c[0] > 0 || c[1] > 0) {
            StoredTask o = oldest.get(q);
            out.put(
                q,
                new QueueLoad(
                    c[0],
                    c[1],
                    new dev.stowage.engine.Resources(c[2], c[3], c[4], c[5]),
                    o == null ? null : o.id(),
                    o == null ? null : o.queuedSince()));
          }
        });
    return out;
  }

  /** The next task of one queue, and the rest of it. */
  private static final class Head {
    Held next;
    final Iterator<Held> rest;

    Head(Held next, Iterator<Held> rest) {
      this.next = next;
      this.rest = rest;
    }
  }

  @Override
  public synchronized int assign(String id, String offer, Instant now) {
    Held h = held.get(id);
    if (h == null || h.task().state() != TaskState.QUEUED) {
      return 0;
    }
    StoredTask t = h.task();
    int attempt = t.attempt() + 1;
    put(h, TaskState.ASSIGNED, attempt, offer, t.pendingDependencies(), null, now);
    return attempt;
  }

  @Override
  public synchronized Map<String, Integer> assignAll(Map<String, String> offerByTask, Instant now) {
    var out = new HashMap<String, Integer>();
    offerByTask.forEach(
        (id, offer) -> {
          int attempt = assign(id, offer, now);
          if (attempt > 0) {
            out.put(id, attempt);
          }
        });
    return out;
  }

  @Override
  public synchronized Set<String> transitionAll(
      Collection<AttemptId> attempts, TaskState from, TaskState to, Instant now) {
    TaskStores.requireSideEffectFree(from, to);
    var out = new HashSet<String>();
    for (AttemptId a : attempts) {
      Held h = held.get(a.taskId());
      if (h != null && h.task().attempt() == a.attempt() && transition(a.taskId(), from, to, now)) {
        out.add(a.taskId());
      }
    }
    return out;
  }

  @Override
  public synchronized Set<String> succeedAll(
      Collection<AttemptId> attempts, TaskState from, Instant now) {
    if (!from.canMoveTo(TaskState.SUCCEEDED)) {
      throw new IllegalArgumentException(
          "illegal task transition " + from.label() + " -> succeeded");
    }
    var out = new HashSet<String>();
    for (AttemptId a : attempts) {
      Held h = held.get(a.taskId());
      if (h != null
          && h.task().attempt() == a.attempt()
          && transition(a.taskId(), from, TaskState.SUCCEEDED, now)) {
        out.add(a.taskId());
      }
    }
    return out;
  }

  @Override
  public synchronized boolean requeue(String id, TaskState from, Instant notBefore, Instant now) {
    if (!from.canMoveTo(TaskState.QUEUED)) {
      throw new IllegalArgumentException(
          "illegal task transition " + from.label() + " -> queued for task " + id);
    }
    Held h = held.get(id);
    if (h == null || h.task().state() != from) {
      return false;
    }
    put(
        h,
        TaskState.QUEUED,
        h.task().attempt(),
        null,
        h.task().pendingDependencies(),
        notBefore,
        now);
    return true;
  }

  @Override
  public synchronized boolean preempt(AttemptId attempt, TaskState from, String by, Instant now) {
    if (from != TaskState.LAUNCHED && from != TaskState.RUNNING) {
      throw new IllegalArgumentException(
          "only a launched or running task is preempted, not " + from);
    }
    Held h = held.get(attempt.taskId());
    if (h == null || h.task().state() != from || h.task().attempt() != attempt.attempt()) {
      return false;
    }
    StoredTask t = h.task();
    counts[t.state().ordinal()]--;
    counts[TaskState.QUEUED.ordinal()]++;
    replace(
        h,
        new StoredTask(
            t.spec(),
            TaskState.QUEUED,
            t.attempt(),
            null,
            t.pendingDependencies(),
            null,
            t.submittedAt(),
            now,
            t.neverSchedulable(),
            "attempt " + t.attempt() + " preempted by " + by,
            t.preemptions() + 1,
            by,
            t.attemptsBeforeRetry()));
    return true;
  }

  @Override
  public synchronized boolean unassign(String id, TaskState from, Instant now) {
    if (from != TaskState.ASSIGNED && from != TaskState.STAGING) {
      throw new IllegalArgumentException("only a task not yet launched is unassigned, not " + from);
    }
    Held h = held.get(id);
    if (h == null || h.task().state() != from) {
      return false;
    }
    put(
        h,
        TaskState.QUEUED,
        Math.max(0, h.task().attempt() - 1),
        null,
        h.task().pendingDependencies(),
        null,
        now);
    return true;
  }

  @Override
  public synchronized boolean transition(String id, TaskState from, TaskState to, Instant now) {
    if (!from.canMoveTo(to)) {
      throw new IllegalArgumentException(
          "illegal task transition " + from.label() + " -> " + to.label() + " for task " + id);
    }
    Held h = held.get(id);
    if (h == null || h.task().state() != from) {
      return false;
    }
    StoredTask t = h.task();
    if (to == TaskState.SUCCEEDED) {
      for (String d : dependants.getOrDefault(id, List.of())) {
        Held dep = held.get(d);
        if (dep == null) {
          continue;
        }
        StoredTask dt = dep.task();
        int pending = dt.pendingDependencies() - 1;
        TaskState s =
            dt.state() == TaskState.WAITING && pending == 0 ? TaskState.QUEUED : dt.state();
        put(dep, s, dt.attempt(), dt.offer(), pending, dt.notBefore(), now);
      }
    } else if (to.blocksDependants()) {
      // The waiting tasks below, through waiting tasks only, as the database walks them: one
      // not waiting was doomed already, or still runs and dooms its own dependants when it ends.
      // So a finished task, which may be forgotten, never has to be walked through.
      List<String> below = dependants.getOrDefault(id, List.of());
      var stack = new ArrayList<>(below);
      var seen = new HashSet<>(below);
      while (!stack.isEmpty()) {
        Held dep = held.get(stack.removeLast());
        if (dep == null || dep.task().state() != TaskState.WAITING) {
          continue;
        }
        for (String next : dependants.getOrDefault(dep.id(), List.of())) {
          if (seen.add(next)) {
            stack.add(next);
          }
        }
        StoredTask dt = dep.task();
        put(
            dep,
            TaskState.UPSTREAM_FAILED,
            dt.attempt(),
            dt.offer(),
            dt.pendingDependencies(),
            dt.notBefore(),
            now);
      }
    }
    put(h, to, t.attempt(), t.offer(), t.pendingDependencies(), t.notBefore(), now);
    return true;
  }

  @Override
  public synchronized List<StoredTask> retry(String id, TaskState from, Instant now) {
    TaskStores.requireRetryable(id, from);
    if (forgotten != null) {
      throw new IllegalStateException(
          "a store holding only unfinished tasks cannot walk the finished ones: retry "
              + id
              + " in the durable store and take the tasks back");
    }
    Held h = held.get(id);
    if (h == null || h.task().state() != from) {
      return List.of();
    }
    // What each task opened again is now, for the checks of those below it.
    var reopened = new HashMap<String, TaskState>();
    StoredTask t = h.task();
    TaskState to = reopenedState(t, reopened);
    reopened.put(id, to);
    var below = new TreeSet<String>();
    var frontier = to.blocksDependants() ? List.<String>of() : List.of(id);
    while (!frontier.isEmpty()) {
      var next = new ArrayList<String>();
      for (String f : frontier) {
        for (String d : dependants.getOrDefault(f, List.of())) {
          Held dh = held.get(d);
          if (dh == null
              || reopened.containsKey(d)
              || dh.task().state() != TaskState.UPSTREAM_FAILED
              || reopenedState(dh.task(), reopened).blocksDependants()) {
            continue;
          }
          reopened.put(d, TaskState.WAITING);
          below.add(d);
          next.add(d);
        }
      }
      frontier = next;
    }
    var out = new ArrayList<StoredTask>(1 + below.size());
    out.add(
        new StoredTask(
            t.spec(),
            to,
            t.attempt(),
            null,
            pendingOf(t),
            now,
            t.submittedAt(),
            now,
            t.neverSchedulable(),
            t.lastError(),
            t.preemptions(),
            t.preemptedBy(),
            t.attempt() - t.preemptions()));
    for (String d : below) {
      StoredTask dt = held.get(d).task();
      out.add(
          new StoredTask(
              dt.spec(),
              TaskState.WAITING,
              dt.attempt(),
              dt.offer(),
              pendingOf(dt),
              dt.notBefore(),
              dt.submittedAt(),
              now,
              dt.neverSchedulable(),
              dt.lastError(),
              dt.preemptions(),
              dt.preemptedBy(),
              dt.attemptsBeforeRetry()));
    }
    takeBack(out, from, Set.of());
    return out;
  }

  /**
   * Where a task opened again goes: upstream_failed if a dependency blocks it, queued if all have
   * succeeded, else waiting ({@code reopened} overrides the states of tasks this retry opens).
   */
  private TaskState reopenedState(StoredTask t, Map<String, TaskState> reopened) {
    boolean waits = false;
    for (String d : t.spec().dependsOn()) {
      TaskState s = reopened.getOrDefault(d, held.get(d).task().state());
      if (s.blocksDependants()) {
        return TaskState.UPSTREAM_FAILED;
      }
      waits |= s != TaskState.SUCCEEDED;
    }
    return waits ? TaskState.WAITING : TaskState.QUEUED;
  }

  private int pendingOf(StoredTask t) {
    int pending = 0;
    for (String d : t.spec().dependsOn()) {
      if (held.get(d).task().state() != TaskState.SUCCEEDED) {
        pending++;
      }
    }
    return pending;
  }

  /**
   * Takes in the tasks a retry opened again (as {@link #retry} answers them: the first was {@code
   * from}, the others upstream_failed), each at the end of submit order, in this order. {@code
   * dependantsOfThem} names tasks that depend on them, some perhaps held: those are linked to them.
   */
  synchronized void takeBack(
      List<StoredTask> reopened, TaskState from, Collection<String> dependantsOfThem) {
    var ids = new HashSet<String>();
    for (int i = 0; i < reopened.size(); i++) {
      StoredTask t = reopened.get(i);
      ids.add(t.id());
      Held old = held.remove(t.id());
      if (old != null) {
        bySeq.remove(old.seq());
        unindex(old);
      }
      counts[(i == 0 ? from : TaskState.UPSTREAM_FAILED).ordinal()]--;
      counts[t.state().ordinal()]++;
      if (forgotten == null || !t.state().isTerminal()) {
        hold(t);
      }
    }
    for (StoredTask t : reopened) {
      if (held.containsKey(t.id())) {
        link(t);
      }
    }
    for (String d : dependantsOfThem) {
      Held h = held.get(d);
      if (h != null && !ids.contains(d)) {
        link(h.task());
      }
    }
  }

  /** Lists a held task among the dependants of each of its dependencies held. */
  private void link(StoredTask t) {
    for (String d : t.spec().dependsOn()) {
      if (held.containsKey(d)) {
        List<String> below = dependants.computeIfAbsent(d, k -> new ArrayList<>());
        if (!below.contains(t.id())) {
          below.add(t.id());
        }
      }
    }
  }

  private void put(
      Held h,
      TaskState state,
      int attempt,
      String offer,
      int pending,
      Instant notBefore,
      Instant now) {
    StoredTask t = h.task();
    counts[t.state().ordinal()]--;
    counts[state.ordinal()]++;
    replace(
        h,
        new StoredTask(
            t.spec(),
            state,
            attempt,
            offer,
            pending,
            notBefore,
            t.submittedAt(),
            now,
            t.neverSchedulable(),
            t.lastError(),
            t.preemptions(),
            t.preemptedBy(),
            t.attemptsBeforeRetry()));
  }

  /** Puts a new version of a held task in place of the old, in every index. */
  private void replace(Held old, StoredTask task) {
    if (forgotten == null && task.state() != old.task().state()) {
      recordAttempt(old.task(), task);
    }
    unindex(old);
    var h = new Held(task, old.seq());
    held.put(task.id(), h);
    index(h);
    forgetIfFinished(task);
  }

  /** The attempt history a durable store keeps with each state change: the same rules. */
  private void recordAttempt(StoredTask was, StoredTask now) {
    Instant at = now.updatedAt();
    switch (now.state()) {
      case ASSIGNED -> steps.put(now.id(), new Instant[] {at, null, null, null});
      case STAGING -> stepsOf(now.id())[1] = at;
      case LAUNCHED -> stepsOf(now.id())[2] = at;
      case RUNNING -> stepsOf(now.id())[3] = at;
      default -> {}
    }
    boolean endsAttempt =
        was.state().isInFlight()
            && (now.state().isTerminal() || now.state() == TaskState.QUEUED)
            && now.attempt() == was.attempt()
            && was.attempt() >= 1;
    if (!endsAttempt) {
      return;
    }
    AttemptRecord.Outcome outcome =
        switch (now.state()) {
          case SUCCEEDED -> AttemptRecord.Outcome.SUCCEEDED;
          case FAILED -> AttemptRecord.Outcome.FAILED;
          case CANCELLED -> AttemptRecord.Outcome.CANCELLED;
          default ->
              now.preemptions() > was.preemptions()
                  ? AttemptRecord.Outcome.PREEMPTED
                  : AttemptRecord.Outcome.REQUEUED;
        };
    Instant[] s = stepsOf(now.id());
    ended
        .computeIfAbsent(now.id(), k -> new ArrayList<>())
        .add(
            new AttemptRecord(
                was.attempt(),
                was.offer(),
                s[0],
                s[1],
                s[2],
                s[3],
                at,
                outcome,
                outcome == AttemptRecord.Outcome.SUCCEEDED
                        || outcome == AttemptRecord.Outcome.CANCELLED
                    ? null
                    : now.lastError()));
  }

  private Instant[] stepsOf(String id) {
    return steps.computeIfAbsent(id, k -> new Instant[4]);
  }

  @Override
  public synchronized List<AttemptRecord> attempts(String id) {
    var out = new ArrayList<>(ended.getOrDefault(id, List.of()));
    Held h = held.get(id);
    if (h != null && h.task().state().isInFlight()) {
      Instant[] s = stepsOf(id);
      out.add(
          new AttemptRecord(
              h.task().attempt(), h.task().offer(), s[0], s[1], s[2], s[3], null, null, null));
    }
    return out;
  }

  /** Takes a task in at the end of submit order. */
  private void hold(StoredTask t) {
    var h = new Held(t, seq++);
    held.put(t.id(), h);
    bySeq.put(h.seq(), t.id());
    index(h);
  }

  /**
   * A finished task is only marked here: it is forgotten when {@link #forget} says its end is
   * durable, so that until then it is read from memory, not from a store that lacks it.
   */
  private void forgetIfFinished(StoredTask t) {
    if (forgotten != null && t.state().isTerminal()) {
      finishing.add(t.id());
    }
  }

  /** The tasks that finished since the last call: to {@link #forget} once that is durable. */
  synchronized List<String> takeFinished() {
    if (finishing.isEmpty()) {
      return List.of();
    }
    var out = List.copyOf(finishing);
    finishing.clear();
    return out;
  }

  /** Forgets these tasks if they are (still) finished: the durable store has them now. */
  synchronized void forget(Collection<String> ids) {
    for (String id : ids) {
      Held h = held.get(id);
      if (h != null && h.task().state().isTerminal()) {
        held.remove(id);
        bySeq.remove(h.seq());
        unindex(h);
        dependants.remove(id);
      }
    }
  }

  private void index(Held h) {
    StoredTask t = h.task();
    count(t, 1);
    countGang(t, 1);
    if (t.neverSchedulable() != null
        && (t.state() == TaskState.WAITING || t.state() == TaskState.QUEUED)) {
      flagged.add(t.id());
    }
    if (t.state() == TaskState.QUEUED && t.neverSchedulable() == null) {
      (t.notBefore() == null ? queue(h) : backingOff).add(h);
    }
  }

  private void unindex(Held h) {
    StoredTask t = h.task();
    count(t, -1);
    countGang(t, -1);
    if (t.neverSchedulable() != null) {
      flagged.remove(h.id());
    }
    if (t.state() == TaskState.QUEUED && t.neverSchedulable() == null) {
      if (!queue(h).remove(h)) {
        backingOff.remove(h);
      }
    }
  }

  private NavigableSet<Held> queue(Held h) {
    return queues.computeIfAbsent(h.task().spec().queue(), q -> new TreeSet<>(TAKE_ORDER));
  }

  private void countGang(StoredTask t, int sign) {
    Gang g = t.spec().gang();
    if (g == null || t.state().isTerminal()) {
      return;
    }
    int[] c = gangCounts.computeIfAbsent(g.name(), n -> new int[2]);
    c[0] += sign;
    if (t.state().isInFlight()) {
      c[1] += sign;
    }
    if (c[0] == 0) {
      gangCounts.remove(g.name());
    }
  }

  @Override
  public synchronized boolean gangUnfinished(String gang) {
    return gangCounts.containsKey(gang);
  }

  @Override
  public synchronized Map<String, Integer> gangsInFlight(Collection<String> gangs) {
    var out = new HashMap<String, Integer>();
    for (String g : gangs) {
      int[] c = gangCounts.get(g);
      if (c != null && c[1] > 0) {
        out.put(g, c[1]);
      }
    }
    return out;
  }

  private void count(StoredTask t, int sign) {
    boolean queued = t.state() == TaskState.QUEUED;
    if (!queued && !t.state().isInFlight()) {
      return;
    }
    long[] c = queueCounts.computeIfAbsent(t.spec().queue(), q -> new long[6]);
    if (queued) {
      c[0] += sign;
    } else {
      c[1] += sign;
      for (int d = 0; d < 4; d++) {
        c[2 + d] += sign * t.spec().resources().get(d);
      }
    }
  }
}
