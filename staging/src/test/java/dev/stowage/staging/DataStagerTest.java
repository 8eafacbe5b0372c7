package dev.stowage.staging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StagedOutput;
import dev.stowage.scheduler.Stager;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Staging local inputs into work directories, as the scheduler's stager does it. */
class DataStagerTest {
  @TempDir Path tmp;
  AllowedSources allowed;
  DataMover mover;
  final DataMover.Listener quiet = new DataMover.Listener() {};

  @BeforeEach
  void setUp() throws Exception {
    Files.createDirectories(tmp.resolve("data"));
    allowed = AllowedSources.of(List.of(tmp.resolve("data").toUri().toString()));
    mover = new DataMover(4, 1 << 20, null);
  }

  @AfterEach
  void tearDown() {
    mover.close();
  }

  @Test
  void whatAnInterruptedStagingLeftUnderTemporaryNamesIsDiscardedAndNothingElse() throws Exception {
    Path work = tmp.resolve("work/attempt-1");
    Files.createDirectories(work.resolve("in/deep"));
    Path part = Files.writeString(work.resolve(".big.bin.stowage-part"), "half of it");
    Path deepPart = Files.writeString(work.resolve("in/deep/.x.stowage-part"), "some");
    Path whole = Files.writeString(work.resolve("in/done.csv"), "a,b\n");
    Path lookalike = Files.writeString(work.resolve("notes.stowage-part"), "a user's file");

    try (var stager =
        new DataStager(
            DataStager.Options.defaults(allowed, AllowedSources.forOutputs(List.of())))) {
      stager.discardPartial(work);
      stager.discardPartial(tmp.resolve("no-such-directory"));
    }

    assertThat(part).doesNotExist();
    assertThat(deepPart).doesNotExist();
    assertThat(whole).hasContent("a,b\n");
    assertThat(lookalike).exists();
  }

  @Test
  void filesAndDirectoriesLandWholeUnderTheirDestinations() throws Exception {
    Path data = Files.writeString(tmp.resolve("data/data.csv"), "a,b\n1,2\n");
    Path tree = Files.createDirectories(tmp.resolve("data/tree/sub"));
    Files.writeString(tmp.resolve("data/tree/top.txt"), "top");
    Files.writeString(tree.resolve("deep.txt"), "deep");
    Path work = tmp.resolve("work/attempt-1");
    var heard = new ArrayList<String>();

    var summary =
        mover.stage(
            List.of(
                new StagedInput(data.toUri().toString(), "in/data.csv"),
                new StagedInput(tmp.resolve("data/tree").toUri().toString(), "tree")),
            work,
            allowed,
            new DataMover.Listener() {
              @Override
              public void planned(int files, long bytes) {
                heard.add("planned " + files + " " + bytes);
              }

              @Override
              public void fileDone(boolean skipped) {
                synchronized (heard) {
                  heard.add("done");
                }
              }
            });

    assertThat(summary).isEqualTo(new DataMover.Summary(3, 0, 8 + 3 + 4));
    assertThat(heard).containsExactly("planned 3 15", "done", "done", "done");
    assertThat(work.resolve("in/data.csv")).hasContent("a,b\n1,2");
    assertThat(work.resolve("tree/top.txt")).hasContent("top");
    assertThat(work.resolve("tree/sub/deep.txt")).hasContent("deep");
    try (Stream<Path> all = Files.walk(work)) {
      assertThat(all.map(p -> p.getFileName().toString()))
          .noneMatch(n -> n.endsWith(".stowage-part"));
    }

    // Staged again (a retry): everything is already there, nothing is copied.
    var again =
        mover.stage(
            List.of(
                new StagedInput(data.toUri().toString(), "in/data.csv"),
                new StagedInput(tmp.resolve("data/tree").toUri().toString(), "tree")),
            work,
            allowed,
            quiet);
    assertThat(again).isEqualTo(new DataMover.Summary(3, 3, 15));
  }

