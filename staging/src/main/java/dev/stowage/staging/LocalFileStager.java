package dev.stowage.staging;

import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.StagedInput;
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
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.stream.Stream;

/**
 * Stages {@code file://} inputs on this machine. Each file is copied to a temporary name beside its
 * destination, its length checked, then renamed into place, so a task never sees a partial file. A
 * bounded number of attempts stage at once, each on a virtual thread, beside the cycle.
 */
public final class LocalFileStager implements Stager {
  static final AttributeKey<Long> FILES = AttributeKey.longKey("stowage.staging.files");
  static final AttributeKey<Long> BYTES = AttributeKey.longKey("stowage.staging.bytes");
  private static final Attributes SUCCEEDED =
      Attributes.of(AttributeKey.stringKey("stowage.outcome"), "succeeded");
  private static final Attributes FAILED =
      Attributes.of(AttributeKey.stringKey("stowage.outcome"), "failed");

  private final Semaphore slots;
  private final Tracer tracer;
  private final LongCounter bytes;
  private final DoubleHistogram duration;
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final List<Result> results = new ArrayList<>(); // guarded by this
  private volatile Runnable wakeUp = () -> {};

  /**
   * @param concurrency how many attempts may stage at once
   */
  public LocalFileStager(int concurrency) {
    this(concurrency, OpenTelemetry.noop().getTracer("dev.stowage.staging"));
  }

  /**
   * @param concurrency how many attempts may stage at once
   * @param tracer each attempt's staging becomes a {@code stage_inputs} span, a child of the span
   *     current when {@link #stage} was called (the cycle's {@code prepare_payloads})
   */
  public LocalFileStager(int concurrency, Tracer tracer) {
    this(concurrency, tracer, OpenTelemetry.noop().getMeter("dev.stowage.staging"));
  }

  /** With {@code stowage.staging.bytes} and {@code stowage.staging.duration} recorded. */
  public LocalFileStager(int concurrency, Tracer tracer, Meter meter) {
    this.tracer = tracer;
    this.bytes =
        meter
            .counterBuilder("stowage.staging.bytes")
            .setDescription("Bytes copied into work directories")
            .setUnit("By")
            .build();
    this.duration =
        meter
            .histogramBuilder("stowage.staging.duration")
            .setDescription("How long one attempt's staging took, by outcome")
            .setUnit("s")
            .build();
    if (concurrency < 1) {
      throw new IllegalArgumentException("concurrency must be at least 1, got " + concurrency);
    }
    this.slots = new Semaphore(concurrency);
  }

  @Override
  public void stage(AttemptId attempt, List<StagedInput> inputs, Path workDirectory) {
    List<StagedInput> copy = List.copyOf(inputs);
    // The hand-off keeps the caller's context: the span below joins the cycle's trace.
    executor.execute(
        Context.current()
            .wrap(
                () -> {
                  slots.acquireUninterruptibly();
                  long started = System.nanoTime();
                  Span span =
                      tracer
                          .spanBuilder("stage_inputs")
                          .setAttribute("stowage.task.id", attempt.taskId())
                          .setAttribute("stowage.attempt", (long) attempt.attempt())
                          .startSpan();
                  Result result;
                  try (Scope ignored = span.makeCurrent()) {
                    long[] counts = stageAll(copy, workDirectory);
                    span.setAttribute(FILES, counts[0]);
                    span.setAttribute(BYTES, counts[1]);
                    bytes.add(counts[1]);
                    result = new Result(attempt, true, "");
                  } catch (StagingException e) {
                    result = new Result(attempt, false, e.getMessage());
                  } catch (IOException | RuntimeException e) {
                    result =
                        new Result(
                            attempt, false, e.getClass().getSimpleName() + ": " + e.getMessage());
                  } finally {
                    slots.release();
                  }
                  if (!result.succeeded()) {
                    span.setStatus(StatusCode.ERROR, result.detail());
                  }
                  duration.record(
                      (System.nanoTime() - started) / 1e9, result.succeeded() ? SUCCEEDED : FAILED);
                  span.end();
                  synchronized (this) {
                    results.add(result);
                  }
                  wakeUp.run();
                }));
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
  }

  /** A staging failure a person can act on: names the input and what went wrong. */
  static final class StagingException extends Exception {
    StagingException(String message) {
      super(message);
    }
  }

  /** Stages every input; returns how many files and bytes were copied. */
  static long[] stageAll(List<StagedInput> inputs, Path workDirectory)
      throws IOException, StagingException {
    long[] counts = new long[2];
    Files.createDirectories(workDirectory);
    Path root = workDirectory.toRealPath();
    for (StagedInput input : inputs) {
      var problems = input.problems();
      if (!problems.isEmpty()) {
        throw new StagingException("input " + input + ": " + problems);
      }
      Path source = input.sourcePath();
      Path destination = root.resolve(input.destination()).normalize();
      if (!destination.startsWith(root) || destination.equals(root)) {
        throw new StagingException(
            "destination '" + input.destination() + "' is not inside the work directory");
      }
      if (!Files.exists(source)) {
        throw new StagingException("source " + input.source() + ": no such file or directory");
      }
      if (Files.isDirectory(source)) {
        try (Stream<Path> tree = Files.walk(source)) {
          for (Path file : (Iterable<Path>) tree.filter(Files::isRegularFile)::iterator) {
            copy(
                input, file, destination.resolve(source.relativize(file).toString()), root, counts);
          }
        }
      } else {
        copy(input, source, destination, root, counts);
      }
    }
    return counts;
  }

  private static void copy(StagedInput input, Path from, Path to, Path root, long[] counts)
      throws IOException, StagingException {
    Path parent = to.getParent();
    try {
      Files.createDirectories(parent);
    } catch (FileAlreadyExistsException e) {
      throw new StagingException(
          "destination '" + input.destination() + "': " + root.relativize(parent) + " is a file");
    }
    // The directory as it really is: no symbolic link may lead the copy out of the work directory.
    if (!parent.toRealPath().startsWith(root)) {
      throw new StagingException(
          "destination '" + input.destination() + "' leads outside the work directory");
    }
    Path part = parent.resolve("." + to.getFileName() + ".stowage-part");
    try {
      Files.copy(from, part, StandardCopyOption.REPLACE_EXISTING);
      long expected = Files.size(from);
      long got = Files.size(part);
      if (got != expected) {
        throw new StagingException(
            "source "
                + from
                + " changed while it was copied: "
                + got
                + " of "
                + expected
                + " bytes");
      }
      Files.move(part, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      counts[0]++;
      counts[1] += got;
    } catch (NoSuchFileException e) {
      throw new StagingException("source " + from + ": no such file (removed while staging?)");
    } catch (AccessDeniedException e) {
      throw new StagingException("source " + from + " or its destination: permission denied");
    } finally {
      Files.deleteIfExists(part);
    }
  }
}
