package dev.stowage.backend.local;

import com.sun.management.OperatingSystemMXBean;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.Launch;
import dev.stowage.scheduler.TaskEvent;
import dev.stowage.scheduler.TaskEvent.Kind;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * This machine as a one-node cluster: each attempt runs as an OS process in its own work directory,
 * {@code ROOT/<task id>/attempt-<n>}, with standard output and error captured to {@code stdout.log}
 * and {@code stderr.log}.
 *
 * <p>Every attempt runs under a small {@code /bin/sh} wrapper that records the program's exit code
 * in {@code exit_code}, and its process id and start time go to {@code pid}. Together they let a
 * restarted service tell, for each attempt it had launched, whether it still runs (it is watched
 * again), how it ended while the service was down, or that it was lost. Timeouts and cancels stop
 * the whole process tree: SIGTERM, then SIGKILL after a grace period.
 */
public final class LocalProcessBackend implements ClusterBackend {
  /** How long a stopped attempt gets between SIGTERM and SIGKILL. */
  static final Duration GRACE = Duration.ofSeconds(5);

  private static final String WRAPPER =
      "\"$@\"; code=$?; echo $code > exit_code.tmp && mv exit_code.tmp exit_code; exit $code";

  private static final String LAUNCHING = "launching";

  private final Path root;
  private final Resources capacity;
  private final List<Offer> capacities; // one node, fixed for the backend's life
  private final String node;
  private final Clock clock;
  private final Map<AttemptId, Attempt> running = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<TaskEvent> events = new ConcurrentLinkedQueue<>();
  private final ScheduledExecutorService timers;
  private volatile Runnable wakeUp = () -> {};

  private record Attempt(
      AttemptId id, ProcessHandle process, Resources resources, Path dir, StopReason stop) {}

  /** Why the service stopped an attempt, if it did; set before the process is signalled. */
  private static final class StopReason {
    volatile Kind kind;
  }

