package dev.stowage.engine;

import java.util.HashSet;
import java.util.List;

/** The inputs of one match as flat arrays: four longs per offer or task, in contract order. */
record Problem(List<Task> tasks, List<Offer> offers, long[] requested, long[] initial) {

  static Problem of(List<Task> tasks, List<Offer> offers) {
    var taskNames = new HashSet<String>(tasks.size() * 2);
    long[] requested = new long[tasks.size() * 4];
    for (int t = 0; t < tasks.size(); t++) {
      Task task = tasks.get(t);
      if (!taskNames.add(task.name())) {
        throw new IllegalArgumentException(
            "duplicate task name '" + task.name() + "' (task " + t + ")");
      }
      copy(task.requested(), requested, t * 4);
    }
    var offerNames = new HashSet<String>(offers.size() * 2);
    long[] initial = new long[offers.size() * 4];
    for (int o = 0; o < offers.size(); o++) {
      Offer offer = offers.get(o);
      if (!offerNames.add(offer.name())) {
        throw new IllegalArgumentException(
            "duplicate offer name '" + offer.name() + "' (offer " + o + ")");
      }
      copy(offer.available(), initial, o * 4);
    }
    return new Problem(tasks, offers, requested, initial);
  }

  private static void copy(Resources r, long[] into, int base) {
    into[base] = r.cpuMillis();
    into[base + 1] = r.memoryMiB();
    into[base + 2] = r.diskMiB();
    into[base + 3] = r.gpus();
  }
}
