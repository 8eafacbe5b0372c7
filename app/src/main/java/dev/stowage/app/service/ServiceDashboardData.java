package dev.stowage.app.service;

import dev.stowage.app.dashboard.DashboardData;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.Stager;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskFilter;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TaskStore;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/** The service's state as the dashboard reads it: the same reads the API's handlers make. */
final class ServiceDashboardData implements DashboardData {
  private final TaskStore store;
  private final SchedulingCycle cycle;
  private final CycleLoop loop;
  private final ClusterBackend backend;
  private final Stager stager;
  private final Clock clock;

  ServiceDashboardData(
      TaskStore store,
      SchedulingCycle cycle,
      CycleLoop loop,
      ClusterBackend backend,
      Stager stager,
      Clock clock) {
    this.store = store;
    this.cycle = cycle;
    this.loop = loop;
    this.backend = backend;
    this.stager = stager;
    this.clock = clock;
  }

  @Override
  public List<Cycle> recentCycles() {
    var out = new ArrayList<Cycle>();
    for (CycleLoop.Recent r : loop.recent()) {
      out.add(cycle(r));
    }
    return out;
  }

  private static Cycle cycle(CycleLoop.Recent r) {
    var phases = new LinkedHashMap<String, Double>();
    r.report().phases().forEach((k, v) -> phases.put(k, v.toNanos() / 1e6));
    var report = r.report();
    return new Cycle(
        r.number(),
        r.at(),
        report.took().toNanos() / 1e6,
        phases,
        report.offers(),
        report.considered(),
        report.matched(),
        report.launched(),
        report.eventsApplied(),
        report.traceId());
  }

  @Override
  public List<Attempt> attempts(StoredTask t) {
    var out = new ArrayList<Attempt>();
    for (var a : store.attempts(t.id())) {
      var steps = new ArrayList<Step>();
      step(steps, "placed", a.placed());
      step(steps, "staged", a.staged());
      step(steps, "launched", a.launched());
      step(steps, "started", a.started());
      step(steps, a.current() ? null : a.outcome().label(), a.ended());
      if (!steps.isEmpty()) { // placed before the service kept steps: the task row says more
        out.add(new Attempt(a.attempt(), a.node(), steps, a.error(), a.current()));
      }
    }
    return out;
  }

  private static void step(List<Step> steps, String name, Instant at) {
    if (at != null) {
      steps.add(new Step(name, at));
    }
  }

  @Override
  public Map<TaskState, Long> countByState() {
    return store.countByState();
  }

  @Override
  public TaskFilter.Page newest(TaskFilter filter, String beforeId, int limit) {
    return store.newest(filter, beforeId, limit);
  }

  @Override
  public Optional<StoredTask> task(String id) {
    return store.get(id);
  }

  @Override
  public Map<String, StoredTask> tasks(Collection<String> ids) {
    return store.getAll(ids);
  }

  @Override
  public Set<String> dependantsOf(Collection<String> ids) {
    return store.dependantsOf(ids);
  }

  @Override
  public String why(StoredTask t) {
    Object line = Why.of(t, store, backend, cycle, loop, stager, clock.instant()).get("why");
    return line == null ? "" : line.toString();
  }

  @Override
  public String logTail(StoredTask t, int maxBytes) {
    if (t.attempt() == 0) {
      return "";
    }
    var id = new AttemptId(t.id(), t.attempt());
    ClusterBackend.LogSlice head = backend.log(id, false, 0, 1);
    long from = Math.max(0, head.size() - maxBytes);
    return new String(backend.log(id, false, from, maxBytes).bytes(), StandardCharsets.UTF_8);
  }

  @Override
  public Optional<String> staging(StoredTask t) {
    if (t.state() != TaskState.STAGING && t.state() != TaskState.RUNNING) {
      return Optional.empty();
    }
    return stager
        .progress(new AttemptId(t.id(), t.attempt()))
        .map(
            p ->
                p.bytesDone()
                    + " of "
                    + p.bytesTotal()
                    + " bytes, "
                    + p.filesDone()
                    + " of "
                    + p.filesTotal()
                    + " files");
  }

  @Override
  public List<Node> nodes() {
    var free = new TreeMap<String, long[]>();
    var nodeOfOffer = new java.util.HashMap<String, String>();
    for (Offer o : backend.offers()) {
      nodeOfOffer.put(o.name(), o.node());
      long[] f = free.computeIfAbsent(o.node(), k -> new long[4]);
      for (int d = 0; d < 4; d++) {
        f[d] += o.available().get(d);
      }
    }
    var used = new TreeMap<String, long[]>();
    var tasks = new TreeMap<String, List<StoredTask>>();
    for (StoredTask t : store.inFlight()) {
      String node = t.offer() == null ? null : nodeOfOffer.getOrDefault(t.offer(), t.offer());
      if (node == null) {
        continue;
      }
      long[] u = used.computeIfAbsent(node, k -> new long[4]);
      for (int d = 0; d < 4; d++) {
        u[d] += t.spec().resources().get(d);
      }
      tasks.computeIfAbsent(node, k -> new ArrayList<>()).add(t);
    }
    var names = new java.util.TreeSet<String>(free.keySet());
    names.addAll(used.keySet());
    var out = new ArrayList<Node>();
    for (String n : names) {
      out.add(
          new Node(
              n,
              resources(free.getOrDefault(n, new long[4])),
              resources(used.getOrDefault(n, new long[4])),
              tasks.getOrDefault(n, List.of())));
    }
    return out;
  }

  private static Resources resources(long[] r) {
    return new Resources(r[0], r[1], r[2], r[3]);
  }

  @Override
  public Map<String, Resources> runningByQueue() {
    return store.runningByQueue();
  }

  @Override
  public boolean paused() {
    return loop.paused();
  }

  @Override
  public Instant now() {
    return clock.instant();
  }

  @Override
  public void onCycle(java.util.function.Consumer<Cycle> listener) {
    loop.onCycle(r -> listener.accept(cycle(r)));
  }
}
