package dev.stowage.app.telemetry;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.exporter.prometheus.PrometheusMetricReader;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The OpenTelemetry SDK as the service runs it, configured from the standard {@code OTEL_*}
 * variables (and {@code otel.*} system properties). With no OTLP endpoint configured, the embedded
 * default, nothing is exported over the network: traces stay in {@link RecentTraces} for the API,
 * and can also be appended to a file as OTLP/JSON lines.
 */
public final class Telemetry implements AutoCloseable {
  private static final int BATCH_QUEUE = 65_536;
  private static final ExpositionFormats FORMATS = ExpositionFormats.init();
  private final OpenTelemetrySdk sdk;
  private final RecentTraces recent;
  private final PrometheusMetricReader prometheus;
  private final io.opentelemetry.instrumentation.runtimetelemetry.RuntimeTelemetry runtime;

  private Telemetry(OpenTelemetrySdk sdk, RecentTraces recent, PrometheusMetricReader prometheus) {
    this.sdk = sdk;
    this.recent = recent;
    this.prometheus = prometheus;
    // The JVM's own: memory, garbage collection, threads, CPU, classes.
    this.runtime = io.opentelemetry.instrumentation.runtimetelemetry.RuntimeTelemetry.create(sdk);
  }

  /**
   * @param traceFile where to append spans as OTLP/JSON lines, or null
   * @param env the environment to read {@code OTEL_*} from ({@code System::getenv} in the app)
   */
  public static Telemetry start(Path traceFile, Function<String, String> env) {
    refuseUnsupportedProtocols(env);
    try {
      return configure(traceFile, env);
    } catch (io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException e) {
      // The SDK's own message is often "Unexpected configuration error"; the cause says what.
      Throwable cause = e;
      while (cause.getCause() != null && cause.getCause() != cause) {
        cause = cause.getCause();
      }
      String why =
          cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
      throw new IllegalArgumentException(
          "OpenTelemetry configuration (OTEL_* variables): "
              + (cause == e ? why : e.getMessage() + ": " + why),
          e);
    }
  }

  /** The exporters this build carries: OTLP over HTTP. gRPC is refused in one clear line. */
  private static void refuseUnsupportedProtocols(Function<String, String> env) {
    for (String name :
        new String[] {
          "OTEL_EXPORTER_OTLP_PROTOCOL",
          "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
          "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
          "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"
        }) {
      String property = name.toLowerCase(java.util.Locale.ROOT).replace('_', '.');
      String value = env.apply(name) != null ? env.apply(name) : System.getProperty(property);
      if (value != null && !value.isBlank() && !value.strip().equals("http/protobuf")) {
        throw new IllegalArgumentException(
            name
                + "="
                + value
                + ": Stowage sends OTLP over HTTP only (http/protobuf, to port 4318 of a"
                + " Collector); leave it unset, or point OTEL_EXPORTER_OTLP_ENDPOINT at an"
                + " OTLP/HTTP receiver");
      }
    }
  }

  private static Telemetry configure(Path traceFile, Function<String, String> env) {
    var recent = new RecentTraces(1000, 10_000, 100_000);
    // Read on each scrape of /metrics, beside OTLP export when an endpoint is configured.
    var prometheus = PrometheusMetricReader.create();
    OpenTelemetrySdk sdk =
        AutoConfiguredOpenTelemetrySdk.builder()
            .addPropertiesSupplier(() -> defaults(env))
            .addMeterProviderCustomizer(
                (metrics, config) -> metrics.registerMetricReader(prometheus))
            // The exporters configured from OTEL_* (OTLP), this file and the in-memory keeper
            // all skip cycles that changed nothing.
            .addSpanProcessorCustomizer((processor, config) -> new IdleCycleFilter(processor))
            .addTracerProviderCustomizer(
                (tracing, config) -> {
                  // The keeper and the file behind one filter: a cycle's spans held once.
                  var local = new java.util.ArrayList<SpanProcessor>(List.of(recent));
                  if (traceFile != null) {
                    try {
                      local.add(
                          BatchSpanProcessor.builder(new OtlpJsonFileExporter(traceFile))
                              .setMaxQueueSize(BATCH_QUEUE)
                              .build());
                    } catch (IOException e) {
                      throw new UncheckedIOException(
                          "cannot append traces to " + traceFile + ": " + e.getMessage(), e);
                    }
                  }
                  return tracing.addSpanProcessor(
                      new IdleCycleFilter(SpanProcessor.composite(local)));
                })
            .build()
            .getOpenTelemetrySdk();
    // Logback's records (logback.xml) into the SDK's log pipeline: exported over OTLP when an
    // endpoint is set; the records logged before now are replayed.
    io.opentelemetry.instrumentation.logback.appender.v1_0.OpenTelemetryAppender.install(sdk);
    return new Telemetry(sdk, recent, prometheus);
  }

