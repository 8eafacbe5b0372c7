package dev.stowage.workload;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Task;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Generates a realistic, reproducible workload: nodes of common cloud shapes (general purpose,
 * memory optimised, GPU) in three zones and two architectures, most of them partly used, and batch
 * tasks of mostly small, varied sizes, a few GPU tasks, and some tasks pinned to a zone or an
 * architecture. Amounts are rounded as people and node agents round them (100 millicores, 128 or
 * 256 MiB, 100 or 1000 MiB of disk) but vary enough that few tasks or offers are identical, so
 * matchers cannot lean on duplicates.
 */
public final class WorkloadGenerator {

  private record Shape(long cpu, long mem, long disk, long gpus, double weight, boolean gpuNode) {}

  private static final List<Shape> SHAPES =
      List.of(
          new Shape(4_000, 16_384, 100_000, 0, 2.0, false),
          new Shape(8_000, 32_768, 200_000, 0, 3.0, false),
          new Shape(16_000, 65_536, 400_000, 0, 3.0, false),
          new Shape(32_000, 131_072, 800_000, 0, 1.5, false),
          new Shape(64_000, 262_144, 1_600_000, 0, 0.5, false),
          new Shape(16_000, 131_072, 400_000, 0, 1.0, false),
          new Shape(32_000, 262_144, 1_000_000, 4, 0.4, true),
          new Shape(64_000, 524_288, 2_000_000, 8, 0.2, true));

  private static final String[] ZONES = {"a", "b", "c"};

  private WorkloadGenerator() {}

  public static Workload generate(int tasks, int offers, long seed) {
    if (tasks < 0 || offers < 0) {
      throw new IllegalArgumentException("task and offer counts must not be negative");
    }
    var random = new SplittableRandom(seed);
    return new Workload(tasks(tasks, random.split()), offers(offers, random.split()));
  }

  static List<Offer> offers(int count, SplittableRandom random) {
    double total = SHAPES.stream().mapToDouble(Shape::weight).sum();
    var out = new ArrayList<Offer>(count);
    for (int i = 0; i < count; i++) {
      Shape shape = pick(random, total);
      String zone = ZONES[random.nextInt(ZONES.length)];
      String arch = !shape.gpuNode && random.nextDouble() < 0.15 ? "arm64" : "amd64";
      long cpu = shape.cpu;
      long mem = shape.mem;
      long disk = shape.disk;
      long gpus = shape.gpus;
      // System reservations, then what running work already holds: 30% of nodes are idle.
      cpu -= 100 * (1 + random.nextInt(5));
      mem -= 256 * (2 + random.nextInt(7));
      disk -= 1000 * (5 + random.nextInt(20));
      if (random.nextDouble() >= 0.30) {
        double used = 0.05 + 0.85 * random.nextDouble();
        cpu -= round(cpu * jitter(random, used), 100);
        mem -= round(mem * jitter(random, used), 256);
        disk -= round(disk * jitter(random, used * 0.5), 1000);
        gpus -= gpus == 0 ? 0 : random.nextInt((int) gpus + 1);
      }
      out.add(
          new Offer(
              "offer-" + i,
              "node-" + i,
              new Resources(
                  Math.max(0, cpu), Math.max(0, mem), Math.max(0, disk), Math.max(0, gpus)),
              Map.of("zone", zone, "arch", arch)));
    }
    return out;
  }

  static List<Task> tasks(int count, SplittableRandom random) {
    var out = new ArrayList<Task>(count);
    for (int i = 0; i < count; i++) {
      long cpu;
      long mem;
      long disk;
      long gpus = 0;
      if (random.nextDouble() < 0.03) {
        gpus = 1L << random.nextInt(3); // 1, 2 or 4
        cpu = round(gpus * (2_000 + random.nextInt(6_000)), 100);
        mem = round(gpus * (16_384 + random.nextInt(49_152)), 256);
        disk = round(20_000 + random.nextInt(180_000), 1000);
      } else {
        // Log-uniform between 0.1 and 8 cores: many small tasks, a tail of big ones.
        cpu = Math.max(100, round(100 * Math.pow(80, random.nextDouble()), 100));
        double gibPerCore = 1 + 7 * random.nextDouble() * random.nextDouble();
        mem = Math.max(128, round(cpu / 1000.0 * gibPerCore * 1024, 128));
        disk =
            Math.max(100, round(1_000 + 49_000 * random.nextDouble() * random.nextDouble(), 100));
      }
      Map<String, String> constraints;
      double c = random.nextDouble();
      if (c < 0.15) {
        constraints = Map.of("zone", ZONES[random.nextInt(ZONES.length)]);
      } else if (c < 0.20) {
        constraints = Map.of("arch", gpus > 0 ? "amd64" : "arm64");
      } else if (c < 0.22) {
        constraints = Map.of("zone", ZONES[random.nextInt(ZONES.length)], "arch", "amd64");
      } else {
        constraints = Map.of();
      }
      out.add(new Task("task-" + i, new Resources(cpu, mem, disk, gpus), constraints));
    }
    return out;
  }

  private static Shape pick(SplittableRandom random, double total) {
    double x = random.nextDouble() * total;
    for (Shape s : SHAPES) {
      x -= s.weight;
      if (x < 0) {
        return s;
      }
    }
    return SHAPES.getLast();
  }

  private static double jitter(SplittableRandom random, double fraction) {
    return Math.min(0.98, Math.max(0, fraction * (0.8 + 0.4 * random.nextDouble())));
  }

  private static long round(double value, long step) {
    return Math.round(value / step) * step;
  }
}
