package dev.stowage.scheduler;

import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Checks a batch (a DAG of tasks) before anything of it is stored. */
public final class Submissions {
  // Ids name work directories, so no empty, '.' or '..' segment and no leading '/'.
  private static final Pattern ID =
      Pattern.compile("(?!/)(?!.*//)(?!(.*/)?\\.\\.?(/|$))[A-Za-z0-9._/-]{1,200}(?<!/)");

  private Submissions() {}

  /** Whether this is an id a task may have. */
  public static boolean validId(String id) {
    return ID.matcher(id).matches();
  }

  /**
   * Throws {@link DuplicateTaskException} when the batch names ids the store holds: a retry of a
   * submit that went through, or two clients choosing one id. Told apart from a bad batch, so that
   * it can be answered as a conflict.
   */
  public static void refuseTaken(List<TaskSpec> batch, Set<String> stored) {
    var taken = new LinkedHashSet<String>();
    for (TaskSpec t : batch) {
      if (stored.contains(t.id())) {
        taken.add(t.id());
      }
    }
    if (!taken.isEmpty()) {
      throw new DuplicateTaskException(List.copyOf(taken));
    }
  }

  /**
   * Throws {@link InvalidSubmissionException} listing every problem: malformed or duplicate ids,
   * empty commands, bad timeouts, dependencies on unknown ids or on the task itself, and cycles.
   *
   * <p>Ids the store holds already are not among them: {@link #refuseTaken}, after this, says so as
   * a conflict of its own.
   *
   * @param stored the ids, among those the batch names, that the store already holds
   */
  public static void check(List<TaskSpec> batch, Set<String> stored) {
    check(batch, null, stored, gang -> false);
  }

  /**
   * As {@link #check(List, Set)}, with the gang rules too: a gang's tasks are submitted together,
   * all of them, in one queue, under a name no unfinished gang has.
   *
   * @param gangTaken whether the store holds an unfinished task of the gang of that name
   */
  public static void check(
      List<TaskSpec> batch, Set<String> stored, java.util.function.Predicate<String> gangTaken) {
    check(batch, null, stored, gangTaken);
  }

  /**
   * As {@link #check(List, Set, java.util.function.Predicate)}, each error naming the task of the
   * body as {@code at} gives it (an array's tasks all name the one that asked for them; an error
   * they share is reported once).
   *
   * @param at the name of each task's place in the body, or null for {@code tasks[i]}
   */
  public static void check(
      List<TaskSpec> batch,
      List<String> at,
      Set<String> stored,
      java.util.function.Predicate<String> gangTaken) {
    var errors = new LinkedHashSet<FieldError>();
    if (batch.isEmpty()) {
      errors.add(new FieldError("tasks", "a submission needs at least one task"));
    }
    java.util.function.IntFunction<String> place = i -> at == null ? "tasks[" + i + "]" : at.get(i);
    var index = new HashMap<String, Integer>();
    for (int i = 0; i < batch.size(); i++) {
      TaskSpec t = batch.get(i);
      String here = place.apply(i);
      if (!ID.matcher(t.id()).matches()) {
        errors.add(
            new FieldError(
                here + ".id",
                "'"
                    + t.id()
                    + "' is not an id: use 1 to 200 letters, digits, '.', '_', '-', and '/'"
                    + " between non-empty segments other than '.' and '..'"));
      }
      Integer first = index.putIfAbsent(t.id(), i);
      if (first != null) {
        errors.add(
            new FieldError(
                here + ".id", "duplicate id '" + t.id() + "' (also " + place.apply(first) + ")"));
      }
      if (t.command().isEmpty() || t.command().getFirst().isBlank()) {
        errors.add(new FieldError(here + ".command", "must name a program to run"));
      }
      if (t.timeout() != null && (t.timeout().isZero() || t.timeout().isNegative())) {
        errors.add(new FieldError(here + ".timeout", "must be positive, got " + t.timeout()));
      }
    }
    for (int i = 0; i < batch.size(); i++) {
      TaskSpec t = batch.get(i);
      for (int k = 0; k < t.dependsOn().size(); k++) {
        String dep = t.dependsOn().get(k);
        String here = place.apply(i) + ".dependsOn" + (at == null ? "[" + k + "]" : "");
        if (dep.equals(t.id())) {
          errors.add(new FieldError(here, "a task cannot depend on itself"));
        } else if (!index.containsKey(dep) && !stored.contains(dep)) {
          errors.add(new FieldError(here, "unknown task id '" + dep + "'"));
        }
      }
    }
    gangs(batch, place, gangTaken, errors);
    cycle(batch, index).ifPresent(c -> errors.add(new FieldError("tasks", c)));
    if (!errors.isEmpty()) {
      throw new InvalidSubmissionException(List.copyOf(errors));
    }
  }

