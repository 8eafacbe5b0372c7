package dev.stowage.scheduler.preemption;

import java.util.ArrayList;
import java.util.List;

/**
 * A named priority, as a Kubernetes PriorityClass: a task that names it takes its value as its
 * priority, and its policy says whether the task may evict others to fit and be evicted itself.
 *
 * @param name lowercase letters, digits and {@code -}, as a Kubernetes name
 * @param value the priority its tasks take: higher is placed first
 * @param preempts whether its tasks, when they fit nowhere, may evict running tasks of lower
 *     priority (or of queues above their fair share) to fit
 * @param preemptible whether its running tasks may be evicted for others
 */
public record PriorityClass(String name, int value, boolean preempts, boolean preemptible) {

  /** A task that names no class: its own priority, never evicting, evictable. */
  public static final boolean DEFAULT_PREEMPTS = false;

  public static final boolean DEFAULT_PREEMPTIBLE = true;

  public PriorityClass {
    List<String> problems = problems(name);
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", problems));
    }
  }

  /** What is wrong with these fields, each as "field: message"; empty when they make a class. */
  public static List<String> problems(String name) {
    var out = new ArrayList<String>();
    if (name == null || !dev.stowage.scheduler.queues.Queue.NAME.matcher(name).matches()) {
      out.add(
          "name: "
              + dev.stowage.scheduler.queues.Queue.NAME_RULE
              + (name == null ? "" : ", got \"" + name + "\""));
    }
    return out;
  }
}
