package dev.stowage.scheduler;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The task store in memory, with the same semantics as the PostgreSQL one: for tests of the cycle
 * and for embedding without a database. Not durable. Thread-safe by locking.
 */
public final class InMemoryTaskStore implements TaskStore {
  private final Map<String, StoredTask> tasks = new HashMap<>();
  private final Map<String, Long> order = new HashMap<>();
  private final Map<String, List<String>> dependants = new HashMap<>();
  private long seq;

  @Override
  public synchronized void submit(
      List<TaskSpec> batch, java.util.Map<String, String> neverSchedulable, Instant now) {
    var named = new HashSet<String>();
    for (TaskSpec t : batch) {
      named.add(t.id());
      named.addAll(t.dependsOn());
    }
    named.retainAll(tasks.keySet());
    Submissions.check(batch, named);
    Submissions.refuseTaken(batch, named);
    var states = new HashMap<String, TaskState>();
    for (String id : named) {
      states.put(id, tasks.get(id).state());
    }
    Set<String> doomed = Submissions.doomed(batch, states);
    for (TaskSpec t : batch) {
      var deps = new LinkedHashSet<>(t.dependsOn());
      int pending = 0;
      for (String d : deps) {
        StoredTask stored = tasks.get(d);
        if (stored == null || stored.state() != TaskState.SUCCEEDED) {
          pending++;
        }
        dependants.computeIfAbsent(d, k -> new ArrayList<>()).add(t.id());
      }
      TaskState state =
          doomed.contains(t.id())
              ? TaskState.UPSTREAM_FAILED
              : pending == 0 ? TaskState.QUEUED : TaskState.WAITING;
      var spec = withDependencies(t, List.copyOf(new java.util.TreeSet<>(deps)));
      tasks.put(
          t.id(),
          new StoredTask(
              spec, state, 0, null, pending, null, now, now, neverSchedulable.get(t.id()), null));
      order.put(t.id(), seq++);
    }
  }

  @Override
  public synchronized List<StoredTask> list(TaskState state, String afterId, int limit) {
    long after = afterId == null ? -1 : order.getOrDefault(afterId, Long.MAX_VALUE);
    return tasks.values().stream()
        .filter(t -> state == null || t.state() == state)
        .filter(t -> order.get(t.id()) > after)
        .sorted(Comparator.comparing(t -> order.get(t.id())))
        .limit(limit)
        .toList();
  }

  @Override
  public synchronized List<StoredTask> inFlight() {
    return tasks.values().stream().filter(t -> IN_FLIGHT.contains(t.state())).toList();
  }

  @Override
  public synchronized java.util.Map<TaskState, Long> countByState() {
    var out = new java.util.EnumMap<TaskState, Long>(TaskState.class);
    for (StoredTask t : tasks.values()) {
      out.merge(t.state(), 1L, Long::sum);
    }
    return out;
  }

  @Override
  public synchronized List<StoredTask> neverSchedulable() {
    return tasks.values().stream()
        .filter(t -> t.neverSchedulable() != null && !t.state().isTerminal())
        .toList();
  }

  @Override
  public synchronized void recordError(String id, int attempt, String error) {
    StoredTask t = tasks.get(id);
    if (t != null && t.attempt() == attempt) {
      tasks.put(id, withNotes(t, t.neverSchedulable(), error));
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
        lastError);
  }

  @Override
  public synchronized void clearNeverSchedulable(java.util.Collection<String> ids) {
    for (String id : ids) {
      StoredTask t = tasks.get(id);
      if (t != null && t.neverSchedulable() != null) {
        tasks.put(id, withNotes(t, null, t.lastError()));
      }
    }
  }

  private static final java.util.Set<TaskState> IN_FLIGHT =
      java.util.EnumSet.of(
          TaskState.ASSIGNED, TaskState.STAGING, TaskState.LAUNCHED, TaskState.RUNNING);

  @Override
  public synchronized java.util.Set<String> existing(java.util.Collection<String> ids) {
    var out = new HashSet<String>(ids);
    out.retainAll(tasks.keySet());
    return out;
  }

  @Override
  public synchronized Map<String, StoredTask> getAll(java.util.Collection<String> ids) {
    var out = new HashMap<String, StoredTask>();
    for (String id : ids) {
      StoredTask t = tasks.get(id);
      if (t != null) {
        out.put(id, t);
      }
    }
    return out;
  }

