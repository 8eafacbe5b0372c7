package dev.stowage.backend.local;

import dev.stowage.engine.Resources;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Each attempt's CPU and memory limits, from its request, in a control group of its own: cgroup v2
 * ({@code cpu.max}, {@code memory.max}) where the machine has it, v1 ({@code cpu.cfs_quota_us},
 * {@code memory.limit_in_bytes}) where that is what it has. The groups lie below the service's own,
 * so a service in a container limits only what it was given.
 */
sealed interface Cgroups {
  /** Period of the CPU quota: 100 ms, the kernel's default. */
  long PERIOD_US = 100_000;

  /** Makes the attempt's groups and sets their limits; returns the files its processes join. */
  List<Path> create(String name, Resources request) throws IOException;

  /** Whether the kernel killed a process of the attempt for its memory limit. */
  boolean oomKilled(String name);

  /** Removes the attempt's groups (once its processes are gone). */
  void remove(String name);

  /** What this machine allows, and a line for the operator saying so. */
  static Cgroups detect(Path root) {
    try {
      if (Files.exists(root.resolve("cgroup.controllers"))) {
        return V2.open(root);
      }
      if (Files.isDirectory(root.resolve("cpu")) && Files.isDirectory(root.resolve("memory"))) {
        return V1.open(root);
      }
      return new None("no cgroup v1 cpu and memory hierarchies nor cgroup v2 at " + root);
    } catch (IOException | RuntimeException e) {
      return new None(e.getMessage());
    }
  }

  /** Why limits are not enforced, or empty when they are. */
  default Optional<String> notEnforced() {
    return Optional.empty();
  }

  /** No writable hierarchy: attempts run unlimited, and the service says so at start. */
  record None(String why) implements Cgroups {
    @Override
    public List<Path> create(String name, Resources request) {
      return List.of();
    }

    @Override
    public boolean oomKilled(String name) {
      return false;
    }

    @Override
    public void remove(String name) {}

    @Override
    public Optional<String> notEnforced() {
      return Optional.of(why);
    }
  }

  /** cgroup v1: one directory in the cpu hierarchy and one in the memory hierarchy. */
  record V1(Path cpu, Path memory) implements Cgroups {
    static V1 open(Path root) throws IOException {
      Path cpu = root.resolve("cpu").resolve(own("cpu")).resolve("stowage");
      Path memory = root.resolve("memory").resolve(own("memory")).resolve("stowage");
      Files.createDirectories(cpu);
      Files.createDirectories(memory);
      var v1 = new V1(cpu, memory);
      probe(v1);
      return v1;
    }

    private static String own(String controller) throws IOException {
      for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
        String[] f = line.split(":", 3);
        if (f.length == 3 && List.of(f[1].split(",")).contains(controller)) {
          return f[2].startsWith("/") ? f[2].substring(1) : f[2];
        }
      }
      return "";
    }

    @Override
    public List<Path> create(String name, Resources request) throws IOException {
      Path c = Files.createDirectories(cpu.resolve(name));
      Path m = Files.createDirectories(memory.resolve(name));
      Files.writeString(c.resolve("cpu.cfs_period_us"), Long.toString(PERIOD_US));
      Files.writeString(c.resolve("cpu.cfs_quota_us"), Long.toString(quota(request)));
      long bytes = memoryLimit(request);
      Files.writeString(
          m.resolve("memory.limit_in_bytes"),
          bytes == Long.MAX_VALUE ? "-1" : Long.toString(bytes));
      return List.of(c.resolve("cgroup.procs"), m.resolve("cgroup.procs"));
    }

    @Override
    public boolean oomKilled(String name) {
      return counter(memory.resolve(name).resolve("memory.oom_control"), "oom_kill") > 0;
    }

    @Override
    public void remove(String name) {
      rmdir(cpu.resolve(name));
      rmdir(memory.resolve(name));
    }
  }

  /** cgroup v2: one directory with both controllers, below a leaf the service moves itself into. */
  record V2(Path attempts) implements Cgroups {
    static V2 open(Path root) throws IOException {
      String own = "";
      for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
        if (line.startsWith("0::")) {
          own = line.substring(3).replaceFirst("^/", "");
        }
      }
      Path base = root.resolve(own);
      // No processes may sit beside groups with controllers: the service moves into a leaf.
      Path service = Files.createDirectories(base.resolve("stowage-service"));
      Files.writeString(
          service.resolve("cgroup.procs"), Long.toString(ProcessHandle.current().pid()));
      Files.writeString(base.resolve("cgroup.subtree_control"), "+cpu +memory");
      Path attempts = Files.createDirectories(base.resolve("stowage"));
      Files.writeString(attempts.resolve("cgroup.subtree_control"), "+cpu +memory");
      var v2 = new V2(attempts);
      probe(v2);
      return v2;
    }

    @Override
    public List<Path> create(String name, Resources request) throws IOException {
      Path g = Files.createDirectories(attempts.resolve(name));
      long quota = quota(request);
      Files.writeString(
          g.resolve("cpu.max"), (quota < 0 ? "max" : Long.toString(quota)) + " " + PERIOD_US);
      long memory = memoryLimit(request);
      Files.writeString(
          g.resolve("memory.max"), memory == Long.MAX_VALUE ? "max" : Long.toString(memory));
      return List.of(g.resolve("cgroup.procs"));
    }

    @Override
    public boolean oomKilled(String name) {
      return counter(attempts.resolve(name).resolve("memory.events"), "oom_kill") > 0;
    }

    @Override
    public void remove(String name) {
      rmdir(attempts.resolve(name));
    }
  }

  /**
   * Makes and removes a group with limits, so that a hierarchy this user may not write (one another
   * user made, say) is found at start rather than at each launch.
   */
  private static void probe(Cgroups groups) throws IOException {
    String name = ".probe-" + ProcessHandle.current().pid();
    try {
      groups.create(name, new Resources(1000, 64, 0, 0));
    } catch (IOException e) {
      throw new IOException("cannot make control groups: " + e, e);
    } finally {
      groups.remove(name);
    }
  }

  /** Microseconds of CPU per period: the request's share of a core; -1 for none. */
  private static long quota(Resources request) {
    return request.cpuMillis() == 0 ? -1 : Math.max(1000, request.cpuMillis() * PERIOD_US / 1000);
  }

  /** Bytes of memory; unlimited (the largest value) for no request. */
  private static long memoryLimit(Resources request) {
    return request.memoryMiB() == 0 ? Long.MAX_VALUE : request.memoryMiB() << 20;
  }

  /** A named counter of a flat-keyed file ({@code name value} lines). */
  private static long counter(Path file, String key) {
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        String[] f = line.strip().split("\\s+");
        if (f.length == 2 && f[0].equals(key)) {
          return Long.parseLong(f[1]);
        }
      }
    } catch (IOException | NumberFormatException e) {
      // no such counter: nothing to report
    }
    return 0;
  }

  private static void rmdir(Path dir) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // still has a process (a restart will find the attempt) or already gone
    }
  }

  /** The files a wrapper writes its own pid to, as one argument. */
  static String joined(List<Path> procs) {
    var parts = new ArrayList<String>();
    procs.forEach(p -> parts.add(p.toString()));
    return String.join(" ", parts);
  }
}