  /** The gang rules, each broken one an error naming the gang's first task in the body. */
  private static void gangs(
      List<TaskSpec> batch,
      java.util.function.IntFunction<String> place,
      java.util.function.Predicate<String> gangTaken,
      Set<FieldError> errors) {
    var members = new java.util.LinkedHashMap<String, List<Integer>>();
    for (int i = 0; i < batch.size(); i++) {
      Gang g = batch.get(i).gang();
      if (g != null) {
        members.computeIfAbsent(g.name(), n -> new ArrayList<>()).add(i);
      }
    }
    members.forEach(
        (name, tasks) -> {
          int first = tasks.getFirst();
          TaskSpec lead = batch.get(first);
          for (int i : tasks) {
            TaskSpec t = batch.get(i);
            if (t.gang().size() != lead.gang().size()) {
              errors.add(
                  new FieldError(
                      place.apply(i) + ".gang.size",
                      "gang "
                          + name
                          + " has size "
                          + lead.gang().size()
                          + " in "
                          + place.apply(first)
                          + ", "
                          + t.gang().size()
                          + " here"));
            } else if (!t.queue().equals(lead.queue())) {
              errors.add(
                  new FieldError(
                      place.apply(i) + ".queue",
                      "a gang's tasks wait in one queue: gang "
                          + name
                          + " waits in "
                          + lead.queue()
                          + " (as "
                          + place.apply(first)
                          + " says), not "
                          + t.queue()));
            }
          }
          if (tasks.size() != lead.gang().size()) {
            errors.add(
                new FieldError(
                    place.apply(first) + ".gang.size",
                    "gang "
                        + name
                        + " has size "
                        + lead.gang().size()
                        + " but this submission holds "
                        + tasks.size()
                        + " of its tasks: a gang is submitted whole, in one submission"));
          }
          if (gangTaken.test(name)) {
            errors.add(
                new FieldError(
                    place.apply(first) + ".gang.name",
                    "a gang named "
                        + name
                        + " has tasks in the store that have not finished: choose another name"));
          }
        });
  }

  /**
   * The tasks of a (checked) batch that can never run: those depending, directly or through other
   * tasks of the batch, on a stored task that failed or was cancelled. They are stored as
   * upstream_failed. One pass over the batch's edges.
   *
   * @param stored the state of each stored task the batch depends on
   */
  public static Set<String> doomed(List<TaskSpec> batch, Map<String, TaskState> stored) {
    var dependants = new HashMap<String, List<String>>();
    var doomed = new java.util.HashSet<String>();
    var work = new ArrayDeque<String>();
    for (TaskSpec t : batch) {
      for (String dep : t.dependsOn()) {
        dependants.computeIfAbsent(dep, k -> new ArrayList<>()).add(t.id());
        TaskState s = stored.get(dep);
        if (s != null && s.blocksDependants() && doomed.add(t.id())) {
          work.add(t.id());
        }
      }
    }
    while (!work.isEmpty()) {
      for (String next : dependants.getOrDefault(work.poll(), List.of())) {
        if (doomed.add(next)) {
          work.add(next);
        }
      }
    }
    return doomed;
  }

  /** A cycle among the batch's own tasks, described, if there is one. */
  private static java.util.Optional<String> cycle(
      List<TaskSpec> batch, Map<String, Integer> index) {
    // Kahn's algorithm on edges inside the batch; stored tasks cannot depend on new ones.
    int n = batch.size();
    int[] indegree = new int[n];
    List<List<Integer>> dependants = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      dependants.add(new ArrayList<>());
    }
    for (int i = 0; i < n; i++) {
      for (String dep : new LinkedHashSet<>(batch.get(i).dependsOn())) {
        Integer d = index.get(dep);
        if (d != null && d != i) {
          dependants.get(d).add(i);
          indegree[i]++;
        }
      }
    }
    var ready = new ArrayDeque<Integer>();
    for (int i = 0; i < n; i++) {
      if (indegree[i] == 0) {
        ready.add(i);
      }
    }
    int seen = 0;
    while (!ready.isEmpty()) {
      int i = ready.poll();
      seen++;
      for (int j : dependants.get(i)) {
        if (--indegree[j] == 0) {
          ready.add(j);
        }
      }
    }
    if (seen == n) {
      return java.util.Optional.empty();
    }
    // Walk dependencies from a task left on a cycle until one repeats: that loop is a cycle.
    int start = 0;
    while (indegree[start] == 0) {
      start++;
    }
    var path = new ArrayList<Integer>();
    var position = new HashMap<Integer, Integer>();
    int at = start;
    while (!position.containsKey(at)) {
      position.put(at, path.size());
      path.add(at);
      int next = -1;
      for (String dep : batch.get(at).dependsOn()) {
        Integer d = index.get(dep);
        if (d != null && indegree[d] > 0) {
          next = d;
          break;
        }
      }
      at = next;
    }
    var names = new ArrayList<String>();
    for (int p = position.get(at); p < path.size(); p++) {
      names.add(batch.get(path.get(p)).id());
    }
    names.add(batch.get(at).id());
    return java.util.Optional.of("dependency cycle: " + String.join(" -> ", names.reversed()));
  }
}
