package dev.stowage.app.telemetry;

import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The last traces, kept in memory for the API when no collector is configured (and beside one when
 * it is): at most {@code maxTraces} traces and {@code maxSpans} spans in all, the oldest traces
 * dropped first, and at most {@code maxSpansPerTrace} spans each, counting what was dropped. The
 * cap on all spans keeps a busy service's heap small: cycles that place 20,000 tasks end 20,000
 * attempt spans each, and holding a million of them cost the concurrent collector a core.
 */
public final class RecentTraces implements SpanProcessor {
  /** One trace as listed: its root span's name and times, and how many spans it has. */
  public record Summary(
      String traceId, String root, Instant start, Instant end, int spans, int dropped) {}

  private static final class Trace {
    final List<SpanData> spans = new ArrayList<>();
    int dropped;
  }

  private final int maxTraces;
  private final int maxSpansPerTrace;
  private final int maxSpans;
  private int spans; // guarded by this
  private final LinkedHashMap<String, Trace> traces = new LinkedHashMap<>(); // guarded by this

  public RecentTraces(int maxTraces, int maxSpansPerTrace, int maxSpans) {
    if (maxTraces < 1 || maxSpansPerTrace < 1 || maxSpans < maxSpansPerTrace) {
      throw new IllegalArgumentException(
          "maxTraces and maxSpansPerTrace must be at least 1, and maxSpans at least"
              + " maxSpansPerTrace");
    }
    this.maxTraces = maxTraces;
    this.maxSpansPerTrace = maxSpansPerTrace;
    this.maxSpans = maxSpans;
  }

  @Override
  public void onStart(Context parentContext, ReadWriteSpan span) {}

  @Override
  public boolean isStartRequired() {
    return false;
  }

  @Override
  public synchronized void onEnd(ReadableSpan span) {
    SpanData data = span.toSpanData();
    Trace trace = traces.get(data.getTraceId());
    if (trace == null) {
      trace = new Trace();
      traces.put(data.getTraceId(), trace);
    }
    if (trace.spans.size() < maxSpansPerTrace) {
      trace.spans.add(data);
      spans++;
    } else {
      trace.dropped++;
    }
    // The oldest traces go first, never the one just added to.
    Iterator<Trace> oldest = traces.values().iterator();
    while ((traces.size() > maxTraces || spans > maxSpans) && oldest.hasNext()) {
      Trace t = oldest.next();
      if (t == trace) {
        break;
      }
      spans -= t.spans.size();
      oldest.remove();
    }
  }

  @Override
  public boolean isEndRequired() {
    return true;
  }

  @Override
  public CompletableResultCode shutdown() {
    return CompletableResultCode.ofSuccess();
  }

  /** The newest traces first, at most {@code limit}. */
  public synchronized List<Summary> recent(int limit) {
    var all = new ArrayList<Map.Entry<String, Trace>>(traces.entrySet());
    var out = new ArrayList<Summary>();
    for (int i = all.size() - 1; i >= 0 && out.size() < limit; i--) {
      out.add(summary(all.get(i).getKey(), all.get(i).getValue()));
    }
    return out;
  }

  /** The ended spans kept of the trace, in the order they ended (none when it is not kept). */
  public synchronized List<SpanData> spans(String traceId) {
    Trace trace = traces.get(traceId);
    return trace == null ? List.of() : List.copyOf(trace.spans);
  }

  /** The trace's spans as an OTLP/JSON {@code ExportTraceServiceRequest}, if it is kept. */
  public Optional<byte[]> otlpJson(String traceId) {
    List<SpanData> spans;
    synchronized (this) {
      Trace trace = traces.get(traceId);
      if (trace == null) {
        return Optional.empty();
      }
      spans = List.copyOf(trace.spans);
    }
    return Optional.of(toOtlpJson(spans));
  }

  /** Spans as one OTLP/JSON {@code ExportTraceServiceRequest}, as collectors accept it. */
  static byte[] toOtlpJson(List<SpanData> spans) {
    var out = new ByteArrayOutputStream();
    try {
      // The SDK's own OTLP encoder (an internal class of the exporter we ship): one encoding for
      // the API, the trace file and the wire.
      TraceRequestMarshaler.create(spans).writeJsonTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static Summary summary(String traceId, Trace trace) {
    SpanData root = null;
    long start = Long.MAX_VALUE;
    long end = Long.MIN_VALUE;
    var ids = new java.util.HashSet<String>();
    for (SpanData s : trace.spans) {
      ids.add(s.getSpanId());
    }
    for (SpanData s : trace.spans) {
      start = Math.min(start, s.getStartEpochNanos());
      end = Math.max(end, s.getEndEpochNanos());
      boolean top = !s.getParentSpanContext().isValid() || !ids.contains(s.getParentSpanId());
      if (top && (root == null || s.getStartEpochNanos() < root.getStartEpochNanos())) {
        root = s;
      }
    }
    return new Summary(
        traceId,
        root == null ? "" : root.getName(),
        Instant.ofEpochSecond(0, start),
        Instant.ofEpochSecond(0, end),
        trace.spans.size(),
        trace.dropped);
  }
}
