package dev.stowage.app.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecentTracesTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  /** A root span with {@code children} child spans, all ended; returns the trace id. */
  static String trace(Tracer tracer, String root, int children) {
    Span r = tracer.spanBuilder(root).startSpan();
    try (Scope ignored = r.makeCurrent()) {
      for (int i = 0; i < children; i++) {
        tracer.spanBuilder(root + "/child-" + i).startSpan().end();
      }
    } finally {
      r.end();
    }
    return r.getSpanContext().getTraceId();
  }

  @Test
  void keepsTheNewestTracesAndCapsEachOne() {
    var recent = new RecentTraces(2, 3, 100);
    var tracer = SdkTracerProvider.builder().addSpanProcessor(recent).build().get("test");

    trace(tracer, "first", 1);
    String second = trace(tracer, "second", 1);
    String third = trace(tracer, "third", 5); // 6 spans, 3 kept

    var kept = recent.recent(10);
    assertThat(kept).extracting(RecentTraces.Summary::traceId).containsExactly(third, second);
    assertThat(kept.get(0).spans()).isEqualTo(3);
    assertThat(kept.get(0).dropped()).isEqualTo(3);
    assertThat(kept.get(1).root()).isEqualTo("second");
    assertThat(kept.get(1).spans()).isEqualTo(2);
    assertThat(recent.recent(1)).hasSize(1);
  }

  @Test
  void allTracesTogetherKeepNoMoreThanTheirSpanCapTheOldestGoingFirst() {
    var recent = new RecentTraces(100, 10, 10);
    var tracer = SdkTracerProvider.builder().addSpanProcessor(recent).build().get("test");

    String first = trace(tracer, "first", 3); // 4 spans
    String second = trace(tracer, "second", 3); // 8 in all
    String third = trace(tracer, "third", 3); // 12: the first goes
    assertThat(recent.recent(10))
        .extracting(RecentTraces.Summary::traceId)
        .containsExactly(third, second);
    String big = trace(tracer, "big", 9); // 10 spans: only it is left
    assertThat(recent.recent(10)).extracting(RecentTraces.Summary::traceId).containsExactly(big);
    assertThat(recent.otlpJson(first)).isEmpty();
  }

  @Test
  void cyclesThatChangedNothingReachNoKeeperAndPushNothingOut() {
    var recent = new RecentTraces(1, 100, 100);
    var tracer =
        SdkTracerProvider.builder()
            .addSpanProcessor(new IdleCycleFilter(recent))
            .build()
            .get("test");
    String work = trace(tracer, "POST /api/tasks", 1);
    Span idle = tracer.spanBuilder("scheduling_cycle").startSpan();
    try (Scope ignored = idle.makeCurrent()) {
      tracer.spanBuilder("get_processable_tasks").startSpan().end();
    }
    idle.setAttribute(dev.stowage.scheduler.SchedulingCycle.IDLE, true).end();

    assertThat(recent.recent(10))
        .as("the one kept trace is still the real work")
        .extracting(RecentTraces.Summary::traceId)
        .containsExactly(work);

    Span busy = tracer.spanBuilder("scheduling_cycle").startSpan();
    try (Scope ignored = busy.makeCurrent()) {
      tracer.spanBuilder("launch").startSpan().end();
    }
    busy.setAttribute(dev.stowage.scheduler.SchedulingCycle.IDLE, false).end();
    var kept = recent.recent(10);
    assertThat(kept)
        .extracting(RecentTraces.Summary::traceId)
        .containsExactly(busy.getSpanContext().getTraceId());
    assertThat(kept.getFirst().spans()).as("the root and its phase").isEqualTo(2);
  }

  @Test
  void aTraceIsServedAsOtlpJson() throws Exception {
    var recent = new RecentTraces(10, 100, 1000);
    var tracer = SdkTracerProvider.builder().addSpanProcessor(recent).build().get("test");
    String id = trace(tracer, "scheduling_cycle", 2);

    JsonNode body = JSON.readTree(recent.otlpJson(id).orElseThrow());

    JsonNode spans = body.at("/resourceSpans/0/scopeSpans/0/spans");
    assertThat(spans).hasSize(3);
    assertThat(spans.findValuesAsText("traceId")).containsOnly(id);
    assertThat(spans.findValuesAsText("name"))
        .containsExactlyInAnyOrder(
            "scheduling_cycle", "scheduling_cycle/child-0", "scheduling_cycle/child-1");
    assertThat(recent.otlpJson("0".repeat(32))).isEmpty();
  }

  @Test
  void theTraceFileGetsOneOtlpJsonLinePerBatch() throws Exception {
    Path file = tmp.resolve("traces/stowage.jsonl");
    var exporter = new OtlpJsonFileExporter(file);
    var tracer =
        SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(exporter))
            .build()
            .get("test");

    trace(tracer, "a", 0);
    trace(tracer, "b", 0);
    exporter.shutdown();

    List<String> lines = Files.readAllLines(file);
    assertThat(lines).hasSize(2);
    assertThat(
            JSON.readTree(lines.get(1)).at("/resourceSpans/0/scopeSpans/0/spans/0/name").asText())
        .isEqualTo("b");
  }

  @Test
  void theTraceFileTurnsOverAtItsCapKeepingOneBefore() throws Exception {
    Path file = tmp.resolve("capped.jsonl");
    Files.writeString(file, "{}\n".repeat(100)); // 300 bytes from an earlier run
    var exporter = new OtlpJsonFileExporter(file, 400);
    var tracer =
        SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(exporter))
            .build()
            .get("test");

    trace(tracer, "first", 0); // the file passes its cap
    trace(tracer, "second", 0); // so this one starts a new file
    exporter.shutdown();

    Path before = tmp.resolve("capped.jsonl.1");
    assertThat(Files.readString(before)).startsWith("{}\n").contains("\"first\"");
    List<String> now = Files.readAllLines(file);
    assertThat(now).singleElement().asString().contains("\"second\"");
  }

  @Test
  void withoutAnEndpointNothingIsExportedOverTheNetwork() {
    assertThat(Telemetry.defaults(Map.<String, String>of()::get))
        .containsEntry("otel.service.name", "stowage")
        .containsEntry("otel.traces.exporter", "none")
        .containsEntry("otel.metrics.exporter", "none")
        .containsEntry("otel.logs.exporter", "none");
    assertThat(
            Telemetry.defaults(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")::get))
        .doesNotContainKeys("otel.traces.exporter", "otel.metrics.exporter", "otel.logs.exporter");
    assertThat(
            Telemetry.defaults(
                Map.of("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://jaeger:4318/v1/traces")::get))
        .doesNotContainKey("otel.traces.exporter")
        .containsEntry("otel.metrics.exporter", "none");
  }

  @Test
  void spansAreQueuedForAWholeCycleAndSentInLargeBatches() {
    // Defaults only: OTEL_BSP_* set by an operator still win (the SDK reads them over these).
    assertThat(Telemetry.defaults(Map.<String, String>of()::get))
        .containsEntry("otel.bsp.max.queue.size", "65536")
        .containsEntry("otel.bsp.max.export.batch.size", "4096")
        .containsEntry("otel.java.exporter.memory_mode", "immutable_data");
  }
}