  /**
   * @param root where work directories go
   * @param capacity what this node offers in all; {@link #detectCapacity} measures the machine
   */
  public LocalProcessBackend(Path root, Resources capacity, String node, Clock clock)
      throws IOException {
    this.root = root.toAbsolutePath().normalize();
    this.capacity = capacity;
    this.capacities =
        List.of(new Offer(node, node, capacity, Map.of("node", node, "backend", "local")));
    this.node = node;
    this.clock = clock;
    Files.createDirectories(this.root);
    this.timers =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("stowage-local-timers").unstarted(r));
  }

  /** All cores, physical memory and the free space of {@code root}'s file system. */
  public static Resources detectCapacity(Path root) throws IOException {
    var os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    Files.createDirectories(root);
    return new Resources(
        Runtime.getRuntime().availableProcessors() * 1000L,
        os.getTotalMemorySize() >> 20,
        Files.getFileStore(root).getUsableSpace() >> 20,
        0);
  }

  @Override
  public List<Offer> offers() {
    long[] free = {capacity.cpuMillis(), capacity.memoryMiB(), capacity.diskMiB(), capacity.gpus()};
    for (Attempt a : running.values()) {
      for (int d = 0; d < 4; d++) {
        free[d] -= a.resources().get(d);
      }
    }
    var available =
        new Resources(
            Math.max(0, free[0]), Math.max(0, free[1]), Math.max(0, free[2]), Math.max(0, free[3]));
    return List.of(new Offer(node, node, available, capacities.getFirst().attributes()));
  }

  /**
   * Where an attempt runs (its inputs are staged there first): {@code ROOT/<task id>/attempt-<n>}.
   */
  @Override
  public java.util.Optional<Path> workDirectory(AttemptId attempt) {
    return java.util.Optional.of(dirOf(attempt));
  }

  @Override
  public List<Offer> capacities() {
    return capacities;
  }

  @Override
  public void launch(Launch launch) {
    AttemptId id = launch.attempt();
    Path dir = dirOf(id);
    Process process;
    try {
      Files.createDirectories(dir);
      // Written before the start: a directory without it holds only staged inputs, so a restart
      // may launch the attempt; with it but no pid, the process may have started (lost, not new).
      Files.writeString(dir.resolve(LAUNCHING), "");
      var command = new ArrayList<String>(List.of("/bin/sh", "-c", WRAPPER, "stowage-task"));
      command.addAll(launch.command());
      var builder =
          new ProcessBuilder(command)
              .directory(dir.toFile())
              .redirectOutput(dir.resolve("stdout.log").toFile())
              .redirectError(dir.resolve("stderr.log").toFile());
      builder.environment().putAll(launch.env());
      builder.environment().put("STOWAGE_TASK_ID", id.taskId());
      builder.environment().put("STOWAGE_ATTEMPT", Integer.toString(id.attempt()));
      builder.environment().put("STOWAGE_WORK_DIR", dir.toString());
      process = builder.start();
      long started = process.toHandle().info().startInstant().map(i -> i.toEpochMilli()).orElse(0L);
      Files.writeString(dir.resolve("pid"), process.pid() + " " + started + "\n");
    } catch (IOException | RuntimeException e) {
      emit(id, Kind.LAUNCH_FAILED, null, e.getMessage());
      return;
    }
    watch(new Attempt(id, process.toHandle(), launch.resources(), dir, new StopReason()));
    if (launch.timeout() != null) {
      timers.schedule(
          () -> stop(id, Kind.TIMED_OUT), launch.timeout().toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  private void watch(Attempt a) {
    running.put(a.id(), a);
    emit(a.id(), Kind.STARTED, null, "pid " + a.process().pid());
    a.process().onExit().thenRun(() -> finished(a));
  }

  private void finished(Attempt a) {
    running.remove(a.id());
    Kind stop = a.stop().kind;
    if (stop != null) {
      emit(a.id(), stop, null, stop == Kind.TIMED_OUT ? "ran past its timeout" : "stopped");
      return;
    }
    Optional<Integer> code = exitCode(a.dir());
    if (code.isPresent()) {
      emit(a.id(), Kind.EXITED, code.get(), "exit code " + code.get());
    } else {
      emit(a.id(), Kind.LOST, null, "the process ended without recording an exit code");
    }
  }

  @Override
  public void kill(AttemptId attempt) {
    stop(attempt, Kind.KILLED);
  }

  private void stop(AttemptId id, Kind why) {
    Attempt a = running.get(id);
    if (a == null || a.stop().kind != null) {
      return;
    }
    a.stop().kind = why;
    // The tree as it is now, children first, so nothing is re-parented out of reach.
    List<ProcessHandle> tree = new ArrayList<>(a.process().descendants().toList());
    tree.add(a.process());
    tree.forEach(ProcessHandle::destroy);
    timers.schedule(
        () -> tree.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly),
        GRACE.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  @Override
  public List<TaskEvent> drainEvents() {
    var out = new ArrayList<TaskEvent>();
    for (TaskEvent e = events.poll(); e != null; e = events.poll()) {
      out.add(e);
    }
    return out;
  }

  @Override
  public void onEvents(Runnable wakeUp) {
    this.wakeUp = wakeUp;
  }

  @Override
  public TaskEvent status(AttemptId id) {
    Attempt known = running.get(id);
    if (known != null) {
      return new TaskEvent(id, Kind.STARTED, null, "running", clock.instant());
    }
    Path dir = dirOf(id);
    if (!Files.exists(dir)) {
      return new TaskEvent(id, Kind.NOT_LAUNCHED, null, "no work directory", clock.instant());
    }
    Optional<Integer> code = exitCode(dir);
    if (code.isEmpty() && !Files.exists(dir.resolve(LAUNCHING))) {
      // Inputs were staged here, but no start was even tried.
      return new TaskEvent(id, Kind.NOT_LAUNCHED, null, "staged, never launched", clock.instant());
    }
    if (code.isPresent()) {
      return new TaskEvent(id, Kind.EXITED, code.get(), "exit code " + code.get(), clock.instant());
    }
    Optional<ProcessHandle> alive = recordedProcess(dir);
    if (alive.isPresent()) {
      // Resources are unknown after a restart; the caller re-reads them from the store.
      watch(new Attempt(id, alive.get(), Resources.NONE, dir, new StopReason()));
      return new TaskEvent(id, Kind.STARTED, null, "running (adopted)", clock.instant());
    }
    return new TaskEvent(
        id, Kind.LOST, null, "no running process and no exit code", clock.instant());
  }

  @Override
  public String logTail(AttemptId attempt, boolean stderr, int maxBytes) {
    Path file = dirOf(attempt).resolve(stderr ? "stderr.log" : "stdout.log");
    try (var channel = java.nio.channels.FileChannel.open(file)) {
      long size = channel.size();
      long from = Math.max(0, size - maxBytes);
      var buffer = java.nio.ByteBuffer.allocate((int) (size - from));
      channel.read(buffer, from);
      return new String(buffer.array(), StandardCharsets.UTF_8);
    } catch (java.nio.file.NoSuchFileException e) {
      return "";
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The attempt's process if it is still the one that was launched (pid and start time match). */
  private static Optional<ProcessHandle> recordedProcess(Path dir) {
    try {
      String[] parts =
          Files.readString(dir.resolve("pid"), StandardCharsets.UTF_8).trim().split(" ");
      long pid = Long.parseLong(parts[0]);
      long started = Long.parseLong(parts[1]);
      return ProcessHandle.of(pid)
          .filter(ProcessHandle::isAlive)
          .filter(p -> p.info().startInstant().map(i -> i.toEpochMilli() == started).orElse(false));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  private static Optional<Integer> exitCode(Path dir) {
    try {
      return Optional.of(
          Integer.parseInt(
              Files.readString(dir.resolve("exit_code"), StandardCharsets.UTF_8).trim()));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** The work directory of an attempt; task ids are checked at submit to stay inside the root. */
  public Path dirOf(AttemptId id) {
    Path dir = root.resolve(id.taskId()).resolve("attempt-" + id.attempt()).normalize();
    if (!dir.startsWith(root)) {
      throw new IllegalArgumentException("task id escapes the work root: " + id.taskId());
    }
    return dir;
  }

  private void emit(AttemptId id, Kind kind, Integer code, String message) {
    events.add(new TaskEvent(id, kind, code, message, clock.instant()));
    wakeUp.run();
  }

  /** Stops watching; running attempts keep running (a restarted service reconciles them). */
  @Override
  public void close() {
    timers.shutdownNow();
  }
}
