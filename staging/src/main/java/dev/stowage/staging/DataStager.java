package dev.stowage.staging;

import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StagedOutput;
import dev.stowage.scheduler.Stager;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scheduler's stager: stages each attempt's inputs ({@code file://} and {@code s3://}) into its
 * work directory beside the cycle, a bounded number of attempts at once, through a {@link
 * DataMover}. Each attempt's staging is a {@code stage_inputs} span (the child of whatever span
 * handed it over: the attempt's), its bytes and time are metrics, and its progress can be asked for
 * while it runs.
 */
public final class DataStager implements Stager {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(DataStager.class);

  static final AttributeKey<Long> FILES = AttributeKey.longKey("stowage.staging.files");
  static final AttributeKey<Long> SKIPPED = AttributeKey.longKey("stowage.staging.files_skipped");
  static final AttributeKey<Long> BYTES = AttributeKey.longKey("stowage.staging.bytes");
  private static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("stowage.outcome");

  /** Which way the bytes went: {@code in} to a work directory, {@code out} of it. */
  private static final AttributeKey<String> DIRECTION = AttributeKey.stringKey("stowage.direction");

  /** How much runs at once, and from where inputs may come. */
  public record Options(
      int parallelAttempts,
      int parallelFiles,
      long rangeSize,
      AllowedSources allowed,
      AllowedSources allowedOutputs) {
    public Options {
      if (parallelAttempts < 1 || parallelFiles < 1) {
        throw new IllegalArgumentException("parallelism must be at least 1");
      }
    }

    /** Inputs only: outputs allowed nowhere. */
    public Options(
        int parallelAttempts, int parallelFiles, long rangeSize, AllowedSources allowed) {
      this(
          parallelAttempts,
          parallelFiles,
          rangeSize,
          allowed,
          AllowedSources.forOutputs(List.of()));
    }

    /**
     * Four attempts at once, eight files each, each file in one stream: on a local file system the
     * ranges of one file wait for each other's write lock (2 GiB in 2.0 s as one stream against 3.2
     * s in 64 MiB ranges here, docs/benchmarks.md).
     */
    public static Options defaults(AllowedSources allowed, AllowedSources allowedOutputs) {
      return new Options(4, 8, 0, allowed, allowedOutputs);
    }
  }

  /** One attempt's progress, updated from the mover's threads. */
  private static final class Tracked {
    final AtomicLong done = new AtomicLong();
    final AtomicInteger filesDone = new AtomicInteger();
    volatile long total = -1;
    volatile int files = -1;
  }

  private final Options options;
  private final DataMover mover;
  private final S3Storage s3; // closed with the stager
  private final Semaphore slots;
  private final Tracer tracer;
  private final LongCounter bytes;
  private final LongCounter files;
  private final DoubleHistogram duration;
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final Map<AttemptId, Tracked> inFlight = new ConcurrentHashMap<>();
  private final List<Result> results = new ArrayList<>(); // guarded by this
  private volatile Runnable wakeUp = () -> {};

  /** Without telemetry or S3. */
  public DataStager(Options options) {
    this(
        options,
        null,
        OpenTelemetry.noop().getTracer("dev.stowage.staging"),
        OpenTelemetry.noop().getMeter("dev.stowage.staging"));
  }

  /**
   * @param s3 the object store for {@code s3://} inputs, or null (they then fail, saying so); the
   *     stager closes it
   */
  public DataStager(Options options, S3Storage s3, Tracer tracer, Meter meter) {
    this.options = options;
    this.mover = new DataMover(options.parallelFiles(), options.rangeSize(), s3);
    this.s3 = s3;
    this.slots = new Semaphore(options.parallelAttempts());
    this.tracer = tracer;
    this.bytes =
        meter
            .counterBuilder("stowage.staging.bytes")
            .setDescription(
                "Bytes staged, by direction: in (inputs into work directories) or out (outputs"
                    + " copied out of them), copied or found already there")
            .setUnit("By")
            .build();
    this.files =
        meter
            .counterBuilder("stowage.staging.files")
            .setDescription(
                "Files staged, by direction (in, out) and outcome: copied, or skipped as already"
                    + " there")
            .setUnit("{file}")
            .build();
    this.duration =
        meter
            .histogramBuilder("stowage.staging.duration")
            .setDescription(
                "How long one attempt's staging took, by direction (in, out) and outcome")
            .setUnit("s")
            .setExplicitBucketBoundariesAdvice(dev.stowage.scheduler.DurationBuckets.LONG)
            .build();
    // Every series from the start, at zero: a rate of one that appears on first use is unknown.
    for (String direction : new String[] {"in", "out"}) {
      bytes.add(0, Attributes.of(DIRECTION, direction));
      for (String outcome : new String[] {"copied", "skipped"}) {
        files.add(0, Attributes.of(DIRECTION, direction, OUTCOME, outcome));
      }
    }
    meter
        .upDownCounterBuilder("stowage.staging.attempts")
        .setDescription("Attempts whose inputs are being staged now")
        .setUnit("{attempt}")
        .buildWithCallback(m -> m.record(inFlight.size()));
  }

  public AllowedSources allowedSources() {
    return options.allowed();
  }

  public AllowedSources allowedOutputs() {
    return options.allowedOutputs();
  }

  @Override
  public void stage(AttemptId attempt, List<StagedInput> inputs, Path workDirectory) {
    List<StagedInput> copy = List.copyOf(inputs);
    start(
        attempt,
        Phase.INPUTS,
        "stage_inputs",
        listener -> mover.stage(copy, workDirectory, options.allowed(), listener));
  }

  /** Deletes every file a copy left under its temporary name ({@code .NAME.stowage-part}). */
  @Override
  public void discardPartial(Path workDirectory) {
    if (!java.nio.file.Files.isDirectory(workDirectory, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (var files = java.nio.file.Files.walk(workDirectory)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        String name = p.getFileName().toString();
        if (name.startsWith(".")
            && name.endsWith(".stowage-part")
            && java.nio.file.Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
          java.nio.file.Files.deleteIfExists(p);
        }
      }
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      LOG.warn("could not remove partial copies in {}: {}", workDirectory, e.getMessage());
    }
  }

  @Override
  public void collect(AttemptId attempt, List<StagedOutput> outputs, Path workDirectory) {
    List<StagedOutput> copy = List.copyOf(outputs);
    start(
        attempt,
        Phase.OUTPUTS,
        "collect_outputs",
        listener -> mover.collect(copy, workDirectory, options.allowedOutputs(), listener));
  }

  private interface Move {
    DataMover.Summary run(DataMover.Listener listener) throws IOException, StagingException;
  }

  private void start(AttemptId attempt, Phase phase, String spanName, Move move) {
    var tracked = new Tracked();
    inFlight.put(attempt, tracked);
    // The hand-off keeps the caller's context: the span below nests under the attempt's.
    executor.execute(Context.current().wrap(() -> run(attempt, phase, spanName, move, tracked)));
  }

  private void run(AttemptId attempt, Phase phase, String spanName, Move move, Tracked t) {
    slots.acquireUninterruptibly();
    long started = System.nanoTime();
    Span span =
        tracer
            .spanBuilder(spanName)
            .setAttribute("stowage.task.id", attempt.taskId())
            .setAttribute("stowage.attempt", (long) attempt.attempt())
            .startSpan();
    String direction = phase == Phase.INPUTS ? "in" : "out";
    Attributes way = Attributes.of(DIRECTION, direction);
    Attributes copied = Attributes.of(DIRECTION, direction, OUTCOME, "copied");
    Attributes skippedFile = Attributes.of(DIRECTION, direction, OUTCOME, "skipped");
    Result result;
    try (Scope ignored = span.makeCurrent()) {
      var summary =
          move.run(
              new DataMover.Listener() {
                @Override
                public void planned(int count, long total) {
                  t.files = count;
                  t.total = total;
                  span.addEvent(
                      "planned",
                      Attributes.of(
                          FILES,
                          (long) count,
                          AttributeKey.longKey("stowage.staging.bytes_total"),
                          total));
                }

                @Override
                public void moved(long n) {
                  t.done.addAndGet(n);
                  bytes.add(n, way); // as they move: a scrape mid-staging shows its progress
                }

                @Override
                public void fileDone(boolean skipped) {
                  t.filesDone.incrementAndGet();
                  files.add(1, skipped ? skippedFile : copied);
                }
              });
      span.setAttribute(FILES, (long) summary.files());
      span.setAttribute(SKIPPED, (long) summary.skipped());
      span.setAttribute(BYTES, summary.bytes());
      result = new Result(attempt, true, "", phase);
    } catch (StagingException e) {
      span.recordException(e); // an exception event on the staging span, as traces show errors
      result = new Result(attempt, false, e.getMessage(), phase);
    } catch (IOException | RuntimeException e) {
      span.recordException(e);
      result =
          new Result(attempt, false, e.getClass().getSimpleName() + ": " + e.getMessage(), phase);
    } finally {
      slots.release();
    }
    if (!result.succeeded()) {
      span.setStatus(StatusCode.ERROR, result.detail());
    }
    duration.record(
        (System.nanoTime() - started) / 1e9,
        Attributes.of(DIRECTION, direction, OUTCOME, result.succeeded() ? "succeeded" : "failed"));
    span.end();
    inFlight.remove(attempt);
    synchronized (this) {
      results.add(result);
    }
    wakeUp.run();
  }

  @Override
  public Optional<Progress> progress(AttemptId attempt) {
    Tracked t = inFlight.get(attempt);
    if (t == null) {
      return Optional.empty();
    }
    return Optional.of(
        new Progress(t.done.get(), Math.max(t.total, 0), t.filesDone.get(), Math.max(t.files, 0)));
  }

  @Override
  public synchronized List<Result> drainResults() {
    var out = List.copyOf(results);
    results.clear();
    return out;
  }

  @Override
  public void onResults(Runnable wakeUp) {
    this.wakeUp = wakeUp;
  }

  @Override
  public void close() {
    executor.shutdownNow();
    mover.close();
    if (s3 != null) {
      s3.close();
    }
  }
}
