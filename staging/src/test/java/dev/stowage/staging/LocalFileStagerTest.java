package dev.stowage.staging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.Stager;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalFileStagerTest {
  @TempDir Path tmp;

  @Test
  void filesAndDirectoriesLandWholeUnderTheirDestinations() throws Exception {
    Path data = Files.writeString(tmp.resolve("data.csv"), "a,b\n1,2\n");
    Path tree = Files.createDirectories(tmp.resolve("tree/sub"));
    Files.writeString(tmp.resolve("tree/top.txt"), "top");
    Files.writeString(tree.resolve("deep.txt"), "deep");
    Path work = tmp.resolve("work/attempt-1");

    LocalFileStager.stageAll(
        List.of(
            new StagedInput(data.toUri().toString(), "in/data.csv"),
            new StagedInput(tmp.resolve("tree").toUri().toString(), "tree")),
        work);

    assertThat(work.resolve("in/data.csv")).hasContent("a,b\n1,2");
    assertThat(work.resolve("tree/top.txt")).hasContent("top");
    assertThat(work.resolve("tree/sub/deep.txt")).hasContent("deep");
    try (Stream<Path> all = Files.walk(work)) {
      assertThat(all.map(p -> p.getFileName().toString()))
          .noneMatch(n -> n.endsWith(".stowage-part"));
    }
  }

  @Test
  void aMissingSourceOrAnEscapeFailsWithTheInputNamed() throws Exception {
    Path work = Files.createDirectories(tmp.resolve("work"));
    Path outside = Files.createDirectories(tmp.resolve("outside"));
    Files.createSymbolicLink(work.resolve("link"), outside);
    Path data = Files.writeString(tmp.resolve("d.txt"), "d");

    assertThatThrownBy(
            () ->
                LocalFileStager.stageAll(
                    List.of(new StagedInput("file://" + tmp + "/absent.bin", "x")), work))
        .hasMessage("source file://" + tmp + "/absent.bin: no such file or directory");
    assertThatThrownBy(
            () ->
                LocalFileStager.stageAll(
                    List.of(new StagedInput(data.toUri().toString(), "link/d.txt")), work))
        .hasMessage("destination 'link/d.txt' leads outside the work directory");
    assertThat(outside.resolve("d.txt")).doesNotExist();
    assertThatThrownBy(
            () ->
                LocalFileStager.stageAll(
                    List.of(new StagedInput(data.toUri().toString(), "../d.txt")), work))
        .hasMessageContaining("'..' is not allowed");
  }

  @Test
  void eachAttemptsStagingIsASpanUnderTheSpanThatHandedItOver() throws Exception {
    Path data = Files.writeString(tmp.resolve("data.bin"), "12345");
    var spans = InMemorySpanExporter.create();
    var tracer =
        SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(spans))
            .build()
            .get("test");
    Span prepare = tracer.spanBuilder("prepare_payloads").startSpan();
    try (var stager = new LocalFileStager(1, tracer)) {
      try (Scope ignored = prepare.makeCurrent()) {
        stager.stage(
            new AttemptId("traced", 3),
            List.of(new StagedInput(data.toUri().toString(), "in/data.bin")),
            tmp.resolve("w/traced"));
      }
      prepare.end();
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (stager.drainResults().isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
    }

    SpanData staging =
        spans.getFinishedSpanItems().stream()
            .filter(s -> s.getName().equals("stage_inputs"))
            .findFirst()
            .orElseThrow();
    assertThat(staging.getParentSpanId()).isEqualTo(prepare.getSpanContext().getSpanId());
    assertThat(staging.getTraceId()).isEqualTo(prepare.getSpanContext().getTraceId());
    assertThat(staging.getAttributes().get(LocalFileStager.FILES)).isEqualTo(1L);
    assertThat(staging.getAttributes().get(LocalFileStager.BYTES)).isEqualTo(5L);
    assertThat(
            staging
                .getAttributes()
                .get(io.opentelemetry.api.common.AttributeKey.stringKey("stowage.task.id")))
        .isEqualTo("traced");
  }

  @Test
  void resultsArriveForEachAttemptAndWakeTheCycle() throws Exception {
    Path data = Files.writeString(tmp.resolve("data.txt"), "x");
    var woken = new java.util.concurrent.atomic.AtomicInteger();
    try (var stager = new LocalFileStager(2)) {
      stager.onResults(woken::incrementAndGet);
      stager.stage(
          new AttemptId("ok", 1),
          List.of(new StagedInput(data.toUri().toString(), "data.txt")),
          tmp.resolve("w/ok"));
      stager.stage(
          new AttemptId("bad", 1),
          List.of(new StagedInput("file:///nonexistent/stowage-input", "data.txt")),
          tmp.resolve("w/bad"));

      var results = new ArrayList<Stager.Result>();
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      // Each result is published, then the wake-up runs: wait for both.
      while ((results.size() < 2 || woken.get() < 2) && System.nanoTime() < deadline) {
        results.addAll(stager.drainResults());
        Thread.sleep(5);
      }

      assertThat(results)
          .containsExactlyInAnyOrder(
              new Stager.Result(new AttemptId("ok", 1), true, ""),
              new Stager.Result(
                  new AttemptId("bad", 1),
                  false,
                  "source file:///nonexistent/stowage-input: no such file or directory"));
      assertThat(woken.get()).isEqualTo(2);
      assertThat(tmp.resolve("w/ok/data.txt")).hasContent("x");
    }
  }
}