  @Test
  void aMissingSourceOrAnEscapeFailsWithTheInputNamed() throws Exception {
    Path work = Files.createDirectories(tmp.resolve("work"));
    Path outside = Files.createDirectories(tmp.resolve("outside"));
    Files.createSymbolicLink(work.resolve("link"), outside);
    Path data = Files.writeString(tmp.resolve("data/d.txt"), "d");

    assertThatThrownBy(() -> stage("file://" + tmp + "/data/absent.bin", "x", work))
        .hasMessage("source file://" + tmp + "/data/absent.bin: no such file or directory");
    assertThatThrownBy(() -> stage(data.toUri().toString(), "link/d.txt", work))
        .hasMessage("destination link/d.txt leads outside the work directory");
    assertThat(outside.resolve("d.txt")).doesNotExist();
    assertThatThrownBy(() -> stage(data.toUri().toString(), "../d.txt", work))
        .hasMessageContaining("'..' is not allowed");
  }

  @Test
  void sourcesOutsideTheAllowedOnesAreRefusedEvenThroughALink() throws Exception {
    Path work = Files.createDirectories(tmp.resolve("work"));
    Path secret = Files.writeString(tmp.resolve("secret.txt"), "secret");
    Files.createSymbolicLink(tmp.resolve("data/innocent.txt"), secret);

    assertThatThrownBy(() -> stage(secret.toUri().toString(), "s.txt", work))
        .hasMessageStartingWith("source is outside the allowed sources");
    assertThatThrownBy(
            () -> stage(tmp.resolve("data/innocent.txt").toUri().toString(), "s.txt", work))
        .hasMessageContaining("leads outside the allowed sources");
    assertThat(work.resolve("s.txt")).doesNotExist();
    assertThatThrownBy(
            () ->
                mover.stage(
                    List.of(new StagedInput(secret.toUri().toString(), "s.txt")),
                    work,
                    AllowedSources.none(),
                    quiet))
        .hasMessageContaining("inputs are not allowed from anywhere on this scheduler");
  }

  @Test
  void outputsLeaveOnlyFromInsideTheWorkDirectoryAndOnlyToAllowedPlaces() throws Exception {
    Path work = Files.createDirectories(tmp.resolve("work/out"));
    Files.writeString(work.resolve("a.txt"), "a");
    Path results = Files.createDirectories(tmp.resolve("results"));
    var toResults = AllowedSources.forOutputs(List.of(results.toUri().toString()));

    var summary =
        mover.collect(
            List.of(new StagedOutput("out", results.toUri() + "run/")),
            tmp.resolve("work"),
            toResults,
            quiet);
    assertThat(summary).isEqualTo(new DataMover.Summary(1, 0, 1));
    assertThat(results.resolve("run/a.txt")).hasContent("a");

    // A link in the results that leads elsewhere, and one in the work directory.
    Files.createSymbolicLink(
        results.resolve("elsewhere"), Files.createDirectories(tmp.resolve("x")));
    Files.createSymbolicLink(work.resolve("secret"), Files.writeString(tmp.resolve("s.txt"), "s"));
    assertThatThrownBy(
            () ->
                mover.collect(
                    List.of(new StagedOutput("out/a.txt", results.toUri() + "elsewhere/a.txt")),
                    tmp.resolve("work"),
                    toResults,
                    quiet))
        .hasMessageContaining("leads outside the allowed output locations");
    assertThat(tmp.resolve("x/a.txt")).doesNotExist();
    assertThatThrownBy(
            () ->
                mover.collect(
                    List.of(new StagedOutput("out", results.toUri() + "run2/")),
                    tmp.resolve("work"),
                    toResults,
                    quiet))
        .hasMessage("output out/secret is not a regular file inside the work directory");
    assertThatThrownBy(
            () ->
                mover.collect(
                    List.of(new StagedOutput("out/a.txt", tmp.resolve("a.txt").toUri().toString())),
                    tmp.resolve("work"),
                    toResults,
                    quiet))
        .hasMessageContaining("is outside the allowed output locations");
  }

