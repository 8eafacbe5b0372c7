package dev.stowage.app;

import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.CrashPoints;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.queues.FairShare;
import dev.stowage.scheduler.queues.Queue;
import dev.stowage.scheduler.queues.QueueStore;
import io.opentelemetry.api.OpenTelemetry;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "bench-fairshare",
    mixinStandardHelpOptions = true,
    description = {
      "Three queues weighted 1:2:1 on a saturated simulated cluster, in simulated time: each with"
          + " far more work than the cluster holds, tasks of varied sizes and durations. Prints"
          + " each queue's dominant share over time and, after the start-up transient, how far"
          + " each strays from its fair share (25/50/25). Exits 1 when a share strays more than 5 %"
          + " of its fair share."
    })
final class BenchFairShareCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--nodes", defaultValue = "100", description = "Default: ${DEFAULT-VALUE}.")
  int nodes;

  @Option(
      names = "--minutes",
      defaultValue = "60",
      description = "Simulated minutes to run, one cycle a second. Default: ${DEFAULT-VALUE}.")
  int minutes;

  @Option(
      names = "--transient-minutes",
      defaultValue = "10",
      description = "The start-up minutes left out of the summary. Default: ${DEFAULT-VALUE}.")
  int transientMinutes;

  @Option(
      names = "--late-queue-minutes",
      defaultValue = "0",
      description =
          "Queue b (weight 2) submits nothing before this simulated minute, so the run shows it"
              + " taking its share from a and c as their tasks finish. Default: ${DEFAULT-VALUE}.")
  int lateQueueMinutes;

  @Option(names = "--seed", defaultValue = "7", description = "Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--svg", description = "Also draw the shares over time to this SVG file.")
  Path svg;

  /** A clock the run moves: simulated time, one cycle a second. */
  private static final class SimulatedTime extends Clock {
    Instant now = Instant.parse("2026-12-02T00:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  private static final List<String> QUEUES = List.of("a", "b", "c");
  private static final double[] FAIR = {0.25, 0.5, 0.25};

  @Override
  public Integer call() throws Exception {
    if (nodes < 1 || minutes < 1 || transientMinutes < 0 || transientMinutes >= minutes) {
      throw new IllegalArgumentException(
          "--nodes and --minutes must be positive, --transient-minutes in [0, --minutes)");
    }
    if (lateQueueMinutes < 0 || lateQueueMinutes > transientMinutes) {
      throw new IllegalArgumentException(
          "--late-queue-minutes must be in [0, --transient-minutes]: the summary is of the"
              + " shares once every queue has work");
    }
    PrintWriter out = spec.commandLine().getOut();
    var clock = new SimulatedTime();
    var store = new InMemoryTaskStore();
    var queues = QueueStore.inMemory();
    queues.create(new Queue("a", 1, null));
    queues.create(new Queue("b", 2, null));
    queues.create(new Queue("c", 1, null));
    // Nodes of 16 cores and 64 GiB.
    var cluster = new ArrayList<SimulatedCluster.Node>();
    for (int n = 0; n < nodes; n++) {
      cluster.add(
          new SimulatedCluster.Node("n" + n, new Resources(16_000, 65_536, 0, 0), Map.of()));
    }
    var backend = new SimulatedCluster(cluster, clock);
    var cycle =
        new SchedulingCycle(
            store,
            backend,
            null,
            Matcher.fast(),
            MatchMode.PACK,
            20_000,
            clock,
            OpenTelemetry.noop().getTracer("bench"),
            OpenTelemetry.noop().getMeter("bench"),
            CrashPoints.NONE,
            queues);
    var random = new SplittableRandom(seed);
    long[] capacity = {16_000L * nodes, 65_536L * nodes, 0, 0};
    // Far more work than the cluster holds: each queue keeps this many tasks queued.
    int backlog = nodes * 16 * 2;
    int[] submitted = new int[QUEUES.size()];
    var samples = new ArrayList<double[]>(); // minute, then each queue's share
    out.printf("%-8s %8s %8s %8s%n", "minute", "a (1)", "b (2)", "c (1)");
    for (int second = 0; second < minutes * 60; second++) {
      for (int q = 0; q < QUEUES.size(); q++) {
        if (q == 1 && second < lateQueueMinutes * 60) {
          continue;
        }
        var loads = store.queueLoads(false);
        var load = loads.get(QUEUES.get(q));
        long queued = load == null ? 0 : load.queued();
        var batch = new ArrayList<TaskSpec>();
        for (long k = queued; k < backlog; k++) {
          batch.add(task(QUEUES.get(q), submitted[q]++, random));
        }
        if (!batch.isEmpty()) {
          store.submit(batch, clock.instant());
        }
      }
      cycle.runOnce();
      clock.now = clock.now.plusSeconds(1);
      if (second % 30 == 29) {
        var running = store.runningByQueue();
        double[] row = new double[1 + QUEUES.size()];
        row[0] = (second + 1) / 60.0;
        for (int q = 0; q < QUEUES.size(); q++) {
          row[1 + q] =
              FairShare.dominantShare(
                  running.getOrDefault(QUEUES.get(q), Resources.NONE), capacity);
        }
        samples.add(row);
        if (second % 60 == 59) {
          out.printf(
              "%-8.0f %7.1f%% %7.1f%% %7.1f%%%n", row[0], 100 * row[1], 100 * row[2], 100 * row[3]);
        }
      }
    }
    out.println();
    out.printf(
        "after minute %d (%d samples, every 30 s): share min / median / max, and the fair share%n",
        transientMinutes, samples.stream().filter(r -> r[0] > transientMinutes).count());
    boolean within = true;
    for (int q = 0; q < QUEUES.size(); q++) {
      int column = 1 + q;
      double[] shares =
          samples.stream()
              .filter(r -> r[0] > transientMinutes)
              .mapToDouble(r -> r[column])
              .sorted()
              .toArray();
      double min = shares[0];
      double max = shares[shares.length - 1];
      double median = shares[shares.length / 2];
      // Within 5 % of the fair share itself (25 ± 1.25 points), the stricter reading.
      boolean ok = min >= FAIR[q] * 0.95 && max <= FAIR[q] * 1.05;
      within &= ok;
      out.printf(
          "queue %s: %5.1f%% / %5.1f%% / %5.1f%%, fair %4.1f%%: %s%n",
          QUEUES.get(q),
          100 * min,
          100 * median,
          100 * max,
          100 * FAIR[q],
          ok ? "within ±5 % of it" : "NOT within ±5 % of it");
    }
    if (svg != null) {
      Files.writeString(svg, plot(samples));
      out.println("drew " + svg);
    }
    return within ? 0 : 1;
  }

  /** Sizes from a quarter core to four cores, memory with them; lasting 20 s to 10 min. */
  private static TaskSpec task(String queue, int n, SplittableRandom random) {
    long cpu = 250L * (1 + random.nextInt(16));
    long memory = 512L * (1 + random.nextInt(16));
    long ms = Duration.ofSeconds(20 + random.nextInt(580)).toMillis();
    return TaskSpec.of(queue + "-" + n, "sim")
        .withQueue(queue)
        .withResources(new Resources(cpu, memory, 0, 0))
        .withEnv(Map.of("STOWAGE_SIM_DURATION_MS", Long.toString(ms)));
  }

  /** The shares over time as lines, with the fair shares dashed. */
  private static String plot(List<double[]> samples) {
    int width = 720;
    int height = 320;
    int left = 50;
    int bottom = 30;
    double maxMinute = samples.getLast()[0];
    String[] colours = {"#1f77b4", "#d62728", "#2ca02c"};
    var svg = new StringBuilder();
    svg.append(
        String.format(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
                + " font-family=\"sans-serif\" font-size=\"12\">%n",
            width + 20, height + 20));
    svg.append(
        String.format(
            "<rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>%n",
            left, width - left, height - bottom));
    for (int pct = 0; pct <= 100; pct += 25) {
      double y = (height - bottom) * (1 - pct / 100.0);
      svg.append(
          String.format(
              "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>%n", left - 5, y + 4, pct));
    }
    svg.append(
        String.format(
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">simulated minutes (0 to %.0f)</text>%n",
            (left + width) / 2, height - 5, maxMinute));
    for (int q = 0; q < QUEUES.size(); q++) {
      double fairY = (height - bottom) * (1 - FAIR[q]);
      svg.append(
          String.format(
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\""
                  + " stroke-dasharray=\"4 4\"/>%n",
              left, fairY, width, fairY, colours[q]));
      var points = new StringBuilder();
      for (double[] r : samples) {
        double x = left + (width - left) * r[0] / maxMinute;
        double y = (height - bottom) * (1 - r[1 + q]);
        points.append(String.format("%.1f,%.1f ", x, y));
      }
      svg.append(
          String.format(
              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>%n",
              colours[q], points.toString().strip()));
      svg.append(
          String.format(
              "<text x=\"%d\" y=\"%d\" fill=\"%s\">queue %s (weight %s)</text>%n",
              left + 10 + 150 * q, 15, colours[q], QUEUES.get(q), q == 1 ? "2" : "1"));
    }
    svg.append("</svg>\n");
    return svg.toString();
  }
}
