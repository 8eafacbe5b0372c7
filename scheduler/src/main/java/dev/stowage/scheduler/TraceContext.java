package dev.stowage.scheduler;

import java.util.Objects;

/**
 * A W3C trace context as it crosses a boundary: the {@code traceparent} and, when the caller set
 * one, its {@code tracestate}. Kept as text so that the scheduler's model needs no tracing library.
 *
 * @param traceparent {@code 00-<trace id>-<span id>-<flags>}
 * @param tracestate vendor entries to pass along unchanged, or null
 */
public record TraceContext(String traceparent, String tracestate) {
  public TraceContext {
    Objects.requireNonNull(traceparent, "traceparent");
    tracestate = tracestate == null || tracestate.isBlank() ? null : tracestate;
  }

  /** The trace id this context belongs to, or null if the traceparent is not W3C's version 00. */
  public String traceId() {
    String[] parts = traceparent.split("-");
    return parts.length == 4 && parts[1].length() == 32 ? parts[1] : null;
  }
}