  @Override
  public synchronized Optional<StoredTask> get(String id) {
    return Optional.ofNullable(tasks.get(id));
  }

  @Override
  public synchronized List<StoredTask> processable(int limit, Instant now) {
    return tasks.values().stream()
        .filter(t -> t.state() == TaskState.QUEUED && t.neverSchedulable() == null)
        .filter(t -> t.notBefore() == null || !t.notBefore().isAfter(now))
        .sorted(
            Comparator.comparingInt((StoredTask t) -> -t.spec().priority())
                .thenComparing(StoredTask::submittedAt)
                .thenComparing(t -> order.get(t.id())))
        .limit(limit)
        .toList();
  }

  @Override
  public synchronized int assign(String id, String offer, Instant now) {
    StoredTask t = tasks.get(id);
    if (t == null || t.state() != TaskState.QUEUED) {
      return 0;
    }
    int attempt = t.attempt() + 1;
    put(t, TaskState.ASSIGNED, attempt, offer, t.pendingDependencies(), null, now);
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
  public synchronized java.util.Set<String> transitionAll(
      java.util.Collection<AttemptId> attempts, TaskState from, TaskState to, Instant now) {
    TaskStores.requireSideEffectFree(from, to);
    var out = new HashSet<String>();
    for (AttemptId a : attempts) {
      StoredTask t = tasks.get(a.taskId());
      if (t != null && t.attempt() == a.attempt() && transition(a.taskId(), from, to, now)) {
        out.add(a.taskId());
      }
    }
    return out;
  }

  @Override
  public synchronized java.util.Set<String> succeedAll(
      java.util.Collection<AttemptId> attempts, TaskState from, Instant now) {
    var out = new HashSet<String>();
    for (AttemptId a : attempts) {
      StoredTask t = tasks.get(a.taskId());
      if (t != null
          && t.attempt() == a.attempt()
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
    StoredTask t = tasks.get(id);
    if (t == null || t.state() != from) {
      return false;
    }
    put(t, TaskState.QUEUED, t.attempt(), null, t.pendingDependencies(), notBefore, now);
    return true;
  }

  @Override
  public synchronized boolean unassign(String id, TaskState from, Instant now) {
    if (from != TaskState.ASSIGNED && from != TaskState.STAGING) {
      throw new IllegalArgumentException("only a task not yet launched is unassigned, not " + from);
    }
    StoredTask t = tasks.get(id);
    if (t == null || t.state() != from) {
      return false;
    }
    put(
        t,
        TaskState.QUEUED,
        Math.max(0, t.attempt() - 1),
        null,
        t.pendingDependencies(),
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
    StoredTask t = tasks.get(id);
    if (t == null || t.state() != from) {
      return false;
    }
    put(t, to, t.attempt(), t.offer(), t.pendingDependencies(), t.notBefore(), now);
    if (to == TaskState.SUCCEEDED) {
      for (String d : dependants.getOrDefault(id, List.of())) {
        StoredTask dep = tasks.get(d);
        int pending = dep.pendingDependencies() - 1;
        TaskState s =
            dep.state() == TaskState.WAITING && pending == 0 ? TaskState.QUEUED : dep.state();
        put(dep, s, dep.attempt(), dep.offer(), pending, dep.notBefore(), now);
      }
    } else if (to.blocksDependants()) {
      var stack = new ArrayList<>(dependants.getOrDefault(id, List.of()));
      while (!stack.isEmpty()) {
        StoredTask dep = tasks.get(stack.removeLast());
        if (dep.state() == TaskState.WAITING) {
          put(
              dep,
              TaskState.UPSTREAM_FAILED,
              dep.attempt(),
              dep.offer(),
              dep.pendingDependencies(),
              dep.notBefore(),
              now);
          stack.addAll(dependants.getOrDefault(dep.id(), List.of()));
        }
      }
    }
    return true;
  }

  private void put(
      StoredTask t,
      TaskState state,
      int attempt,
      String offer,
      int pending,
      Instant notBefore,
      Instant now) {
    tasks.put(
        t.id(),
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
            t.lastError()));
  }

  private static TaskSpec withDependencies(TaskSpec t, List<String> deps) {
    return t.withDependsOn(deps.toArray(String[]::new));
  }
}