  @Test
  void aSourceThatIsNotARegularFileIsRefused() throws Exception {
    Path fifo = tmp.resolve("data/pipe");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();

    assertThatThrownBy(() -> stage(fifo.toUri().toString(), "p", tmp.resolve("work")))
        .hasMessage("source " + fifo + " is not a regular file");
  }

  private DataMover.Summary stage(String source, String destination, Path work) throws Exception {
    return mover.stage(List.of(new StagedInput(source, destination)), work, allowed, quiet);
  }

  @Test
  void aFailedStagingsSpanCarriesTheExceptionAsAnEvent() throws Exception {
    var spans = InMemorySpanExporter.create();
    var tracer =
        SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(spans))
            .build()
            .get("test");
    try (var stager =
        new DataStager(
            new DataStager.Options(1, 2, 1 << 20, allowed),
            null,
            tracer,
            OpenTelemetry.noop().getMeter("test"))) {
      stager.stage(
          new AttemptId("missing", 1),
          List.of(new StagedInput(tmp.resolve("data/absent").toUri().toString(), "x")),
          tmp.resolve("w/missing"));
      assertThat(awaitResults(stager, 1).getFirst().succeeded()).isFalse();
    }
    SpanData staging = spans.getFinishedSpanItems().getFirst();
    assertThat(staging.getStatus().getStatusCode())
        .isEqualTo(io.opentelemetry.api.trace.StatusCode.ERROR);
    assertThat(staging.getEvents())
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("exception");
              assertThat(e.getAttributes().get(AttributeKey.stringKey("exception.message")))
                  .contains("no such file or directory");
            });
  }

  @Test
  void eachAttemptsStagingIsASpanUnderTheSpanThatHandedItOver() throws Exception {
    Path data = Files.writeString(tmp.resolve("data/data.bin"), "12345");
    var spans = InMemorySpanExporter.create();
    var tracer =
        SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(spans))
            .build()
            .get("test");
    Span attempt = tracer.spanBuilder("task_attempt").startSpan();
    try (var stager =
        new DataStager(
            new DataStager.Options(1, 2, 1 << 20, allowed),
            null,
            tracer,
            OpenTelemetry.noop().getMeter("test"))) {
      try (Scope ignored = attempt.makeCurrent()) {
        stager.stage(
            new AttemptId("traced", 3),
            List.of(new StagedInput(data.toUri().toString(), "in/data.bin")),
            tmp.resolve("w/traced"));
      }
      attempt.end();
      assertThat(awaitResults(stager, 1)).hasSize(1);
    }

    SpanData staging =
        spans.getFinishedSpanItems().stream()
            .filter(s -> s.getName().equals("stage_inputs"))
            .findFirst()
            .orElseThrow();
    assertThat(staging.getParentSpanId()).isEqualTo(attempt.getSpanContext().getSpanId());
    assertThat(staging.getTraceId()).isEqualTo(attempt.getSpanContext().getTraceId());
    assertThat(staging.getAttributes().get(DataStager.FILES)).isEqualTo(1L);
    assertThat(staging.getAttributes().get(DataStager.BYTES)).isEqualTo(5L);
    assertThat(staging.getEvents()).extracting(e -> e.getName()).containsExactly("planned");
  }

  @Test
  void stagingMetricsSayWhichWayTheBytesWent() throws Exception {
    Path data = Files.writeString(tmp.resolve("data/in.txt"), "12345");
    Files.createDirectories(tmp.resolve("results"));
    var metrics = io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader.create();
    var meter =
        io.opentelemetry.sdk.metrics.SdkMeterProvider.builder()
            .registerMetricReader(metrics)
            .build()
            .get("test");
    Path work = tmp.resolve("w/metered");
    try (var stager =
        new DataStager(
            new DataStager.Options(
                1,
                2,
                1 << 20,
                allowed,
                AllowedSources.forOutputs(List.of(tmp.resolve("results").toUri().toString()))),
            null,
            OpenTelemetry.noop().getTracer("test"),
            meter)) {
      stager.stage(
          new AttemptId("metered", 1),
          List.of(new StagedInput(data.toUri().toString(), "in.txt")),
          work);
      assertThat(awaitResults(stager, 1).getFirst().succeeded()).isTrue();
      Files.writeString(work.resolve("out.txt"), "abc");
      stager.collect(
          new AttemptId("metered", 1),
          List.of(new StagedOutput("out.txt", tmp.resolve("results/out.txt").toUri().toString())),
          work);
      assertThat(awaitResults(stager, 1).getFirst().succeeded()).isTrue();
    }

    var bytes = new java.util.TreeMap<String, Long>();
    var files = new java.util.TreeMap<String, Long>();
    var durations = new java.util.TreeMap<String, Long>();
    for (var m : metrics.collectAllMetrics()) {
      switch (m.getName()) {
        case "stowage.staging.bytes" ->
            m.getLongSumData()
                .getPoints()
                .forEach(p -> bytes.put(p.getAttributes().get(DIRECTION), p.getValue()));
        case "stowage.staging.files" ->
            m.getLongSumData()
                .getPoints()
                .forEach(
                    p ->
                        files.put(
                            p.getAttributes().get(DIRECTION) + " " + p.getAttributes().get(OUTCOME),
                            p.getValue()));
        case "stowage.staging.duration" ->
            m.getHistogramData()
                .getPoints()
                .forEach(
                    p ->
                        durations.put(
                            p.getAttributes().get(DIRECTION) + " " + p.getAttributes().get(OUTCOME),
                            p.getCount()));
        default -> {}
      }
    }
    assertThat(bytes).isEqualTo(java.util.Map.of("in", 5L, "out", 3L));
    assertThat(files)
        .as("every series from zero")
        .isEqualTo(
            java.util.Map.of(
                "in copied", 1L, "out copied", 1L, "in skipped", 0L, "out skipped", 0L));
    assertThat(durations).isEqualTo(java.util.Map.of("in succeeded", 1L, "out succeeded", 1L));
  }

  static final io.opentelemetry.api.common.AttributeKey<String> DIRECTION =
      io.opentelemetry.api.common.AttributeKey.stringKey("stowage.direction");
  static final io.opentelemetry.api.common.AttributeKey<String> OUTCOME =
      io.opentelemetry.api.common.AttributeKey.stringKey("stowage.outcome");

  @Test
  void resultsArriveForEachAttemptAndWakeTheCycle() throws Exception {
    Path data = Files.writeString(tmp.resolve("data/data.txt"), "x");
    var woken = new java.util.concurrent.atomic.AtomicInteger();
    try (var stager =
        new DataStager(
            DataStager.Options.defaults(allowed, AllowedSources.forOutputs(List.of())))) {
      stager.onResults(woken::incrementAndGet);
      stager.stage(
          new AttemptId("ok", 1),
          List.of(new StagedInput(data.toUri().toString(), "data.txt")),
          tmp.resolve("w/ok"));
      stager.stage(
          new AttemptId("bad", 1),
          List.of(new StagedInput(tmp.resolve("data/absent").toUri().toString(), "data.txt")),
          tmp.resolve("w/bad"));

      var results = awaitResults(stager, 2);
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (woken.get() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(5); // each result is published, then the wake-up runs
      }

      assertThat(results)
          .containsExactlyInAnyOrder(
              new Stager.Result(new AttemptId("ok", 1), true, ""),
              new Stager.Result(
                  new AttemptId("bad", 1),
                  false,
                  "source " + tmp.resolve("data/absent").toUri() + ": no such file or directory"));
      assertThat(woken.get()).isEqualTo(2);
      assertThat(tmp.resolve("w/ok/data.txt")).hasContent("x");
      assertThat(stager.progress(new AttemptId("ok", 1))).as("gone once done").isEmpty();
    }
  }

  static List<Stager.Result> awaitResults(DataStager stager, int n) throws Exception {
    var results = new ArrayList<Stager.Result>();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (results.size() < n && System.nanoTime() < deadline) {
      results.addAll(stager.drainResults());
      Thread.sleep(5);
    }
    return results;
  }
}
