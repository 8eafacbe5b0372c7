package dev.stowage.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.app.service.StowageService;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Task;
import dev.stowage.workload.Workload;
import dev.stowage.workload.WorkloadGenerator;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Read latency of the HTTP API while one large cycle runs, and the batch submit rate through it.
 * The talk's lesson: long native work starved the service's other threads.
 */
@Command(
    name = "bench-api",
    mixinStandardHelpOptions = true,
    description = {
      "Start the service on embedded PostgreSQL and --offers simulated nodes, submit --tasks"
          + " through POST /api/tasks in batches (timing it), then time reads (get a task, list a"
          + " page, why) from --readers clients at --read-rate: first with the scheduler idle,"
          + " then while one cycle places all the tasks.",
      "Prints latency percentiles of each read, both ways, and the cycle's phases."
    })
final class BenchApiCommand implements Callable<Integer> {
  // In a holder: picocli makes every subcommand at each start, and a mapper made with this class
  // would cost every other command (stage, for one) tens of milliseconds.
  private static final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper();
  }

  private static final String[] READS = {"get task", "list page of 100", "why"};

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--tasks", defaultValue = "100000", description = "Default: ${DEFAULT-VALUE}.")
  int tasks;

  @Option(names = "--offers", defaultValue = "100000", description = "Default: ${DEFAULT-VALUE}.")
  int offers;

  @Option(
      names = "--readers",
      defaultValue = "4",
      description =
          "Reads outstanding at most, as from that many clients. Default: ${DEFAULT-VALUE}.")
  int readers;

  @Option(
      names = "--read-rate",
      defaultValue = "50",
      description =
          "Reads per second, all readers together, at a fixed pace (open loop: a read that"
              + " starts late counts from when it was due). Default: ${DEFAULT-VALUE}.")
  int readRate;

  @Option(
      names = "--batch",
      defaultValue = "10000",
      description = "Tasks per submit request. Default: ${DEFAULT-VALUE}.")
  int batch;

  @Option(
      names = "--idle-seconds",
      defaultValue = "10",
      description =
          "How long to read before the cycle; the first 2 s warm up and are not counted."
              + " Default: ${DEFAULT-VALUE}.")
  int idleSeconds;

  @Option(names = "--seed", defaultValue = "42", description = "Default: ${DEFAULT-VALUE}.")
  long seed;

  /** One read's timing: which read, when it started, how long it took (ns). */
  private static final class Samples {
    long[] kind = new long[1 << 14];
    long[] start = new long[1 << 14];
    long[] took = new long[1 << 14];
    int n;

    String failure;

    synchronized void fail(String what) {
      if (failure == null) {
        failure = what;
      }
    }

    synchronized void add(int k, long s, long t) {
      if (n == took.length) {
        kind = Arrays.copyOf(kind, n * 2);
        start = Arrays.copyOf(start, n * 2);
        took = Arrays.copyOf(took, n * 2);
      }
      kind[n] = k;
      start[n] = s;
      took[n++] = t;
    }
  }

  @Override
  public Integer call() throws Exception {
    if (tasks < 1 || offers < 1 || readers < 1 || batch < 1 || idleSeconds < 3 || readRate < 1) {
      throw new IllegalArgumentException(
          "--tasks, --offers, --readers, --read-rate and --batch must be at least 1,"
              + " --idle-seconds at least 3");
    }
    PrintWriter out = spec.commandLine().getOut();
    Path dir = Files.createTempDirectory("stowage-bench-api");
    Files.setPosixFilePermissions(
        dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Workload w = WorkloadGenerator.generate(tasks, offers, seed);
    var nodes = SimulatedCluster.Node.of(w.offers());
    try (var service =
        StowageService.builder(dir)
            .cluster(new StowageService.Cluster.Simulated(nodes))
            .maxTasksPerCycle(tasks)
            .start()) {
      var http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      String base = service.url();
      authorization = "Bearer " + Files.readString(service.adminTokenFile()).strip();
      // A running service has cycled before: wait for the first (empty) cycle, then hold the
      // submissions for the measured one (paused, the loop only applies cluster events).
      long firstBy = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (Json.MAPPER.readTree(get(http, base + "/api/scheduling")).path("cycles").asLong()
          < 1) {
        if (System.nanoTime() > firstBy) {
          throw new IllegalStateException("the service ran no cycle within 30 s");
        }
        Thread.sleep(20);
      }
      service.pauseScheduling();

      long s0 = System.nanoTime();
      for (int from = 0; from < tasks; from += batch) {
        String body = submission(w.tasks().subList(from, Math.min(tasks, from + batch)), from);
        var response =
            http.send(
                authorized(URI.create(base + "/api/tasks"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 201) {
          throw new IllegalStateException(
              "submit answered " + response.statusCode() + ": " + response.body());
        }
      }
      double submitS = (System.nanoTime() - s0) / 1e9;
      out.printf(
          "submitted %d tasks in %.2f s through POST /api/tasks (batches of %d): %.0f tasks/s%n",
          tasks, submitS, batch, tasks / submitS);
      out.flush();

      var stop = new AtomicBoolean();
      var samples = new Samples();
      // The first two seconds open connections and warm the JIT: not counted.
      long idleFrom = System.nanoTime() + Duration.ofSeconds(2).toNanos();
      Thread reader =
          Thread.ofPlatform().name("bench-reads").start(() -> read(http, base, samples, stop));
      Thread.sleep(Duration.ofSeconds(idleSeconds));
      long cycleStart = System.nanoTime();
      service.resumeScheduling();
      JsonNode cycle = awaitCycle(http, base, Duration.ofMinutes(10));
      long cycleEnd = System.nanoTime();
      stop.set(true);
      reader.join();
      if (samples.failure != null) {
        throw new IllegalStateException("a read failed: " + samples.failure);
      }

      out.printf(
          "cycle over %d tasks and %d nodes: %d matched, %d launched in %.0f ms%n",
          cycle.path("considered").asLong(),
          cycle.path("offers").asLong(),
          cycle.path("matched").asLong(),
          cycle.path("launched").asLong(),
          (cycleEnd - cycleStart) / 1e6);
      cycle
          .path("phasesMs")
          .properties()
          .forEach(e -> out.printf("  %-34s %10.1f ms%n", e.getKey(), e.getValue().asDouble()));
      out.println();
      out.printf(
          "%-18s %-12s %7s %9s %9s %9s %9s%n",
          "read", "while", "count", "p50 ms", "p90 ms", "p99 ms", "max ms");
      for (int k = 0; k < READS.length; k++) {
        print(out, READS[k], "idle", samples, k, idleFrom, cycleStart);
        print(out, READS[k], "cycle runs", samples, k, cycleStart, cycleEnd);
      }
      print(out, "all reads", "cycle runs", samples, -1, cycleStart, cycleEnd);
    } finally {
      BenchCycleCommand.deleteTree(dir);
    }
    return 0;
  }

  private String submission(List<Task> slice, int offset) throws Exception {
    var list = new ArrayList<Map<String, Object>>(slice.size());
    for (int i = 0; i < slice.size(); i++) {
      Task t = slice.get(i);
      var m = new LinkedHashMap<String, Object>();
      m.put("id", "t" + (offset + i));
      m.put("command", List.of("sim"));
      m.put("env", Map.of("STOWAGE_SIM_DURATION_MS", "3600000"));
      Resources r = t.requested();
      for (int d = 0; d < 4; d++) {
        m.put(Resources.DIMENSIONS[d], r.get(d));
      }
      m.put("constraints", t.constraints());
      list.add(m);
    }
    return Json.MAPPER.writeValueAsString(Map.of("tasks", list));
  }

  /**
   * Issues reads at a fixed pace without waiting for answers (open loop), so that a slow answer
   * delays no later read: each is timed from when it was due to when its answer arrived.
   */
  private void read(HttpClient http, String base, Samples samples, AtomicBoolean stop) {
    var random = new SplittableRandom(seed);
    long period = 1_000_000_000L / readRate;
    long due = System.nanoTime();
    var inFlight = new java.util.concurrent.Semaphore(readers);
    int k = 0;
    while (!stop.get()) {
      long wait = due - System.nanoTime();
      if (wait > 0) {
        java.util.concurrent.locks.LockSupport.parkNanos(wait);
        continue;
      }
      String id = "t" + random.nextInt(tasks);
      String path =
          switch (k) {
            case 0 -> "/api/tasks/" + id;
            case 1 -> "/api/tasks?limit=100&after=" + id;
            default -> "/api/tasks/" + id + "/why";
          };
      int kind = k;
      long start = due;
      due += period;
      k = (k + 1) % READS.length;
      // At most --readers reads outstanding, as that many clients would have; a read that
      // waits here for a free client still counts from when it was due.
      inFlight.acquireUninterruptibly();
      http.sendAsync(
              authorized(URI.create(base + path)).GET().build(),
              HttpResponse.BodyHandlers.ofByteArray())
          .whenComplete(
              (response, failure) -> {
                long took = System.nanoTime() - start;
                inFlight.release();
                if (failure != null || response.statusCode() != 200) {
                  samples.fail(
                      path
                          + ": "
                          + (failure != null ? failure : "answered " + response.statusCode()));
                } else {
                  samples.add(kind, start, took);
                }
              });
    }
    inFlight.acquireUninterruptibly(readers); // the last answers
  }

  /** The service's admin token, as every request of the benchmark sends it. */
  private static volatile String authorization;

  private static HttpRequest.Builder authorized(URI uri) {
    return HttpRequest.newBuilder(uri).header("Authorization", authorization);
  }

  private static String get(HttpClient http, String url) throws Exception {
    return http.send(
            authorized(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString())
        .body();
  }

  /** Waits for the first cycle that considered work; returns its entry from /api/cycles. */
  private JsonNode awaitCycle(HttpClient http, String base, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      var response =
          http.send(
              authorized(URI.create(base + "/api/cycles")).GET().build(),
              HttpResponse.BodyHandlers.ofString());
      for (JsonNode c : Json.MAPPER.readTree(response.body()).path("cycles")) {
        if (c.path("considered").asInt() > 0) {
          return c;
        }
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("no cycle placed the tasks within " + timeout);
  }

  private static void print(
      PrintWriter out,
      String read,
      String phase,
      Samples s,
      int kind,
      long fromNanos,
      long toNanos) {
    var took = new long[s.n];
    int n = 0;
    for (int i = 0; i < s.n; i++) {
      if ((kind < 0 || s.kind[i] == kind) && s.start[i] >= fromNanos && s.start[i] < toNanos) {
        took[n++] = s.took[i];
      }
    }
    if (n == 0) {
      out.printf("%-18s %-12s %7d%n", read, phase, 0);
      return;
    }
    Arrays.sort(took, 0, n);
    out.printf(
        "%-18s %-12s %7d %9.1f %9.1f %9.1f %9.1f%n",
        read,
        phase,
        n,
        percentile(took, n, 0.50),
        percentile(took, n, 0.90),
        percentile(took, n, 0.99),
        took[n - 1] / 1e6);
  }

  /** Nearest-rank percentile of the first {@code n} sorted values, in ms. */
  private static double percentile(long[] sorted, int n, double p) {
    int rank = (int) Math.ceil(p * n);
    return sorted[Math.max(0, rank - 1)] / 1e6;
  }
}
