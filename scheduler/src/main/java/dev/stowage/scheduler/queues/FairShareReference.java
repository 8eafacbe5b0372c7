package dev.stowage.scheduler.queues;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.StoredTask;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The fair-share order as the obvious loop: before each take, every queue's share is computed from
 * scratch and the least (by share over weight, then name) takes its next task. What {@link
 * FairShare} must equal, for the tests; quadratic, so not for the cycle.
 */
final class FairShareReference {
  private FairShareReference() {}

  static List<StoredTask> order(
      List<Queue> queues,
      Map<String, Resources> running,
      long[] capacity,
      Map<String, List<StoredTask>> byQueue,
      int max) {
    var config = new HashMap<String, Queue>();
    queues.forEach(q -> config.put(q.name(), q));
    var held = new HashMap<String, long[]>();
    var next = new HashMap<String, Integer>();
    var closed = new HashSet<String>();
    var out = new ArrayList<StoredTask>();
    var sorted = new TreeMap<>(byQueue);
    for (String q : sorted.keySet()) {
      Resources r = running.getOrDefault(q, Resources.NONE);
      held.put(q, new long[] {r.get(0), r.get(1), r.get(2), r.get(3)});
      next.put(q, 0);
    }
    while (out.size() < max) {
      String best = null;
      double bestKey = 0;
      for (String q : sorted.keySet()) {
        if (closed.contains(q) || next.get(q) >= sorted.get(q).size()) {
          continue;
        }
        double share = 0;
        for (int d = 0; d < 4; d++) {
          if (capacity[d] > 0) {
            share = Math.max(share, (double) held.get(q)[d] / capacity[d]);
          }
        }
        Queue c = config.get(q);
        double key = share / (c == null ? 1 : c.weight());
        if (best == null || key < bestKey) {
          best = q;
          bestKey = key;
        }
      }
      if (best == null) {
        break;
      }
      StoredTask t = sorted.get(best).get(next.get(best));
      next.put(best, next.get(best) + 1);
      Queue c = config.get(best);
      boolean fits = true;
      for (int d = 0; d < 4; d++) {
        if (c != null && held.get(best)[d] + t.spec().resources().get(d) > c.limit(d)) {
          fits = false;
        }
      }
      if (!fits) {
        closed.add(best);
        continue;
      }
      for (int d = 0; d < 4; d++) {
        held.get(best)[d] += t.spec().resources().get(d);
      }
      out.add(t);
    }
    return out;
  }
}