  /**
   * Defaults under whatever the environment sets: the service's name, and no OTLP exporter unless
   * an endpoint is given (the SDK's default would send to localhost:4318 and log an error for every
   * batch when no collector listens there).
   */
  static Map<String, String> defaults(Function<String, String> env) {
    var out = new HashMap<String, String>();
    out.put("otel.service.name", "stowage");
    // The SDK's default is gRPC, whose sender this build does not carry: OTLP/HTTP is what port
    // 4318 of a Collector speaks.
    out.put("otel.exporter.otlp.protocol", "http/protobuf");
    // The SDK's metrics of itself under the semantic conventions' names
    // (otel_sdk_processor_span_processed_total), not the legacy camelCase (processedSpans).
    out.put("otel.experimental.sdk.telemetry.version", "latest");
    // A cycle ends thousands of attempt spans at once: the SDK's default queue (2048) would drop
    // most of them before the exporter's next batch.
    out.put("otel.bsp.max.queue.size", Integer.toString(BATCH_QUEUE));
    // And sent in batches of 4,096 (about 1.3 MB of OTLP) rather than 512: per 20,000 attempt
    // spans the export measured 35-50 ms of CPU instead of 70-100 ms.
    out.put("otel.bsp.max.export.batch.size", "4096");
    // The exporters marshal from the finished spans themselves rather than through their reused
    // buffers: for a cycle's 20,000 attempt spans that measured 45-51 ms of CPU in all threads
    // against 69-114 ms (bench/scripts/AttemptSpanExportCost.java, docs/benchmarks.md).
    out.put("otel.java.exporter.memory_mode", "immutable_data");
    for (String signal : new String[] {"traces", "metrics", "logs"}) {
      boolean endpoint =
          set(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
              || set(env, "OTEL_EXPORTER_OTLP_" + signal.toUpperCase() + "_ENDPOINT")
              || System.getProperty("otel.exporter.otlp.endpoint") != null
              || System.getProperty("otel.exporter.otlp." + signal + ".endpoint") != null;
      if (!endpoint) {
        out.put("otel." + signal + ".exporter", "none");
      }
    }
    return out;
  }

  private static boolean set(Function<String, String> env, String name) {
    String v = env.apply(name);
    return v != null && !v.isBlank();
  }

  public OpenTelemetry openTelemetry() {
    return sdk;
  }

  public RecentTraces recentTraces() {
    return recent;
  }

  /** A scrape's answer: its content type and body. */
  public record Scrape(String contentType, byte[] body) {}

  /**
   * Every metric now, in the format the scraper's {@code Accept} header asks for: OpenMetrics (the
   * one that carries exemplars, which Prometheus asks for when exemplar storage is on), Prometheus'
   * protobuf format when asked for it (native histograms), else Prometheus' text format. A format
   * this build cannot write falls back to OpenMetrics or text.
   */
  public Scrape scrape(String accept) {
    ExpositionFormatWriter writer = FORMATS.findWriter(accept);
    if (!writer.isAvailable()) {
      writer =
          FORMATS.getOpenMetricsTextFormatWriter().accepts(accept)
              ? FORMATS.getOpenMetricsTextFormatWriter()
              : FORMATS.getPrometheusTextFormatWriter();
    }
    var out = new ByteArrayOutputStream();
    try {
      writer.write(out, prometheus.collect());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Scrape(writer.getContentType(), out.toByteArray());
  }

  /** Flushes what is batched and stops the exporters. */
  @Override
  public void close() {
    runtime.close();
    sdk.close();
  }
}
