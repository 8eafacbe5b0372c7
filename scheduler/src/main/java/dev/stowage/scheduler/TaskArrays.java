package dev.stowage.scheduler;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Arrays: one task submitted with a size, stored as that many tasks. */
public final class TaskArrays {
  /**
   * The most dependency edges one submission may hold once the arrays it depends on are expanded: a
   * dependency on an array is one on each of its tasks, and an array's tasks each copy theirs.
   */
  public static final long MAX_EDGES = 1_000_000;

  private TaskArrays() {}

  /** The error for a submission whose dependencies expand past {@link #MAX_EDGES}. */
  public static String tooManyEdges(long edges) {
    return "the dependencies expand to "
        + edges
        + " edges once arrays are expanded, more than the "
        + MAX_EDGES
        + " one submission may hold: let one task depend on the array, and the others on it";
  }

  /**
   * The tasks of an array of {@code size} copies of {@code spec}: ids {@code <id>_<index>}, each
   * with its index and the size in its environment.
   */
  public static List<TaskSpec> expand(TaskSpec spec, int size) {
    var out = new ArrayList<TaskSpec>(size);
    for (int i = 0; i < size; i++) {
      var member = new ArrayMember(spec.id(), i, size);
      var env = new LinkedHashMap<>(spec.env());
      env.put(ArrayMember.INDEX_VARIABLE, Integer.toString(i));
      env.put(ArrayMember.SIZE_VARIABLE, Integer.toString(size));
      out.add(spec.withId(member.taskId()).withArray(member).withEnv(env));
    }
    return out;
  }

  /**
   * Dependencies with each one on an array (whose size {@code arraySize} gives; null for any other
   * id) replaced by one on each of its tasks, in order, each id once.
   */
  public static String[] members(List<String> dependsOn, Function<String, Integer> arraySize) {
    var out = new LinkedHashSet<String>();
    for (String dep : dependsOn) {
      Integer size = arraySize.apply(dep);
      if (size == null) {
        out.add(dep);
      } else {
        for (int i = 0; i < size; i++) {
          out.add(ArrayMember.memberId(dep, i));
        }
      }
    }
    return out.toArray(String[]::new);
  }

  /**
   * The sizes of the stored arrays among these ids (ids that are not an array's are left out),
   * found from each array's first task: one read.
   */
  public static Map<String, Integer> storedSizes(Collection<String> ids, TaskStore store) {
    var firstMember = new HashMap<String, String>();
    for (String id : ids) {
      firstMember.put(ArrayMember.memberId(id, 0), id);
    }
    var out = new HashMap<String, Integer>();
    store
        .getAll(firstMember.keySet())
        .forEach(
            (memberId, task) -> {
              ArrayMember a = task.spec().array();
              String id = firstMember.get(memberId);
              if (a != null && a.arrayId().equals(id)) {
                out.put(id, a.size());
              }
            });
    return out;
  }

  /** The ids of an array's tasks, from {@code from} (inclusive) to {@code to} (exclusive). */
  public static List<String> memberIds(String arrayId, int from, int to) {
    var out = new ArrayList<String>(Math.max(0, to - from));
    for (int i = from; i < to; i++) {
      out.add(ArrayMember.memberId(arrayId, i));
    }
    return out;
  }
}
