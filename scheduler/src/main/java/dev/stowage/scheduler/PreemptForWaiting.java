package dev.stowage.scheduler;

import dev.stowage.engine.Assignment;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Task;
import dev.stowage.scheduler.preemption.PriorityClass;
import dev.stowage.scheduler.preemption.PriorityClassStore;
import dev.stowage.scheduler.preemption.VictimChoice;
import dev.stowage.scheduler.queues.FairShare;
import dev.stowage.scheduler.queues.QueueStore;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Preemption, after the match: a task the match left unplaced whose priority class preempts may
 * evict running tasks so that it fits, when evicting them makes it fit (the exact matcher on the
 * freed resources says so). A victim must be preemptible, in no gang, and either of lower priority
 * (Kubernetes' rule), or in another queue above its fair share while the preempting task's queue is
 * below its own, neither crossing its fair share by the eviction (Kueue's and Armada's fair
 * sharing). {@link VictimChoice} picks the fewest and youngest. A victim goes back to the queue at
 * once, its attempt not counted against its retries, and its process is stopped with the backend's
 * grace; the preempting task is placed by a later cycle, once the room is free.
 */
final class PreemptForWaiting {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(SchedulingCycle.class);

  /** The most tasks one cycle preempts for: each costs a search over the nodes. */
  static final int MAX_PREEMPTORS_PER_CYCLE = 8;

  /**
   * How long a task that preempted waits before it may preempt again: time for its victims to stop
   * (a backend's grace period) and for a cycle to place it.
   */
  static final Duration COOLDOWN = Duration.ofSeconds(60);

  private final CycleParts parts;
  private final PriorityClassStore classes;
  private final QueueStore queues;
  private final ClusterNodes nodes;
  private final Matcher matcher;
  private final Map<String, Preempted> last = new ConcurrentHashMap<>();

  PreemptForWaiting(
      CycleParts parts,
      PriorityClassStore classes,
      QueueStore queues,
      ClusterNodes nodes,
      Matcher matcher) {
    this.parts = parts;
    this.classes = classes;
    this.queues = queues;
    this.nodes = nodes;
    this.matcher = matcher;
  }

  /** Preempts for the unplaced tasks that may; returns how many attempts it evicted. */
  int preempt(List<StoredTask> tasks, MatchResult result, List<Offer> offers) {
    Instant now = parts.clock().instant();
    last.values().removeIf(p -> p.at().plus(COOLDOWN).isBefore(now));
    List<StoredTask> preemptors = preemptors(tasks, result, now);
    if (preemptors.isEmpty()) {
      return 0;
    }
    Map<String, Offer> left = offersLeft(offers, tasks, result);
    List<StoredTask> running = new ArrayList<>();
    for (StoredTask t : parts.store().inFlight()) {
      if ((t.state() == TaskState.LAUNCHED || t.state() == TaskState.RUNNING)
          && t.spec().gang() == null
          && policy(t).preemptible()) {
        running.add(t);
      }
    }
    var shares = new QueueShares(running, parts.store().runningByQueue());
    Set<String> taken = new HashSet<>();
    int evicted = 0;
    for (StoredTask p : preemptors) {
      var byOffer = new HashMap<String, List<VictimChoice.Candidate>>();
      var byId = new HashMap<String, StoredTask>();
      for (StoredTask v : running) {
        if (!taken.contains(v.id()) && v.offer() != null && left.containsKey(v.offer())) {
          if (shares.mayEvict(p, v)) {
            byOffer
                .computeIfAbsent(v.offer(), o -> new ArrayList<>())
                .add(new VictimChoice.Candidate(v.id(), v.spec().resources(), v.updatedAt()));
            byId.put(v.id(), v);
          }
        }
      }
      var candidates = new ArrayList<VictimChoice.Node>();
      for (Offer o : offers) {
        List<VictimChoice.Candidate> c = byOffer.get(o.name());
        if (c != null) {
          candidates.add(new VictimChoice.Node(left.get(o.name()), c));
        }
      }
      Task task =
          new Task(p.id(), p.spec().resources(), p.spec().constraints(), p.spec().tolerations());
      Optional<VictimChoice.Choice> choice =
          VictimChoice.choose(
              candidates,
              offer ->
                  matcher.match(List.of(task), List.of(offer), MatchMode.PACK).matchedCount() == 1,
              victims -> shares.allowed(p, victims.stream().map(c -> byId.get(c.id())).toList()));
      if (choice.isEmpty()) {
        continue;
      }
      var names = new ArrayList<String>();
      for (VictimChoice.Candidate c : choice.get().victims()) {
        StoredTask v = byId.get(c.id());
        var attempt = new AttemptId(v.id(), v.attempt());
        if (!parts.store().preempt(attempt, v.state(), p.id(), now)) {
          continue; // it ended, or moved on, since it was read
        }
        taken.add(v.id());
        names.add(v.id());
        shares.evicted(v);
        try (var ignored = parts.spans().enter(attempt)) {
          LOG.info(
              "attempt {} of {} preempted by {} (priority {} over {}, queue {} over {}) on {}",
              v.attempt(),
              v.id(),
              p.id(),
              p.spec().priority(),
              v.spec().priority(),
              p.spec().queue(),
              v.spec().queue(),
              choice.get().offer());
        }
        parts.spans().cancelled(attempt, "preempted by " + p.id());
        parts.metrics().preempted(v.spec().queue(), p.spec().queue());
        parts.backend().kill(attempt);
        evicted++;
      }
      if (!names.isEmpty()) {
        last.put(p.id(), new Preempted(choice.get().offer(), List.copyOf(names), now));
        shares.placed(p);
      }
    }
    return evicted;
  }

  /** What {@code task} preempted, when it did within {@link #COOLDOWN}. Safe from any thread. */
  Optional<Preempted> preempted(String task) {
    return Optional.ofNullable(last.get(task));
  }

  /** The unplaced tasks whose class preempts, in take order, not in a gang, not cooling down. */
  private List<StoredTask> preemptors(List<StoredTask> tasks, MatchResult result, Instant now) {
    var out = new ArrayList<StoredTask>();
    if (classes.list().stream().noneMatch(PriorityClass::preempts)) {
      return out; // no class preempts: nothing to look at
    }
    for (int i : result.unassignedTasks()) {
      if (out.size() == MAX_PREEMPTORS_PER_CYCLE) {
        break;
      }
      StoredTask t = tasks.get(i);
      if (t.spec().gang() == null
          && t.spec().priorityClass() != null
          && policy(t).preempts()
          && !last.containsKey(t.id())) {
        out.add(t);
      }
    }
    return out;
  }

  /** The task's class's policy; a task of no class (or of one since deleted) the defaults. */
  private PriorityClass policy(StoredTask t) {
    String name = t.spec().priorityClass();
    PriorityClass c = name == null ? null : classes.get(name).orElse(null);
    return c != null
        ? c
        : new PriorityClass(
            "none",
            t.spec().priority(),
            PriorityClass.DEFAULT_PREEMPTS,
            PriorityClass.DEFAULT_PREEMPTIBLE);
  }

  /** Each offer with what this cycle's placements left of it. */
  private static Map<String, Offer> offersLeft(
      List<Offer> offers, List<StoredTask> tasks, MatchResult result) {
    var byId = new HashMap<String, StoredTask>();
    for (StoredTask t : tasks) {
      byId.put(t.id(), t);
    }
    var used = new HashMap<String, long[]>();
    for (Assignment a : result.assignments()) {
      long[] u = used.computeIfAbsent(a.offer(), o -> new long[Resources.DIMENSIONS.length]);
      Resources r = byId.get(a.task()).spec().resources();
      for (int d = 0; d < u.length; d++) {
        u[d] += r.get(d);
      }
    }
    var out = new HashMap<String, Offer>();
    for (Offer o : offers) {
      long[] u = used.getOrDefault(o.name(), new long[Resources.DIMENSIONS.length]);
      long[] a = new long[u.length];
      for (int d = 0; d < a.length; d++) {
        a[d] = Math.max(0, o.available().get(d) - u[d]);
      }
      out.put(
          o.name(),
          new Offer(
              o.name(),
              o.node(),
              new Resources(a[0], a[1], a[2], a[3]),
              o.attributes(),
              o.taints()));
    }
    return out;
  }

  /**
   * The queues' dominant shares of the cluster and their fair shares, kept up to date as this cycle
   * evicts: the fair-share rule reads them.
   */
  private final class QueueShares {
    private final long[] capacity = FairShare.capacity(nodes.capacities());
    private final Map<String, long[]> held = new HashMap<>();
    private final Map<String, Double> fair;

    QueueShares(List<StoredTask> running, Map<String, Resources> byQueue) {
      byQueue.forEach((q, r) -> held.put(q, new long[] {r.get(0), r.get(1), r.get(2), r.get(3)}));
      Set<String> withWork = new HashSet<>(parts.store().queueLoads(false).keySet());
      fair = FairShare.fairShares(queues.list(), withWork);
    }

    private double share(String queue, Resources plus, int sign) {
      long[] h = held.getOrDefault(queue, new long[Resources.DIMENSIONS.length]);
      long[] after = new long[h.length];
      for (int d = 0; d < h.length; d++) {
        after[d] = h[d] + sign * plus.get(d);
      }
      return FairShare.dominantShare(
          new Resources(
              Math.max(0, after[0]),
              Math.max(0, after[1]),
              Math.max(0, after[2]),
              Math.max(0, after[3])),
          capacity);
    }

    private double fair(String queue) {
      return fair.getOrDefault(queue, 0.0);
    }

    /** Whether {@code p} may evict {@code v} at all, by priority or by fair share. */
    boolean mayEvict(StoredTask p, StoredTask v) {
      if (v.spec().priority() < p.spec().priority()) {
        return true;
      }
      String pq = p.spec().queue();
      String vq = v.spec().queue();
      return !pq.equals(vq)
          && v.spec().priority() <= p.spec().priority()
          && share(pq, Resources.NONE, 1) < fair(pq)
          && share(vq, Resources.NONE, 1) > fair(vq);
    }

    /**
     * Whether these victims may go together: those evicted only by fair share leave their queue at
     * or above its fair share, and the preempting task's queue ends at or below its own.
     */
    boolean allowed(StoredTask p, List<StoredTask> victims) {
      var byQueue = new HashMap<String, long[]>();
      boolean byShare = false;
      for (StoredTask v : victims) {
        if (v.spec().priority() < p.spec().priority()) {
          continue;
        }
        byShare = true;
        long[] sum =
            byQueue.computeIfAbsent(v.spec().queue(), q -> new long[Resources.DIMENSIONS.length]);
        for (int d = 0; d < sum.length; d++) {
          sum[d] += v.spec().resources().get(d);
        }
      }
      if (!byShare) {
        return true;
      }
      if (share(p.spec().queue(), p.spec().resources(), 1) > fair(p.spec().queue())) {
        return false;
      }
      for (var e : byQueue.entrySet()) {
        long[] s = e.getValue();
        if (share(e.getKey(), new Resources(s[0], s[1], s[2], s[3]), -1) < fair(e.getKey())) {
          return false;
        }
      }
      return true;
    }

    void evicted(StoredTask v) {
      add(v.spec().queue(), v.spec().resources(), -1);
    }

    void placed(StoredTask p) {
      add(p.spec().queue(), p.spec().resources(), 1);
    }

    private void add(String queue, Resources r, int sign) {
      long[] h = held.computeIfAbsent(queue, q -> new long[Resources.DIMENSIONS.length]);
      for (int d = 0; d < h.length; d++) {
        h[d] += sign * r.get(d);
      }
    }
  }
}
