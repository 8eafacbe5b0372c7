package dev.stowage.scheduler.queues;

import dev.stowage.engine.Resources;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A queue: a share of the cluster by weight, and optionally a cap on what its tasks may hold
 * running at once.
 *
 * @param name lowercase letters, digits and {@code -}, as a Kubernetes namespace
 * @param weight how much of the cluster it is due against the others (twice the weight, twice the
 *     share when both want more than the cluster holds)
 * @param limits per resource (the task fields' names: {@code cpuMillis}, {@code memoryMiB}, {@code
 *     diskMiB}, {@code gpus}), the most its running tasks may hold together; a resource left out is
 *     not capped
 */
public record Queue(String name, double weight, Map<String, Long> limits) {
  public static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  public static final String NAME_RULE =
      "must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit";

  /** The most a weight may be: a million times the least makes any share a rounding error. */
  public static final double MAX_WEIGHT = 1_000_000;

  /** The queue every task without one is in; it always exists. */
  public static final Queue DEFAULT =
      new Queue(dev.stowage.scheduler.TaskSpec.DEFAULT_QUEUE, 1, null);

  public Queue {
    limits =
        limits == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(limits));
    List<String> problems = problems(name, weight, limits);
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", problems));
    }
  }

  /** What is wrong with these fields, each as "field: message"; empty when they make a queue. */
  public static List<String> problems(String name, double weight, Map<String, Long> limits) {
    var out = new ArrayList<String>();
    if (name == null || !NAME.matcher(name).matches()) {
      out.add("name: " + NAME_RULE + (name == null ? "" : ", got \"" + name + "\""));
    }
    if (!(weight > 0 && weight <= MAX_WEIGHT)) {
      out.add("weight: must be a number in (0, 1000000], got " + weight);
    }
    if (limits != null) {
      for (var e : new TreeMap<>(limits).entrySet()) {
        if (dimension(e.getKey()) < 0) {
          out.add(
              "limits." + e.getKey() + ": not a resource (cpuMillis, memoryMiB, diskMiB, gpus)");
        } else if (e.getValue() == null
            || e.getValue() < 0
            || e.getValue() > Resources.MAX_AMOUNT) {
          out.add(
              "limits." + e.getKey() + ": must be an integer in [0, 2^53], got " + e.getValue());
        }
      }
    }
    return out;
  }

  /** The limit on resource dimension {@code d}, or {@link Long#MAX_VALUE} when it has none. */
  public long limit(int d) {
    Long v = limits.get(Resources.DIMENSIONS[d]);
    return v == null ? Long.MAX_VALUE : v;
  }

  static int dimension(String name) {
    for (int d = 0; d < Resources.DIMENSIONS.length; d++) {
      if (Resources.DIMENSIONS[d].equals(name)) {
        return d;
      }
    }
    return -1;
  }
}
