package dev.stowage.app.telemetry;

import dev.stowage.scheduler.SchedulingCycle;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps cycles that changed nothing out of what it passes on. A quiet service cycles every second:
 * exporting each of those traces would fill a collector, the trace file and the in-memory keeper
 * with nothing to read (about 260 MB a day of file), and push out the traces of real work. A
 * cycle's spans are held until its root ends, then passed on whole, or dropped when the root says
 * it was idle. Idle cycles still count in the metrics.
 */
final class IdleCycleFilter implements SpanProcessor {
  private final SpanProcessor next;
  private final ConcurrentHashMap<String, List<ReadableSpan>> held = new ConcurrentHashMap<>();

  IdleCycleFilter(SpanProcessor next) {
    this.next = next;
  }

  @Override
  public void onStart(Context parentContext, ReadWriteSpan span) {
    if (!span.getParentSpanContext().isValid() && span.getName().equals("scheduling_cycle")) {
      held.put(span.getSpanContext().getTraceId(), new ArrayList<>());
    }
    if (next.isStartRequired()) {
      next.onStart(parentContext, span);
    }
  }

  @Override
  public boolean isStartRequired() {
    return true;
  }

  @Override
  public void onEnd(ReadableSpan span) {
    String trace = span.getSpanContext().getTraceId();
    List<ReadableSpan> cycle = held.get(trace);
    if (cycle == null) {
      next.onEnd(span);
      return;
    }
    if (span.getParentSpanContext().isValid()) {
      synchronized (cycle) {
        cycle.add(span);
      }
      return;
    }
    held.remove(trace);
    if (Boolean.TRUE.equals(span.getAttribute(SchedulingCycle.IDLE))) {
      return;
    }
    synchronized (cycle) {
      cycle.forEach(next::onEnd);
    }
    next.onEnd(span);
  }

  @Override
  public boolean isEndRequired() {
    return true;
  }

  @Override
  public CompletableResultCode shutdown() {
    return next.shutdown();
  }

  @Override
  public CompletableResultCode forceFlush() {
    return next.forceFlush();
  }
}
