package dev.stowage.bench.jmh;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.queues.FairShare;
import dev.stowage.scheduler.queues.Queue;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The order stage: one cycle's take of {@code take} tasks from {@code queued} queued tasks spread
 * over {@code queues} queues of weights 1, 2, 3, ..., each queue holding some running work, by fair
 * share, from the scheduling state's memory. {@code queues=1} is the single queue, for the ratio.
 *
 * <p>{@code java -jar bench/target/benchmarks.jar OrderStageBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx8g"})
public class OrderStageBenchmark {
  private static final Instant T0 = Instant.parse("2026-12-02T12:00:00Z");

  @Param({"1000000"})
  int queued;

  @Param({"1", "1000"})
  int queues;

  @Param({"20000"})
  int take;

  private InMemoryTaskStore store;
  private List<Queue> config;
  private Map<String, Resources> running;
  private final long[] capacity = {20_000L * 32_000, 20_000L * 131_072, 0, 20_000L * 4};

  @Setup
  public void setUp() {
    var random = new SplittableRandom(42);
    store = new InMemoryTaskStore();
    config = new ArrayList<>();
    running = new TreeMap<>();
    for (int q = 0; q < queues; q++) {
      config.add(new Queue(name(q), 1 + q % 3, null));
      running.put(name(q), new Resources(random.nextLong(0, 1_000_000), 0, 0, 0));
    }
    for (int start = 0; start < queued; start += 10_000) {
      var batch = new ArrayList<TaskSpec>();
      for (int i = start; i < Math.min(queued, start + 10_000); i++) {
        batch.add(
            TaskSpec.of("t" + i, "true")
                .withQueue(name(random.nextInt(queues)))
                .withPriority(random.nextInt(3))
                .withResources(
                    new Resources(
                        random.nextLong(1, 16) * 250,
                        random.nextLong(1, 32) * 512,
                        0,
                        random.nextInt(10) == 0 ? 1 : 0)));
      }
      store.submit(batch, T0);
    }
  }

  private static String name(int q) {
    return q == 0 ? TaskSpec.DEFAULT_QUEUE : "q-" + q;
  }

  @Benchmark
  public List<StoredTask> fairShareTake() {
    return store.processable(take, T0, new FairShare(config, running, capacity));
  }

  @Benchmark
  public List<StoredTask> priorityTake() {
    return store.processable(take, T0);
  }
}
