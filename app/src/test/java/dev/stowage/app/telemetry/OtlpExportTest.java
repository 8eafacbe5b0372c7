package dev.stowage.app.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * With an endpoint configured the standard way, the SDK's own OTLP/HTTP exporter sends spans and
 * metrics to it: here a receiver on loopback that records what it is sent.
 */
class OtlpExportTest {
  record Received(String path, String contentType, byte[] body) {}

  final List<Received> received = new CopyOnWriteArrayList<>();
  HttpServer collector;

  @BeforeEach
  void startCollector() throws IOException {
    collector = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    collector.createContext(
        "/",
        exchange -> {
          received.add(
              new Received(
                  exchange.getRequestURI().getPath(),
                  exchange.getRequestHeaders().getFirst("Content-Type"),
                  exchange.getRequestBody().readAllBytes()));
          exchange.sendResponseHeaders(200, -1);
          exchange.close();
        });
    collector.start();
    System.setProperty(
        "otel.exporter.otlp.endpoint", "http://127.0.0.1:" + collector.getAddress().getPort());
  }

  @AfterEach
  void stopCollector() {
    System.clearProperty("otel.exporter.otlp.endpoint");
    collector.stop(0);
  }

  @Test
  void theJvmsOwnMetricsAreServedBesideStowages() {
    try (var telemetry = Telemetry.start(null, name -> null)) {
      String text = new String(telemetry.scrape(null).body(), StandardCharsets.UTF_8);
      assertThat(text)
          .contains("jvm_memory_used_bytes{")
          .contains("jvm_thread_count")
          .contains("jvm_cpu_time_seconds_total");
    }
  }

  @Test
  void grpcIsRefusedInOneLineAndAConfigurationErrorSaysItsCause() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                Telemetry.start(
                    null, name -> name.equals("OTEL_EXPORTER_OTLP_PROTOCOL") ? "grpc" : null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: Stowage sends OTLP over HTTP only (http/protobuf");
    System.setProperty("otel.traces.sampler", "sometimes");
    try {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> Telemetry.start(null, name -> null))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("OpenTelemetry configuration (OTEL_* variables): ")
          .hasMessageContaining("sometimes");
    } finally {
      System.clearProperty("otel.traces.sampler");
    }
  }

  @Test
  void withTheRecommendedParentBasedRatioACallersSampledTraceStaysSampled() {
    System.setProperty("otel.traces.sampler", "parentbased_traceidratio");
    System.setProperty("otel.traces.sampler.arg", "0");
    try (var telemetry = Telemetry.start(null, name -> null)) {
      var tracer = telemetry.openTelemetry().getTracer("test");
      var caller =
          io.opentelemetry.api.trace.SpanContext.createFromRemoteParent(
              "4bf92f3577b34da6a3ce929d0e0e4736",
              "00f067aa0ba902b7",
              io.opentelemetry.api.trace.TraceFlags.getSampled(),
              io.opentelemetry.api.trace.TraceState.getDefault());
      var submit =
          tracer
              .spanBuilder("POST /api/tasks")
              .setParent(
                  io.opentelemetry.context.Context.root()
                      .with(io.opentelemetry.api.trace.Span.wrap(caller)))
              .startSpan();
      var cycle = tracer.spanBuilder("scheduling_cycle").startSpan();
      assertThat(submit.getSpanContext().isSampled()).as("the caller's trace").isTrue();
      assertThat(cycle.getSpanContext().isSampled())
          .as("a trace of Stowage's own, ratio 0")
          .isFalse();
      submit.end();
      cycle.end();
      assertThat(telemetry.recentTraces().recent(10))
          .extracting(t -> t.traceId())
          .containsExactly("4bf92f3577b34da6a3ce929d0e0e4736");
    } finally {
      System.clearProperty("otel.traces.sampler");
      System.clearProperty("otel.traces.sampler.arg");
    }
  }

  @Test
  void spansAndMetricsGoToTheConfiguredCollector() {
    try (var telemetry = Telemetry.start(null, name -> null)) {
      var otel = telemetry.openTelemetry();
      var tracer = otel.getTracer("test");
      tracer.spanBuilder("exported_cycle").startSpan().end();
      var idle = tracer.spanBuilder("scheduling_cycle").startSpan();
      tracer
          .spanBuilder("idle_phase")
          .setParent(io.opentelemetry.context.Context.current().with(idle))
          .startSpan()
          .end();
      idle.setAttribute(dev.stowage.scheduler.SchedulingCycle.IDLE, true).end();
      ((io.opentelemetry.sdk.OpenTelemetrySdk) otel)
          .getSdkTracerProvider()
          .forceFlush()
          .join(10, java.util.concurrent.TimeUnit.SECONDS);
      String self = new String(telemetry.scrape(null).body(), StandardCharsets.UTF_8);
      assertThat(self).contains("otel_sdk_").doesNotContain("processedSpans");
      otel.getMeter("test").counterBuilder("stowage.test.exported").build().add(3);
    } // closing flushes both signals

    assertThat(received)
        .anySatisfy(
            r -> {
              assertThat(r.path()).isEqualTo("/v1/traces");
              assertThat(r.contentType()).isEqualTo("application/x-protobuf");
              assertThat(new String(r.body(), StandardCharsets.ISO_8859_1))
                  .contains("exported_cycle")
                  .contains("stowage"); // service.name on the resource
            })
        .noneSatisfy(
            r ->
                assertThat(new String(r.body(), StandardCharsets.ISO_8859_1))
                    .as("a cycle that changed nothing is not exported")
                    .containsAnyOf("idle_phase", "scheduling_cycle"))
        .anySatisfy(
            r -> {
              assertThat(r.path()).isEqualTo("/v1/metrics");
              assertThat(new String(r.body(), StandardCharsets.ISO_8859_1))
                  .contains("stowage.test.exported");
            });
  }
}
