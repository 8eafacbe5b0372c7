package dev.stowage.scheduler.queues;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.QueueTurns;
import dev.stowage.scheduler.StoredTask;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Dominant resource fairness between queues: the queue whose dominant share (the largest fraction
 * of any one of the cluster's resources its tasks hold), divided by its weight, is least places
 * next, and its share grows by each task it takes, within the take. Ties go to the queue first by
 * name, so the same state gives the same order. A queue whose next task would take it past one of
 * its limits takes nothing more this time (it keeps its own order: a smaller task behind does not
 * jump ahead), and {@link #atLimit} says so with the numbers.
 *
 * <p>Queues live in a binary heap of their indices keyed by primitive arrays: a take costs the
 * heap's depth, with no allocation. A task in a queue the store no longer has weighs 1, unlimited.
 */
public final class FairShare implements QueueTurns {
  private static final int D = Resources.DIMENSIONS.length;

  /**
   * A queue that stopped at a limit: {@code task} asked for {@code asked} of {@code resource} while
   * the queue held {@code holding} (placed before this take, or taken in it) of {@code limit}.
   */
  public record AtLimit(
      String queue, String task, String resource, long holding, long asked, long limit) {
    /** What the API shows: every number, and the reason in words. */
    public Map<String, Object> view() {
      var m = new java.util.LinkedHashMap<String, Object>();
      m.put("queue", queue);
      m.put("task", task);
      m.put("resource", resource);
      m.put("held", holding);
      m.put("asked", asked);
      m.put("limit", limit);
      m.put("reason", describe());
      return m;
    }

    /**
     * For people: {@code queue team-a is at its limit of cpuMillis: 6000 held + 2000 asked > 8000}.
     */
    public String describe() {
      return "queue "
          + queue
          + " is at its limit of "
          + resource
          + ": "
          + holding
          + " held + "
          + asked
          + " asked > "
          + limit;
    }
  }

  private final Map<String, Queue> queues;
  private final Map<String, Resources> running;
  private final long[] capacity;

  private String[] names;
  private double[] weight;
  private long[] usage; // [queue * D + dimension]
  private long[] limit; // Long.MAX_VALUE: none
  private double[] key;
  private int[] heap;
  private int size;
  private final List<AtLimit> atLimit = new ArrayList<>();

  /**
   * @param queues the queues as configured
   * @param running what each queue's tasks in flight hold (a queue left out holds nothing)
   * @param capacity the cluster's total of each resource dimension
   */
  public FairShare(List<Queue> queues, Map<String, Resources> running, long[] capacity) {
    this.queues = new HashMap<>();
    for (Queue q : queues) {
      this.queues.put(q.name(), q);
    }
    this.running = running;
    this.capacity = capacity.clone();
  }

  /** The cluster's total of each resource, over these nodes' capacities. */
  public static long[] capacity(List<dev.stowage.engine.Offer> nodes) {
    long[] total = new long[D];
    for (var n : nodes) {
      for (int d = 0; d < D; d++) {
        total[d] += n.available().get(d);
      }
    }
    return total;
  }

  /** The largest fraction of any one resource of {@code capacity} that {@code held} is. */
  public static double dominantShare(Resources held, long[] capacity) {
    return dominantShare(
        new long[] {held.get(0), held.get(1), held.get(2), held.get(3)}, 0, capacity);
  }

  /** As above, for the amounts {@code held[from]} to {@code held[from + 3]}. */
  private static double dominantShare(long[] held, int from, long[] capacity) {
    double share = 0;
    for (int d = 0; d < D; d++) {
      if (capacity[d] > 0) {
        share = Math.max(share, (double) held[from + d] / capacity[d]);
      }
    }
    return share;
  }

  /**
   * Each queue's fair share: its weight over the weights of the queues with work ({@code
   * withWork}), itself counted when it has none; the share it is due if every such queue wants more
   * than the cluster holds.
   */
  public static Map<String, Double> fairShares(List<Queue> queues, java.util.Set<String> withWork) {
    double active = 0;
    for (Queue q : queues) {
      active += withWork.contains(q.name()) ? q.weight() : 0;
    }
    var out = new java.util.LinkedHashMap<String, Double>();
    for (Queue q : queues) {
      out.put(q.name(), q.weight() / (active + (withWork.contains(q.name()) ? 0 : q.weight())));
    }
    return out;
  }

  @Override
  public void start(List<String> names) {
    int n = names.size();
    this.names = names.toArray(new String[0]);
    weight = new double[n];
    usage = new long[n * D];
    limit = new long[n * D];
    key = new double[n];
    heap = new int[n];
    for (int q = 0; q < n; q++) {
      Queue config = queues.get(this.names[q]);
      weight[q] = config == null ? 1 : config.weight();
      Resources held = running.getOrDefault(this.names[q], Resources.NONE);
      for (int d = 0; d < D; d++) {
        usage[q * D + d] = held.get(d);
        limit[q * D + d] = config == null ? Long.MAX_VALUE : config.limit(d);
      }
      key[q] = share(q) / weight[q];
      heap[q] = q;
    }
    size = n;
    for (int i = n / 2 - 1; i >= 0; i--) {
      siftDown(i);
    }
  }

  @Override
  public int next() {
    return size == 0 ? -1 : heap[0];
  }

  @Override
  public boolean take(int q, StoredTask task) {
    checkTop(q);
    Resources asked = task.spec().resources();
    for (int d = 0; d < D; d++) {
      long cap = limit[q * D + d];
      long has = usage[q * D + d];
      if (cap != Long.MAX_VALUE && has + asked.get(d) > cap) {
        atLimit.add(
            new AtLimit(names[q], task.id(), Resources.DIMENSIONS[d], has, asked.get(d), cap));
        removeTop();
        return false;
      }
    }
    for (int d = 0; d < D; d++) {
      usage[q * D + d] += asked.get(d);
    }
    key[q] = share(q) / weight[q];
    siftDown(0);
    return true;
  }

  @Override
  public void drained(int q) {
    checkTop(q);
    removeTop();
  }

  /** The queues that stopped at a limit in this take, in the order they did. */
  public List<AtLimit> atLimit() {
    return List.copyOf(atLimit);
  }

  private double share(int q) {
    return dominantShare(usage, q * D, capacity);
  }

  private void checkTop(int q) {
    if (size == 0 || heap[0] != q) {
      throw new IllegalStateException("queue " + q + " does not have the turn");
    }
  }

  private void removeTop() {
    heap[0] = heap[--size];
    siftDown(0);
  }

  private boolean before(int a, int b) {
    return key[a] < key[b] || (key[a] == key[b] && a < b);
  }

  private void siftDown(int i) {
    int q = heap[i];
    while (true) {
      int child = 2 * i + 1;
      if (child >= size) {
        break;
      }
      if (child + 1 < size && before(heap[child + 1], heap[child])) {
        child++;
      }
      if (!before(heap[child], q)) {
        break;
      }
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = q;
  }
}
