package dev.stowage.bench.jmh;

import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Scorer;
import dev.stowage.engine.Task;
import dev.stowage.workload.Workload;
import dev.stowage.workload.WorkloadGenerator;
import java.util.List;
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
 * The engine's stages on generated workloads. {@code index} matches no tasks, so it measures the
 * snapshot and tree build alone; {@code match} is the whole match. Inputs are generated once in
 * {@code @Setup}.
 *
 * <p>{@code java -jar bench/target/benchmarks.jar MatchBenchmark -p size=20000x20000}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xmx4g"})
public class MatchBenchmark {

  @Param({"10000x2000", "20000x20000"})
  public String size;

  @Param({"CONSUME", "PACK"})
  public MatchMode mode;

  @Param({"TIGHTEST_FIT"})
  public Scorer scorer;

  private List<Task> tasks;
  private List<Offer> offers;
  private Matcher fast;

  @Setup
  public void setUp() {
    String[] parts = size.split("x");
    Workload w =
        WorkloadGenerator.generate(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), 42);
    tasks = w.tasks();
    offers = w.offers();
    fast = Matcher.fast(scorer);
  }

  @Benchmark
  public MatchResult index() {
    return fast.match(List.of(), offers, mode);
  }

  @Benchmark
  public MatchResult match() {
    return fast.match(tasks, offers, mode);
  }
}
