package dev.stowage.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Why a task fits the offers it fits and not the others, as counters: each offer is counted once,
 * under the first check it fails, cheapest check first (constraints, then taints, then already
 * taken, then each resource dimension in contract order). Reads like kube-scheduler's message:
 * {@code 0/20000 offers fit: 12000 insufficient memoryMiB, 8000 constraint zone=a}.
 *
 * @param task the task's name
 * @param offers how many offers were considered
 * @param fitting how many of them the task fits now
 * @param rejections rejected-offer counts by reason, largest first
 * @param neverFits true when no offer in the input could host the task even before any placement
 */
public record Explanation(
    String task, int offers, int fitting, List<Rejection.Count> rejections, boolean neverFits) {

  public static final String TAKEN = "taken by an earlier task";

  public Explanation {
    rejections = List.copyOf(rejections);
  }

  /** The same counts for another task with identical requests and constraints. */
  Explanation forTask(String otherTask) {
    return new Explanation(otherTask, offers, fitting, rejections, neverFits);
  }

  /** The same, saying it could fit (or not) some offer before any placement. */
  public Explanation withNeverFits(boolean never) {
    return new Explanation(task, offers, fitting, rejections, never);
  }

  /** Rejected-offer counts by {@link Rejection#text()}, largest first: for people and JSON. */
  public Map<String, Integer> reasons() {
    var out = new LinkedHashMap<String, Integer>();
    for (Rejection.Count c : rejections) {
      out.put(c.reason().text(), c.offers());
    }
    return java.util.Collections.unmodifiableMap(out);
  }

  /** One line a person reads. */
  public String message() {
    var sb = new StringBuilder();
    sb.append(fitting).append('/').append(offers).append(" offers fit");
    String sep = ": ";
    for (Rejection.Count c : rejections) {
      sb.append(sep).append(c.offers()).append(' ').append(c.reason().text());
      sep = ", ";
    }
    if (neverFits) {
      sb.append("; never schedulable: no offer in the input could ever fit it");
    }
    return sb.toString();
  }

  static Explanation compute(Problem problem, int taskIndex, long[] avail, boolean[] taken) {
    return compute(
        problem, problem.tasks().get(taskIndex), problem.requested(), taskIndex * 4, avail, taken);
  }

  /** The counts for {@code task}, whose requests are {@code req[r..r+3]}, against the offers. */
  static Explanation compute(
      Problem problem, Task task, long[] req, int r, long[] avail, boolean[] taken) {
    long[] initial = problem.initial();
    // Constraint keys in a stable order so that the "first failing" key is reproducible.
    List<Map.Entry<String, String>> constraints =
        new ArrayList<>(new TreeMap<>(task.constraints()).entrySet());
    int[] constraintMisses = new int[constraints.size()];
    // Untolerated taints by the first one each offer has, in the order first seen.
    var untolerated = new LinkedHashMap<Taint, Integer>();
    long[] insufficient = new long[4];
    long[] mostFree = new long[4];
    long[] mostOffered = new long[4];
    int takenCount = 0;
    int fitting = 0;
    boolean everFits = false;

    List<Offer> offers = problem.offers();
    for (int o = 0; o < offers.size(); o++) {
      Map<String, String> attributes = offers.get(o).attributes();
      int miss = -1;
      for (int c = 0; c < constraints.size() && miss < 0; c++) {
        var k = constraints.get(c);
        if (!k.getValue().equals(attributes.get(k.getKey()))) {
          miss = c;
        }
      }
      if (miss >= 0) {
        constraintMisses[miss]++;
        continue;
      }
      Taint kept = Toleration.firstUntolerated(task.tolerations(), offers.get(o).taints());
      if (kept != null) {
        untolerated.merge(kept, 1, Integer::sum);
        continue;
      }
      int a = o * 4;
      if (!everFits) {
        everFits = fitsIn(req, r, initial, a);
      }
      if (taken[o]) {
        takenCount++;
        continue;
      }
      int short_ = -1;
      for (int d = 0; d < 4 && short_ < 0; d++) {
        if (req[r + d] > avail[a + d]) {
          short_ = d;
        }
      }
      if (short_ >= 0) {
        insufficient[short_]++;
        mostFree[short_] = Math.max(mostFree[short_], avail[a + short_]);
        mostOffered[short_] = Math.max(mostOffered[short_], initial[a + short_]);
      } else {
        fitting++;
      }
    }

    var counts = new ArrayList<Rejection.Count>();
    for (int c = 0; c < constraints.size(); c++) {
      if (constraintMisses[c] > 0) {
        var k = constraints.get(c);
        counts.add(
            new Rejection.Count(
                new Rejection.Constraint(k.getKey(), k.getValue()), constraintMisses[c]));
      }
    }
    untolerated.forEach(
        (taint, n) -> counts.add(new Rejection.Count(new Rejection.Untolerated(taint), n)));
    if (takenCount > 0) {
      counts.add(new Rejection.Count(new Rejection.Taken(), takenCount));
    }
    for (int d = 0; d < 4; d++) {
      if (insufficient[d] > 0) {
        counts.add(
            new Rejection.Count(
                new Rejection.Insufficient(d, req[r + d], mostFree[d], mostOffered[d]),
                (int) insufficient[d]));
      }
    }
    // Largest first; equal counts keep the order of the checks (stable sort).
    counts.sort(Comparator.comparingInt(Rejection.Count::offers).reversed());
    return new Explanation(task.name(), offers.size(), fitting, counts, !everFits);
  }

  private static boolean fitsIn(long[] req, int r, long[] avail, int a) {
    return req[r] <= avail[a]
        && req[r + 1] <= avail[a + 1]
        && req[r + 2] <= avail[a + 2]
        && req[r + 3] <= avail[a + 3];
  }
}
