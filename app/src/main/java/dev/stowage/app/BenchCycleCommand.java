package dev.stowage.app;

import dev.stowage.app.telemetry.Telemetry;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Task;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.SchedulingState;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TraceContext;
import dev.stowage.store.Database;
import dev.stowage.store.EmbeddedPostgres;
import dev.stowage.store.PostgresTaskStore;
import dev.stowage.workload.Workload;
import dev.stowage.workload.WorkloadGenerator;
import io.opentelemetry.api.OpenTelemetry;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "bench-cycle",
    mixinStandardHelpOptions = true,
    description = {
      "Time full scheduling cycles on embedded PostgreSQL and a simulated cluster: --stored tasks"
          + " in the database, of which --processable are queued, against --offers nodes.",
      "Prints the submit rate while loading, then each phase of each cycle and the medians."
    })
final class BenchCycleCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--stored", defaultValue = "1000000", description = "Default: ${DEFAULT-VALUE}.")
  int stored;

  @Option(
      names = "--processable",
      defaultValue = "20000",
      description = "Default: ${DEFAULT-VALUE}.")
  int processable;

  @Option(names = "--offers", defaultValue = "20000", description = "Default: ${DEFAULT-VALUE}.")
  int offers;

  @Option(
      names = "--runs",
      defaultValue = "7",
      description = "Full cycles to time. Default: ${DEFAULT-VALUE}.")
  int runs;

  @Option(
      names = "--warmup",
      defaultValue = "5",
      description =
          "Cycles run first and not counted, so that the medians are of a warmed-up JVM, as a"
              + " running service is. Default: ${DEFAULT-VALUE}.")
  int warmup;

  @Option(names = "--seed", defaultValue = "42", description = "Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(
      names = "--telemetry",
      defaultValue = "off",
      description =
          "off: no-op tracer and meter. on: the service's OpenTelemetry SDK (spans kept in"
              + " memory, metrics read by Prometheus; OTLP if OTEL_* says so). Default:"
              + " ${DEFAULT-VALUE}.")
  String telemetry;

  @Option(
      names = "--task-ms",
      defaultValue = "3600000",
      description =
          "How long each simulated task runs. With 0, the next cycle applies each launched"
              + " task's start and its exit. Default: ${DEFAULT-VALUE} (they outlast the run).")
  long taskMs;

  @Option(
      names = "--vacuum-each",
      description =
          "VACUUM the task tables (untimed) before each cycle, as a steady autovacuum would: the"
              + " cycles then start from alike tables, for comparing runs (telemetry on and off).")
  boolean vacuumEach;

  @Option(
      names = "--queues",
      defaultValue = "1",
      description =
          "Queues the processable tasks are spread over, in turn, weighing 1, 2, 3, 1, 2, 3, ...:"
              + " the order stage interleaves them by fair share. Default: ${DEFAULT-VALUE} (the"
              + " default queue alone).")
  int queues;

  @Override
  public Integer call() throws Exception {
    if (queues < 1 || queues > 100_000) {
      throw new IllegalArgumentException("--queues must be in [1, 100000], got " + queues);
    }
    var queueStore = dev.stowage.scheduler.queues.QueueStore.inMemory();
    for (int q = 1; q < queues; q++) {
      queueStore.create(new dev.stowage.scheduler.queues.Queue(queueName(q), 1 + q % 3, null));
    }
    if (!List.of("off", "on").contains(telemetry)) {
      throw new IllegalArgumentException("--telemetry must be off or on, got '" + telemetry + "'");
    }
    PrintWriter out = spec.commandLine().getOut();
    Path dir = Files.createTempDirectory("stowage-bench-cycle");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Clock clock = Clock.fixed(Instant.parse("2026-11-25T12:00:00Z"), ZoneOffset.UTC);
    try (var pg = EmbeddedPostgres.start(dir.resolve("pgdata"));
        var db = Database.open(pg);
        // The SDK only when asked for: "off" measures the cycle without it.
        var sdk = telemetry.equals("on") ? Telemetry.start(null, System::getenv) : null) {
      OpenTelemetry otel = sdk != null ? sdk.openTelemetry() : OpenTelemetry.noop();
      var durable = new PostgresTaskStore(db.dataSource());
      // A gate that never runs (no node has zone=never) holds every background task waiting.
      durable.submit(List.of(gate()), clock.instant());
      int cycles = warmup + runs;
      int background = Math.max(0, stored - processable * cycles);
      long t0 = System.nanoTime();
      for (int start = 0; start < background; start += 10_000) {
        var batch = new ArrayList<TaskSpec>();
        for (int i = start; i < Math.min(background, start + 10_000); i++) {
          batch.add(TaskSpec.of("bg/" + i, "true").withDependsOn("gate"));
        }
        durable.submit(batch, clock.instant());
      }
      double loadS = (System.nanoTime() - t0) / 1e9;
      // As after any bulk load: settle the table now, or autovacuum does it in the middle of the
      // measured cycles (seen: submits and cycles 1.5x slower from one run to the next).
      vacuum(db, "vacuum analyze");
      out.printf(
          "# loaded %d waiting tasks in %.1f s: %.0f tasks/s through the store (batches of 10000)%n",
          background, loadS, background / Math.max(loadS, 1e-9));
      long m0 = System.nanoTime();
      var store = SchedulingState.load(durable);
      out.printf(
          "# the scheduling state took its %d unfinished tasks from the store in %.1f s%n",
          background + 1, (System.nanoTime() - m0) / 1e9);
      out.flush();

      Workload w = WorkloadGenerator.generate(processable, offers, seed);
      var nodes = SimulatedCluster.Node.of(w.offers());
      List<Map<String, Duration>> phases = new ArrayList<>();
      List<Duration> totals = new ArrayList<>();
      List<Duration> eventsApplied = new ArrayList<>();

      List<Duration> recorded = new ArrayList<>();
      out.printf(
          "%-4s %9s %9s %9s %10s %10s %12s%n",
          "run", "tasks", "matched", "launched", "total ms", "next ms", "durable ms");
      for (int r = 0; r < cycles; r++) {
        boolean counted = r >= warmup;
        var batch = new ArrayList<TaskSpec>(processable);
        var tracer = otel.getTracer("dev.stowage.api");
        var requests = new ArrayList<TraceContext>();
        for (int q = 0; q * 1000 < w.tasks().size(); q++) {
          requests.add(submitTrace(tracer, r, q));
        }
        int n = 0;
        for (Task t : w.tasks()) {
          batch.add(
              TaskSpec.of("run" + r + "/" + t.name(), "sim")
                  .withQueue(queueName(n % queues))
                  .withResources(t.requested())
                  .withConstraints(t.constraints())
                  .withEnv(Map.of("STOWAGE_SIM_DURATION_MS", Long.toString(taskMs)))
                  // As if submitted through the API in requests of 1,000 tasks: with telemetry
                  // on, each attempt's span is the child of its request's span.
                  .withTrace(requests.get(n++ / 1000)));
        }
        long s0 = System.nanoTime();
        store.submit(batch, clock.instant());
        double submitS = (System.nanoTime() - s0) / 1e9;
        if (vacuumEach) {
          vacuum(db, "vacuum");
        }
        var cycle =
            new SchedulingCycle(
                store,
                new SimulatedCluster(nodes, clock),
                null,
                Matcher.fast(),
                MatchMode.PACK,
                processable + 1,
                clock,
                otel.getTracer("dev.stowage.scheduler"),
                otel.getMeter("dev.stowage.scheduler"),
                dev.stowage.scheduler.CrashPoints.NONE,
                queueStore);
        long c0 = System.nanoTime();
        SchedulingCycle.Report report = cycle.runOnce();
        Duration total = Duration.ofNanos(System.nanoTime() - c0);
        if (counted) {
          totals.add(total);
          phases.add(report.phases());
        }
        // The next cycle applies the 20,000 'started' events of this one's launches.
        long n0 = System.nanoTime();
        SchedulingCycle.Report next = cycle.runOnce();
        Duration nextTotal = Duration.ofNanos(System.nanoTime() - n0);
        // The two cycles' writes go to PostgreSQL in the background: how long after the second
        // ended they were all durable.
        long d0 = System.nanoTime();
        store.flush();
        Duration tookToRecord = Duration.ofNanos(System.nanoTime() - d0);
        if (counted) {
          eventsApplied.add(next.phases().get("apply_cluster_events"));
          recorded.add(tookToRecord);
        }
        out.printf(
            "%-4s %9d %9d %9d %10.1f %10.1f %12.1f   (submitted %d in %.2f s: %.0f tasks/s)%n",
            counted ? Integer.toString(r - warmup + 1) : "w" + (r + 1),
            report.considered(),
            report.matched(),
            report.launched(),
            total.toNanos() / 1e6,
            nextTotal.toNanos() / 1e6,
            tookToRecord.toNanos() / 1e6,
            batch.size(),
            submitS,
            batch.size() / submitS);
        out.flush();
        // Leave the placed tasks launched and cancel the unplaced ones, so that the next run's
        // cycle sees only its own tasks.
        var ids = batch.stream().map(TaskSpec::id).toList();
        for (var t : store.getAll(ids).values()) {
          if (t.state() == dev.stowage.scheduler.TaskState.QUEUED) {
            store.transition(
                t.id(),
                dev.stowage.scheduler.TaskState.QUEUED,
                dev.stowage.scheduler.TaskState.CANCELLED,
                clock.instant());
          }
        }
      }
      out.println();
      out.printf(
          "%-34s %10s%n", "phase (median of " + runs + " runs, telemetry " + telemetry + ")", "ms");
      for (String phase : phases.getFirst().keySet()) {
        out.printf(
            "%-34s %10.1f%n", phase, median(phases.stream().map(p -> p.get(phase)).toList()));
      }
      out.printf("%-34s %10.1f%n", "whole cycle", median(totals));

      out.printf(
          "%-34s %10.1f%n",
          "next cycle: apply its " + processable + (taskMs == 0 ? " starts and exits" : " starts"),
          median(eventsApplied));
      out.printf("%-34s %10.1f%n", "then all of it durable", median(recorded));
      // Ratios within each run, then their median: the machine's noise moves a run's phases
      // together, so these vary less than the medians above divided.
      var wholeToMatch = new ArrayList<Double>();
      var startsToMatch = new ArrayList<Double>();
      for (int i = 0; i < totals.size(); i++) {
        double match = phases.get(i).get("match_tasks_to_offers").toNanos();
        wholeToMatch.add(totals.get(i).toNanos() / match);
        startsToMatch.add(eventsApplied.get(i).toNanos() / match);
      }
      out.printf("%-34s %10.2f%n", "whole cycle / match (per run)", medianOf(wholeToMatch));
      out.printf("%-34s %10.2f%n", "next cycle's starts / match", medianOf(startsToMatch));
      store.close();
    } finally {
      deleteTree(dir);
    }
    return 0;
  }

  /** A made-up submit span for each request of 1,000 tasks. */
  /**
   * A submit request's span, as the API starts it: the sampler (OTEL_TRACES_SAMPLER) decides
   * whether it and so its attempts are recorded. With telemetry off, a fixed sampled context.
   */
  private static TraceContext submitTrace(
      io.opentelemetry.api.trace.Tracer tracer, int run, int request) {
    var span = tracer.spanBuilder("POST /api/tasks").setNoParent().startSpan();
    var c = span.getSpanContext();
    span.end();
    if (c.isValid()) {
      return new TraceContext(
          "00-" + c.getTraceId() + "-" + c.getSpanId() + "-" + c.getTraceFlags().asHex(), null);
    }
    return new TraceContext(
        String.format("00-5707a6e0%016x%08x-00f067aa0ba902b7-01", (long) run, request), null);
  }

  /** Queue 0 is the default queue; the others are {@code q-1}, {@code q-2}, ... */
  private static String queueName(int q) {
    return q == 0 ? TaskSpec.DEFAULT_QUEUE : "q-" + q;
  }

  private static void vacuum(Database db, String command) throws java.sql.SQLException {
    try (var c = db.dataSource().getConnection()) {
      c.createStatement().execute(command + " tasks");
      c.createStatement().execute(command + " task_dependencies");
    }
  }

  private static TaskSpec gate() {
    return TaskSpec.of("gate", "true").withConstraints(Map.of("zone", "never"));
  }

  private static double medianOf(List<Double> values) {
    double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  private static double median(List<Duration> values) {
    double[] ms = values.stream().mapToDouble(d -> d.toNanos() / 1e6).sorted().toArray();
    return ms.length % 2 == 1 ? ms[ms.length / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2;
  }

  static void deleteTree(Path dir) throws java.io.IOException {
    try (var files = Files.walk(dir)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
