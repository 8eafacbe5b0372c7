package dev.stowage.backend.sim;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.Launch;
import dev.stowage.scheduler.TaskEvent;
import dev.stowage.scheduler.TaskEvent.Kind;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * A cluster of simulated nodes for benchmarks and scale tests. A launched attempt "runs" for the
 * duration its task declares in the environment variable {@code STOWAGE_SIM_DURATION_MS} (default
 * 1000) on the injected clock, which a test or benchmark may advance as fast as it likes; it then
 * exits with {@code STOWAGE_SIM_EXIT_CODE} (default 0). Finished attempts are noticed when events
 * are drained.
 */
public final class SimulatedCluster implements ClusterBackend {
  /** One node: a name, its capacity and its attributes (zone, arch, ...). */
  public record Node(String name, Resources capacity, Map<String, String> attributes) {
    /** One node per offer, named after it, with the offer's resources as its capacity. */
    public static List<Node> of(List<Offer> offers) {
      var out = new ArrayList<Node>(offers.size());
      for (Offer o : offers) {
        out.add(new Node(o.name(), o.available(), o.attributes()));
      }
      return out;
    }
  }

  private record Running(AttemptId id, int node, Resources resources, Instant ends, int exitCode) {}

  private final List<Node> nodes;
  private final dev.stowage.scheduler.FixedNodes nodeEvents;
  private final Map<String, Integer> nodeIndex = new HashMap<>();
  private final long[] used; // four longs per node
  private final Clock clock;
  private final Map<AttemptId, Running> running = new LinkedHashMap<>();
  private final PriorityQueue<Running> byEnd =
      new PriorityQueue<>((a, b) -> a.ends().compareTo(b.ends()));
  private final Map<AttemptId, Integer> finished = new HashMap<>();
  private final List<TaskEvent> events = new ArrayList<>();
  private Runnable wakeUp = () -> {};

  public SimulatedCluster(List<Node> nodes, Clock clock) {
    this.nodes = List.copyOf(nodes);
    // The nodes never change.
    this.nodeEvents =
        new dev.stowage.scheduler.FixedNodes(
            this.nodes.stream()
                .map(n -> new Offer(n.name(), n.name(), n.capacity(), n.attributes()))
                .toList());
    this.used = new long[nodes.size() * 4];
    this.clock = clock;
    for (int i = 0; i < nodes.size(); i++) {
      if (nodeIndex.put(nodes.get(i).name(), i) != null) {
        throw new IllegalArgumentException("duplicate node name '" + nodes.get(i).name() + "'");
      }
    }
  }

  /** Its nodes, fixed for its life: all reported as added, once. */
  @Override
  public List<dev.stowage.scheduler.NodeEvent> drainNodeEvents() {
    return nodeEvents.drain();
  }

  @Override
  public synchronized List<Offer> offers() {
    var out = new ArrayList<Offer>(nodes.size());
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      int b = i * 4;
      out.add(
          new Offer(
              n.name(),
              n.name(),
              new Resources(
                  n.capacity().cpuMillis() - used[b],
                  n.capacity().memoryMiB() - used[b + 1],
                  n.capacity().diskMiB() - used[b + 2],
                  n.capacity().gpus() - used[b + 3]),
              n.attributes()));
    }
    return out;
  }

  @Override
  public synchronized void launch(Launch launch) {
    if (running.containsKey(launch.attempt()) || finished.containsKey(launch.attempt())) {
      // Launched before: say what became of it, start nothing.
      TaskEvent s = status(launch.attempt());
      emit(s.attempt(), s.kind(), s.exitCode(), "launched before: " + s.message());
      return;
    }
    Integer node = nodeIndex.get(launch.offer());
    if (node == null) {
      emit(launch.attempt(), Kind.LAUNCH_FAILED, null, "no node '" + launch.offer() + "'");
      return;
    }
    int b = node * 4;
    Resources cap = nodes.get(node).capacity();
    for (int d = 0; d < 4; d++) {
      if (used[b + d] + launch.resources().get(d) > cap.get(d)) {
        emit(launch.attempt(), Kind.LAUNCH_FAILED, null, "node " + launch.offer() + " is full");
        return;
      }
    }
    for (int d = 0; d < 4; d++) {
      used[b + d] += launch.resources().get(d);
    }
    long ms = parse(launch.env().get("STOWAGE_SIM_DURATION_MS"), 1000);
    int code = (int) parse(launch.env().get("STOWAGE_SIM_EXIT_CODE"), 0);
    var r =
        new Running(
            launch.attempt(),
            node,
            launch.resources(),
            clock.instant().plus(Duration.ofMillis(ms)),
            code);
    running.put(r.id(), r);
    byEnd.add(r);
    emit(r.id(), Kind.STARTED, null, "started");
  }

  @Override
  public synchronized void kill(AttemptId attempt) {
    Running r = running.get(attempt);
    if (r != null) {
      release(r);
      emit(attempt, Kind.KILLED, null, "stopped");
    }
  }

  @Override
  public synchronized List<TaskEvent> drainEvents() {
    Instant now = clock.instant();
    while (!byEnd.isEmpty() && !byEnd.peek().ends().isAfter(now)) {
      Running r = byEnd.poll();
      if (running.get(r.id()) == r) {
        release(r);
        finished.put(r.id(), r.exitCode());
        events.add(
            new TaskEvent(
                r.id(), Kind.EXITED, r.exitCode(), "exit code " + r.exitCode(), r.ends()));
      }
    }
    var out = new ArrayList<>(events);
    events.clear();
    return out;
  }

  @Override
  public synchronized void onEvents(Runnable wakeUp) {
    this.wakeUp = wakeUp;
  }

  @Override
  public synchronized TaskEvent status(AttemptId attempt) {
    Instant now = clock.instant();
    if (running.containsKey(attempt)) {
      return new TaskEvent(attempt, Kind.STARTED, null, "running", now);
    }
    Integer code = finished.get(attempt);
    if (code != null) {
      return new TaskEvent(attempt, Kind.EXITED, code, "exit code " + code, now);
    }
    return new TaskEvent(attempt, Kind.NOT_LAUNCHED, null, "never launched here", now);
  }

  @Override
  public LogSlice log(AttemptId attempt, boolean stderr, long from, int maxBytes) {
    return LogSlice.EMPTY;
  }

  /** How many attempts run now. */
  public synchronized int runningCount() {
    return running.size();
  }

  @Override
  public void close() {}

  private void release(Running r) {
    running.remove(r.id());
    int b = r.node() * 4;
    for (int d = 0; d < 4; d++) {
      used[b + d] -= r.resources().get(d);
    }
  }

  private void emit(AttemptId id, Kind kind, Integer code, String message) {
    events.add(new TaskEvent(id, kind, code, message, clock.instant()));
    wakeUp.run();
  }

  private static long parse(String value, long fallback) {
    if (value == null) {
      return fallback;
    }
    try {
      return Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      return fallback;
    }
  }
}
