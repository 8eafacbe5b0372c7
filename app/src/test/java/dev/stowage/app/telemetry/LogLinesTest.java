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
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/** The shipped Logback configurations: records on standard error, with trace ids inside spans. */
class LogLinesTest {
  static final ObjectMapper JSON = new ObjectMapper();

  /** Configures a fresh Logback from {@code resource}, lets {@code logging} log, returns stderr. */
  static String logsOf(String resource, Consumer<Logger> logging) throws Exception {
    return logsOf(resource, (context, log) -> logging.accept(log));
  }

  static String logsOf(String resource, BiConsumer<LoggerContext, Logger> logging)
      throws Exception {
    var captured = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    var context = new LoggerContext();
    context.setMDCAdapter(org.slf4j.MDC.getMDCAdapter()); // as SLF4J does: org.slf4j.MDC is it
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      var configurator = new JoranConfigurator();
      configurator.setContext(context);
      configurator.doConfigure(LogLinesTest.class.getResource("/" + resource));
      logging.accept(context, context.getLogger("dev.stowage.test"));
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
  void jsonLinesAreEcsWithTheTraceAndSpanIdsAndTheRecordsFieldsAtTheTopLevel() throws Exception {
    var tracer = tracer();
    Span span = tracer.spanBuilder("scheduling_cycle").startSpan();

    String out =
        logsOf(
            "logback.xml",
            log -> {
              log.info("outside any span");
              try (Scope ignored = span.makeCurrent();
                  var field = org.slf4j.MDC.putCloseable("stowage.task", "etl/a")) {
                log.warn("attempt {} of etl/a failed", 2, new IllegalStateException("boom"));
              }
            });
    span.end();

    String[] lines = out.strip().split("\n");
    assertThat(lines).hasSize(2);
    JsonNode outside = JSON.readTree(lines[0]);
    JsonNode inside = JSON.readTree(lines[1]);
    assertThat(outside.get("message").asText()).isEqualTo("outside any span");
    assertThat(outside.get("log.level").asText()).isEqualTo("INFO");
    assertThat(outside.get("@timestamp").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
    assertThat(outside.get("ecs.version").asText()).isNotBlank();
    assertThat(outside.get("service.name").asText()).isEqualTo("stowage");
    assertThat(outside.get("log.logger").asText()).isEqualTo("dev.stowage.test");
    assertThat(outside.has("trace.id")).isFalse();
    assertThat(inside.get("log.level").asText()).isEqualTo("WARN");
    assertThat(inside.get("message").asText()).isEqualTo("attempt 2 of etl/a failed");
    assertThat(inside.get("trace.id").asText()).isEqualTo(span.getSpanContext().getTraceId());
    assertThat(inside.get("span.id").asText()).isEqualTo(span.getSpanContext().getSpanId());
    assertThat(inside.get("stowage.task").asText()).isEqualTo("etl/a");
    // The exception in one line of JSON, not a stack trace across lines.
    assertThat(inside.get("error.type").asText()).isEqualTo("java.lang.IllegalStateException");
    assertThat(inside.get("error.message").asText()).isEqualTo("boom");
    assertThat(inside.get("error.stack_trace").asText()).contains("LogLinesTest");
  }

  @Test
  void theSameRecordsGoToOpenTelemetrysLogPipelineWithTheirTraceAndFields() throws Exception {
    var exported = io.opentelemetry.sdk.testing.exporter.InMemoryLogRecordExporter.create();
    var sdk =
        io.opentelemetry.sdk.OpenTelemetrySdk.builder()
            .setLoggerProvider(
                io.opentelemetry.sdk.logs.SdkLoggerProvider.builder()
                    .addLogRecordProcessor(
                        io.opentelemetry.sdk.logs.export.SimpleLogRecordProcessor.create(exported))
                    .build())
            .build();
    Span span = tracer().spanBuilder("task_attempt").startSpan();

    for (String resource : new String[] {"logback.xml", "logback-text.xml"}) {
      exported.reset();
      logsOf(
          resource,
          (context, log) -> {
            ((io.opentelemetry.instrumentation.logback.appender.v1_0.OpenTelemetryAppender)
                    context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("otlp"))
                .setOpenTelemetry(sdk);
            try (Scope ignored = span.makeCurrent();
                var field = org.slf4j.MDC.putCloseable("stowage.task", "etl/a")) {
              log.warn("attempt 1 of etl/a failed");
            }
          });

      assertThat(exported.getFinishedLogRecordItems()).as(resource).hasSize(1);
      var record = exported.getFinishedLogRecordItems().get(0);
      assertThat(record.getBodyValue().asString()).isEqualTo("attempt 1 of etl/a failed");
      assertThat(record.getSeverity()).isEqualTo(io.opentelemetry.api.logs.Severity.WARN);
      assertThat(record.getSpanContext().getTraceId())
          .isEqualTo(span.getSpanContext().getTraceId());
      assertThat(
              record
                  .getAttributes()
                  .get(io.opentelemetry.api.common.AttributeKey.stringKey("stowage.task")))
          .isEqualTo("etl/a");
    }
    span.end();
    sdk.close();
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
