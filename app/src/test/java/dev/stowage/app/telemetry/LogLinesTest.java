package dev.stowage.app.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/** The shipped Logback configurations: records on standard error, with trace ids inside spans. */
class LogLinesTest {
  static final ObjectMapper JSON = new ObjectMapper();

  /** Configures a fresh Logback from {@code resource}, lets {@code logging} log, returns stderr. */
  static String logsOf(String resource, Consumer<Logger> logging) throws Exception {
    var captured = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    var context = new LoggerContext();
    context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter()); // as SLF4J does
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      var configurator = new JoranConfigurator();
      configurator.setContext(context);
      configurator.doConfigure(LogLinesTest.class.getResource("/" + resource));
      logging.accept(context.getLogger("dev.stowage.test"));
      context.stop();
    } finally {
      System.setErr(stderr);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }

  /** A tracer whose spans are real (sampled, with ids), as the service's are. */
  static io.opentelemetry.api.trace.Tracer tracer() {
    return SdkTracerProvider.builder()
        .addSpanProcessor(
            io.opentelemetry.sdk.trace.export.SimpleSpanProcessor.create(
                io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter.create()))
        .build()
        .get("test");
  }

  @Test
  void jsonLinesCarryTheTraceAndSpanIdsOfTheSpanTheyAreLoggedIn() throws Exception {
    var tracer = tracer();
    Span span = tracer.spanBuilder("scheduling_cycle").startSpan();

    String out =
        logsOf(
            "logback.xml",
            log -> {
              log.info("outside any span");
              try (Scope ignored = span.makeCurrent()) {
                log.info("cycle: {} tasks considered", 3);
              }
            });
    span.end();

    String[] lines = out.strip().split("\n");
    assertThat(lines).hasSize(2);
    JsonNode outside = JSON.readTree(lines[0]);
    JsonNode inside = JSON.readTree(lines[1]);
    assertThat(outside.get("formattedMessage").asText()).isEqualTo("outside any span");
    assertThat(outside.path("mdc").has("trace_id")).isFalse();
    assertThat(inside.get("level").asText()).isEqualTo("INFO");
    assertThat(inside.get("formattedMessage").asText()).isEqualTo("cycle: 3 tasks considered");
    assertThat(inside.at("/mdc/trace_id").asText()).isEqualTo(span.getSpanContext().getTraceId());
    assertThat(inside.at("/mdc/span_id").asText()).isEqualTo(span.getSpanContext().getSpanId());
  }

  @Test
  void theTerminalFormatIsOneReadableLineWithTheTraceId() throws Exception {
    var tracer = tracer();
    Span span = tracer.spanBuilder("scheduling_cycle").startSpan();

    String out =
        logsOf(
            "logback-text.xml",
            log -> {
              log.warn("no trace here");
              try (Scope ignored = span.makeCurrent()) {
                log.info("placed 3");
              }
            });
    span.end();

    String[] lines = out.strip().split("\n");
    assertThat(lines[0])
        .matches("\\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARN  dev.stowage.test no trace here");
    assertThat(lines[1])
        .endsWith("INFO  dev.stowage.test placed 3 trace_id=" + span.getSpanContext().getTraceId());
  }
}
