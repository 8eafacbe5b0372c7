package dev.stowage.scheduler;

import dev.stowage.engine.Resources;
import java.time.Instant;

/**
 * What one queue holds now.
 *
 * @param queued its tasks waiting to be placed (retries in backoff and never-schedulable ones
 *     included)
 * @param runningTasks its tasks placed and not finished
 * @param running what those tasks hold
 * @param oldestQueued the id of the queued task that has waited longest, or null
 * @param oldestQueuedSince since when that task has waited, or null
 */
public record QueueLoad(
    long queued,
    long runningTasks,
    Resources running,
    String oldestQueued,
    Instant oldestQueuedSince) {
  public static final QueueLoad EMPTY = new QueueLoad(0, 0, Resources.NONE, null, null);

  /** What every queue holds, from the tasks not finished: for a store with no index of its own. */
  static java.util.Map<String, QueueLoad> of(Iterable<StoredTask> unfinished) {
    var queued = new java.util.TreeMap<String, long[]>();
    var oldest = new java.util.HashMap<String, StoredTask>();
    for (StoredTask t : unfinished) {
      String q = t.spec().queue();
      long[] a = queued.computeIfAbsent(q, k -> new long[6]);
      if (t.state() == TaskState.QUEUED) {
        a[0]++;
        oldest.merge(q, t, (x, y) -> y.queuedSince().isBefore(x.queuedSince()) ? y : x);
      } else if (t.state().isInFlight()) {
        a[1]++;
        for (int d = 0; d < 4; d++) {
          a[2 + d] += t.spec().resources().get(d);
        }
      }
    }
    var out = new java.util.TreeMap<String, QueueLoad>();
    queued.forEach(
        (q, a) -> {
          StoredTask o = oldest.get(q);
          out.put(
              q,
              new QueueLoad(
                  a[0],
                  a[1],
                  new Resources(a[2], a[3], a[4], a[5]),
                  o == null ? null : o.id(),
                  o == null ? null : o.queuedSince()));
        });
    return out;
  }
}
