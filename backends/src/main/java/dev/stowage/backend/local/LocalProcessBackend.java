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
 * This machine as a one-node cluster: each attempt runs as an OS process in its own attempt
 * directory, {@code ROOT/<task key>/attempt-<n>}, where the task key is the id made safe for a file
 * name and a hash of it (two ids never share a directory; {@code task-id} beside the attempts holds
 * the id itself). The process runs in {@code work/} inside it; the service's records of the attempt
 * lie beside {@code work/}, where the task's inputs cannot land: standard output and error in
 * {@code stdout.log} and {@code stderr.log}, the exit code, the process id.
 *
 * <p>Every attempt runs under a small {@code /bin/sh} wrapper that records the program's exit code
 * in {@code exit_code}, and its process id and start time go to {@code pid}. Together they let a
 * restarted service tell, for each attempt it had launched, whether it still runs (it is watched
 * again), how it ended while the service was down, or that it was lost. Timeouts and cancels stop
 * the whole process tree: SIGTERM, then SIGKILL after a grace period; its resources stay held until
 * every process of the tree is gone.
 *
 * <p>The wrapper runs with a fixed environment. The task's own reaches it on standard input, read
 * by a second shell that runs as the task's user (see {@link TaskIsolation}), so that nothing the
 * task sets (a {@code PATH}, an {@code LD_PRELOAD}) touches the wrapper, which may be root.
 */
public final class LocalProcessBackend implements ClusterBackend {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(LocalProcessBackend.class);

  /** How long a stopped attempt gets between SIGTERM and SIGKILL. */
  static final Duration GRACE = Duration.ofSeconds(5);

  /**
   * Runs as the service's user, so that only it writes the records: reads the environment file into
   * descriptor 3 and removes it, runs the rest of its arguments with that as their input, then
   * records the exit code.
   */
  private static final String WRAPPER =
      "records=$1; groups=$2; shift 2; for g in $groups; do echo $$ > \"$g\" || { echo \"stowage:"
          + " cannot join $g\" >&2; exit 125; }; done; exec 3< \"$records/env\"; /bin/rm -f"
          + " \"$records/env\"; \"$@\" <&3 3<&-; code=$?; exec 3<&-; echo \"$code\" > \"$records/exit_code.tmp\" &&"
          + " /bin/mv -f \"$records/exit_code.tmp\" \"$records/exit_code\"; exit \"$code\"";

  /** Runs as the task's user: takes the environment from its input, then runs the program. */
  private static final String TASK_SHELL =
      "set -a; eval \"$(/bin/cat)\"; set +a; exec \"$@\" < /dev/null";

  /** The wrapper's own environment: nothing of the service's, nothing of the task's. */
  private static final Map<String, String> WRAPPER_ENV =
      Map.of("PATH", "/usr/bin:/bin", "LC_ALL", "C");

  private static final String LAUNCHING = "launching";
  // Why the service stopped the attempt (killed, timed_out), written before it is signalled: a
  // restart then reports the stop, not the signal's exit code.
  private static final String STOPPED = "stopped";
  private static final String WORK = "work";

  private final Path root;
  private final Resources capacity;
  private final List<Offer> capacities; // one node, fixed for the backend's life
  private final dev.stowage.scheduler.FixedNodes nodeEvents;
  private final String node;
  private final Clock clock;
  private final TaskIsolation isolation;
  private final Cgroups cgroups;
  private final Map<AttemptId, Attempt> running = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<TaskEvent> events = new ConcurrentLinkedQueue<>();
  private final ScheduledExecutorService timers;
  private volatile Runnable wakeUp = () -> {};

  private record Attempt(
      AttemptId id, ProcessHandle process, Resources resources, Path dir, StopReason stop) {}

  /** Why the service stopped an attempt, if it did; set before the process is signalled. */
  private static final class StopReason {
    volatile Kind kind;
    volatile List<ProcessHandle> tree = List.of();
  }

  /**
   * @param root where work directories go
   * @param capacity what this node offers in all; {@link #detectCapacity} measures the machine
   */
  public LocalProcessBackend(Path root, Resources capacity, String node, Clock clock)
      throws IOException {
    this(root, capacity, node, clock, TaskIsolation.none());
  }

