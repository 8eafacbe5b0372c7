package dev.stowage.engine;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;

/**
 * The outcome of one match: which offer each task went to, and on request why the others did not
 * fit. Explanations are computed only when asked, from the state the match ended in.
 */
public final class MatchResult {
  private final Problem problem;
  private final MatchMode mode;
  private final int[] offerOfTask;
  private final long[] finalAvail;
  private final boolean[] taken;
  private final int matched;

  MatchResult(
      Problem problem, MatchMode mode, int[] offerOfTask, long[] finalAvail, boolean[] taken) {
    this.problem = problem;
    this.mode = mode;
    this.offerOfTask = offerOfTask;
    this.finalAvail = finalAvail;
    this.taken = taken;
    int count = 0;
    for (int o : offerOfTask) {
      if (o >= 0) {
        count++;
      }
    }
    this.matched = count;
  }

  public MatchMode mode() {
    return mode;
  }

  /** How many tasks were placed. */
  public int matchedCount() {
    return matched;
  }

  public int taskCount() {
    return offerOfTask.length;
  }

  /** The index of the offer that task {@code taskIndex} went to, or -1 if it stays unassigned. */
  public int offerIndexOf(int taskIndex) {
    return offerOfTask[taskIndex];
  }

  /** The assignments in task input order, as the contract's output. */
  public List<Assignment> assignments() {
    var out = new ArrayList<Assignment>(matched);
    for (int t = 0; t < offerOfTask.length; t++) {
      int o = offerOfTask[t];
      if (o >= 0) {
        out.add(new Assignment(problem.tasks().get(t).name(), problem.offers().get(o).name()));
      }
    }
    return Collections.unmodifiableList(out);
  }

  /** Indexes of the tasks left unassigned, in input order. */
  public int[] unassignedTasks() {
    int[] out = new int[offerOfTask.length - matched];
    int k = 0;
    for (int t = 0; t < offerOfTask.length; t++) {
      if (offerOfTask[t] < 0) {
        out[k++] = t;
      }
    }
    return out;
  }

  /** Why task {@code taskIndex} fits or does not fit the offers as this match left them. */
  public Explanation explain(int taskIndex) {
    return Explanation.compute(problem, taskIndex, finalAvail, taken);
  }

  /**
   * Why a task that was not part of this match fits or does not fit the offers as this match left
   * them: for asking about a task submitted after the match, without matching again.
   */
  public Explanation explain(Task task) {
    Resources r = task.requested();
    long[] req = {r.cpuMillis(), r.memoryMiB(), r.diskMiB(), r.gpus()};
    return Explanation.compute(problem, task, req, 0, finalAvail, taken);
  }

  /**
   * An explanation for every unassigned task, in input order. Tasks with equal requests and
   * constraints share one computation, so the cost is one pass over the offers per distinct kind of
   * unassigned task.
   */
  public List<Explanation> explainUnassigned() {
    return explainUnassigned(Integer.MAX_VALUE);
  }

  /**
   * Explanations for the first {@code limit} unassigned tasks, in input order: each costs a pass
   * over the offers, so a caller facing many unassigned tasks should explain a few.
   */
  public List<Explanation> explainUnassigned(int limit) {
    var byShape = new HashMap<Object, Explanation>();
    var out = new ArrayList<Explanation>();
    for (int t : unassignedTasks()) {
      if (out.size() >= limit) {
        break;
      }
      Task task = problem.tasks().get(t);
      Object shape = List.of(task.requested(), task.constraints(), task.tolerations());
      Explanation shared = byShape.get(shape);
      if (shared == null) {
        shared = explain(t);
        byShape.put(shape, shared);
        out.add(shared);
      } else {
        out.add(shared.forTask(task.name()));
      }
    }
    return Collections.unmodifiableList(out);
  }
}