  /**
   * @param isolation what attempts get of the service: environment, user
   */
  public LocalProcessBackend(
      Path root, Resources capacity, String node, Clock clock, TaskIsolation isolation)
      throws IOException {
    this.isolation = isolation;
    this.cgroups =
        isolation.limits()
            ? Cgroups.detect(Path.of("/sys/fs/cgroup"))
            : new Cgroups.None("not asked for");
    this.root = root.toAbsolutePath().normalize();
    this.capacity = capacity;
    this.capacities =
        List.of(new Offer(node, node, capacity, Map.of("node", node, "backend", "local")));
    this.nodeEvents = new dev.stowage.scheduler.FixedNodes(capacities);
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
   * Where an attempt runs (its inputs are staged there first): {@code work/} in its attempt
   * directory.
   */
  @Override
  public java.util.Optional<Path> workDirectory(AttemptId attempt) {
    return java.util.Optional.of(dirOf(attempt).resolve(WORK));
  }

  /** Its nodes, fixed for its life: all reported as added, once. */
  @Override
  public List<dev.stowage.scheduler.NodeEvent> drainNodeEvents() {
    return nodeEvents.drain();
  }

  @Override
  public void launch(Launch launch) {
    AttemptId id = launch.attempt();
    Path dir = dirOf(id);
    if (running.containsKey(id) || Files.exists(dir.resolve(LAUNCHING))) {
      // Launched before, maybe by this service before a crash: adopt it, start nothing.
      TaskEvent s = status(id);
      emit(id, s.kind(), s.exitCode(), "launched before: " + s.message());
      return;
    }
    if (launch.image() != null) {
      // Running the command without its image would run something else than was asked.
      emit(
          id,
          Kind.LAUNCH_FAILED,
          null,
          "the task names the image '"
              + launch.image()
              + "', and the local backend runs no container images (use --backend kubernetes)");
      return;
    }
    Process process;
    try {
      Path work = dir.resolve(WORK);
      Path tmp = work.resolve(".tmp");
      Files.createDirectories(tmp);
      Files.writeString(dir.getParent().resolve("task-id"), id.taskId() + "\n");
      var facts = new java.util.LinkedHashMap<String, String>();
      facts.put("STOWAGE_TASK_ID", id.taskId());
      facts.put("STOWAGE_ATTEMPT", Integer.toString(id.attempt()));
      facts.put("STOWAGE_WORK_DIR", work.toString());
      Map<String, String> env = isolation.environmentOf(launch.env(), facts, work, tmp);
      Optional<String> problem = TaskIsolation.problemWith(launch.command(), env.get("PATH"), work);
      if (problem.isPresent()) {
        emit(id, Kind.LAUNCH_FAILED, null, problem.get());
        return;
      }
      if (isolation.runAs() != null) {
        handOver(work, isolation.runAs());
      }
      Path envFile = dir.resolve("env");
      Files.deleteIfExists(envFile);
      Files.write(
          Files.createFile(
              envFile,
              java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                  java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"))),
          TaskIsolation.exportScript(env));
      // Written before the start: a directory without it holds only staged inputs, so a restart
      // may launch the attempt; with it but no pid, the process may have started (lost, not new).
      Files.writeString(dir.resolve(LAUNCHING), "");
      List<Path> groups = cgroups.create(groupOf(id), launch.resources());
      var command =
          new ArrayList<String>(
              List.of(
                  "/bin/sh",
                  "-c",
                  WRAPPER,
                  "stowage-attempt",
                  dir.toString(),
                  Cgroups.joined(groups)));
      if (isolation.runAs() != null) {
        var user = isolation.runAs();
        command.addAll(
            List.of(
                "setpriv",
                "--reuid=" + user.uid(),
                "--regid=" + user.gid(),
                "--clear-groups",
                "--no-new-privs",
                "--"));
      }
      command.addAll(List.of("/bin/sh", "-c", TASK_SHELL, "stowage-task"));
      command.addAll(launch.command());
      var builder =
          new ProcessBuilder(command)
              .directory(work.toFile())
              .redirectOutput(dir.resolve("stdout.log").toFile())
              .redirectError(dir.resolve("stderr.log").toFile());
      builder.environment().clear();
      builder.environment().putAll(WRAPPER_ENV);
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

  /**
   * The work directory and everything staged in it, given to the task's user (links not followed).
   */
  private static void handOver(Path work, TaskIsolation.RunAs user) throws IOException {
    try (var paths = Files.walk(work)) {
      for (Path p : (Iterable<Path>) paths::iterator) {
        Files.setAttribute(p, "unix:uid", user.uid(), java.nio.file.LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", user.gid(), java.nio.file.LinkOption.NOFOLLOW_LINKS);
      }
    }
    Files.setPosixFilePermissions(
        work, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
  }

  private void watch(Attempt a) {
    running.put(a.id(), a);
    emit(a.id(), Kind.STARTED, null, "pid " + a.process().pid());
    a.process().onExit().thenRun(() -> finished(a));
  }

  private void finished(Attempt a) {
    Kind stop = a.stop().kind;
    if (stop != null) {
      // A stopped tree may outlive its wrapper through its TERM grace: its resources stay held
      // until the last of its processes is gone.
      if (a.stop().tree.stream().anyMatch(ProcessHandle::isAlive)) {
        timers.schedule(() -> finished(a), 50, TimeUnit.MILLISECONDS);
        return;
      }
      running.remove(a.id());
      cgroups.remove(groupOf(a.id()));
      emit(a.id(), stop, null, stop == Kind.TIMED_OUT ? "ran past its timeout" : "stopped");
      return;
    }
    running.remove(a.id());
    Optional<Integer> code = exitCode(a.dir());
    boolean oom = cgroups.oomKilled(groupOf(a.id()));
    cgroups.remove(groupOf(a.id()));
    if (oom) {
      emit(
          a.id(),
          Kind.OUT_OF_MEMORY,
          code.orElse(null),
          "killed by the kernel for using more than its memory limit of "
              + a.resources().memoryMiB()
              + " MiB"
              + code.map(c -> " (exit code " + c + ")").orElse(""));
    } else if (code.isPresent()) {
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
    try {
      Files.writeString(a.dir().resolve(STOPPED), why.name() + "\n");
    } catch (IOException e) {
      LOG.warn("could not record why attempt {} is stopped: {}", id, e.getMessage());
    }
    // The tree as it is now, children first, so nothing is re-parented out of reach.
    List<ProcessHandle> tree = new ArrayList<>(a.process().descendants().toList());
    tree.add(a.process());
    a.stop().tree = List.copyOf(tree);
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
      if (Files.exists(legacyDirOf(id).resolve(LAUNCHING))) {
        // Launched by a version that kept attempts under the raw id: not ours to run again.
        return new TaskEvent(
            id, Kind.LOST, null, "launched by an earlier version of Stowage", clock.instant());
      }
      return new TaskEvent(id, Kind.NOT_LAUNCHED, null, "no work directory", clock.instant());
    }
    Optional<Integer> code = exitCode(dir);
    if (code.isEmpty() && !Files.exists(dir.resolve(LAUNCHING))) {
      // Inputs were staged here, but no start was even tried.
      return new TaskEvent(id, Kind.NOT_LAUNCHED, null, "staged, never launched", clock.instant());
    }
    Optional<Kind> stopped = stopKind(dir);
    if (code.isPresent() || (stopped.isPresent() && recordedProcess(dir).isEmpty())) {
      if (stopped.isPresent()) {
        String what = stopped.get() == Kind.TIMED_OUT ? "ran past its timeout" : "stopped";
        return new TaskEvent(id, stopped.get(), code.orElse(null), what, clock.instant());
      }
      return new TaskEvent(id, Kind.EXITED, code.get(), "exit code " + code.get(), clock.instant());
    }
    Optional<ProcessHandle> alive = recordedProcess(dir);
    if (alive.isPresent()) {
      // Resources are unknown after a restart; the caller re-reads them from the store. One
      // being stopped when the service went down ends as the stop it was.
      var reason = new StopReason();
      reason.kind = stopped.orElse(null);
      watch(new Attempt(id, alive.get(), Resources.NONE, dir, reason));
      return new TaskEvent(id, Kind.STARTED, null, "running (adopted)", clock.instant());
    }
    return new TaskEvent(
        id, Kind.LOST, null, "no running process and no exit code", clock.instant());
  }

  @Override
  public LogSlice log(AttemptId attempt, boolean stderr, long from, int maxBytes) {
    Path file = dirOf(attempt).resolve(stderr ? "stderr.log" : "stdout.log");
    try (var channel = java.nio.channels.FileChannel.open(file)) {
      long size = channel.size();
      long start = from < 0 ? Math.max(0, size - maxBytes) : Math.min(from, size);
      var buffer = java.nio.ByteBuffer.allocate((int) Math.min(maxBytes, size - start));
      while (buffer.hasRemaining() && channel.read(buffer, start + buffer.position()) > 0) {
        // read until full or the end
      }
      return new LogSlice(size, start, java.util.Arrays.copyOf(buffer.array(), buffer.position()));
    } catch (java.nio.file.NoSuchFileException e) {
      return LogSlice.EMPTY;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Override
  public Map<AttemptId, String> knownAttempts() {
    var out = new java.util.LinkedHashMap<AttemptId, String>();
    try (var dirs = Files.newDirectoryStream(root, Files::isDirectory)) {
      for (Path dir : dirs) {
        Path idFile = dir.resolve("task-id");
        if (!Files.isRegularFile(idFile, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          continue; // not a task's directory, or only staged into: nothing launched
        }
        String id = Files.readString(idFile, StandardCharsets.UTF_8).strip();
        if (!dir.getFileName().toString().equals(keyOf(id))) {
          continue;
        }
        try (var attempts = Files.newDirectoryStream(dir, "attempt-*")) {
          for (Path a : attempts) {
            String n = a.getFileName().toString().substring("attempt-".length());
            if (n.matches("[1-9][0-9]{0,8}") && Files.exists(a.resolve(LAUNCHING))) {
              out.put(new AttemptId(id, Integer.parseInt(n)), node);
            }
          }
        }
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out;
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

  private static Optional<Kind> stopKind(Path dir) {
    try {
      String kind = Files.readString(dir.resolve(STOPPED), StandardCharsets.UTF_8).strip();
      return Optional.of(Kind.valueOf(kind)).filter(k -> k == Kind.KILLED || k == Kind.TIMED_OUT);
    } catch (IOException | IllegalArgumentException e) {
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

  /**
   * The attempt directory: the service's records of the attempt, and {@code work/}, where it runs.
   */
  public Path dirOf(AttemptId id) {
    return root.resolve(keyOf(id.taskId())).resolve("attempt-" + id.attempt());
  }

  /**
   * A task's directory name: its id with every character but letters, digits, '.', '_' and '-' made
   * '_' (cut to 40), then 24 hex digits of the id's SHA-256, which alone tell ids apart.
   */
  static String keyOf(String taskId) {
    String readable = taskId.replaceAll("[^A-Za-z0-9._-]", "_");
    if (readable.length() > 40) {
      readable = readable.substring(0, 40);
    }
    try {
      byte[] hash =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(taskId.getBytes(StandardCharsets.UTF_8));
      return readable + "-" + java.util.HexFormat.of().formatHex(hash, 0, 12);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /**
   * Removes the directories of finished tasks, {@code ROOT/<task key>} with every attempt, as
   * {@code removable} picks them among the ids their {@code task-id} files name. A task with an
   * attempt still watched here is never offered.
   */
  @Override
  public int removeFinished(
      java.util.function.Function<java.util.Collection<String>, java.util.Set<String>> removable) {
    var byId = new java.util.LinkedHashMap<String, Path>();
    var busy = new java.util.HashSet<String>();
    running.keySet().forEach(a -> busy.add(a.taskId()));
    try (var dirs = Files.newDirectoryStream(root, Files::isDirectory)) {
      for (Path dir : dirs) {
        Path idFile = dir.resolve("task-id");
        if (Files.isRegularFile(idFile, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          String id = Files.readString(idFile, StandardCharsets.UTF_8).strip();
          if (!busy.contains(id) && dir.getFileName().toString().equals(keyOf(id))) {
            byId.put(id, dir);
          }
        }
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    int removed = 0;
    var ids = new ArrayList<>(byId.keySet());
    for (int from = 0; from < ids.size(); from += 500) {
      for (String id : removable.apply(ids.subList(from, Math.min(ids.size(), from + 500)))) {
        Path dir = byId.get(id);
        if (dir != null && deleteTree(dir)) {
          removed++;
        }
      }
    }
    return removed;
  }

  /** Deletes a directory and all in it; a link is removed, never followed. */
  private static boolean deleteTree(Path dir) {
    try {
      Files.walkFileTree(
          dir,
          new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult visitFile(
                Path file, java.nio.file.attribute.BasicFileAttributes attrs) throws IOException {
              Files.delete(file);
              return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult postVisitDirectory(Path d, IOException e)
                throws IOException {
              if (e != null) {
                throw e;
              }
              Files.delete(d);
              return java.nio.file.FileVisitResult.CONTINUE;
            }
          });
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The attempt's control group's name: its directory's, which tells every attempt apart. */
  static String groupOf(AttemptId id) {
    return keyOf(id.taskId()) + "-" + id.attempt();
  }

  /** Why CPU and memory limits are not enforced on this machine, or empty when they are. */
  public Optional<String> limitsNotEnforced() {
    return cgroups.notEnforced();
  }

  private Path legacyDirOf(AttemptId id) {
    Path dir = root.resolve(id.taskId()).resolve("attempt-" + id.attempt()).normalize();
    return dir.startsWith(root) ? dir : root.resolve("-");
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
