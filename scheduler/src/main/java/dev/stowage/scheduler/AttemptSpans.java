package dev.stowage.scheduler;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.HashMap;
import java.util.Map;

/**
 * One span per attempt, from its placement to its end: the child of the span the task was submitted
 * in (so a task's attempts share its submit's trace), linked to the cycle that placed it, with an
 * event for each step (staged, launched, started) and the outcome as its status. Its context is
 * what the attempt's process gets as TRACEPARENT, so the process's own spans nest under the
 * attempt.
 *
 * <p>Spans stay open, in memory, for as long as their attempts run. A restart loses the open ones
 * (they are never exported); the attempts themselves are reconciled as usual. Not thread-safe: used
 * only under the cycle's lock.
 */
final class AttemptSpans {
  static final AttributeKey<String> TASK = AttributeKey.stringKey("stowage.task.id");
  static final AttributeKey<Long> ATTEMPT = AttributeKey.longKey("stowage.attempt");
  static final AttributeKey<String> NODE = AttributeKey.stringKey("stowage.node");

  /** On a link to a dependency's attempt: the dependency's task id. */
  static final AttributeKey<String> DEPENDENCY = AttributeKey.stringKey("stowage.depends_on");

  private static final TextMapGetter<TraceContext> STORED =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(TraceContext c) {
          return java.util.List.of("traceparent", "tracestate");
        }

        @Override
        public String get(TraceContext c, String key) {
          if (c == null) {
            return null;
          }
          return switch (key) {
            case "traceparent" -> c.traceparent();
            case "tracestate" -> c.tracestate();
            default -> null;
          };
        }
      };

  private final Tracer tracer;
  private final Map<AttemptId, Span> open = new HashMap<>();

  /**
   * The span of each task's successful attempt, for its dependents' links: the last {@value
   * #SUCCEEDED_KEPT} tasks, in memory (after a restart, or once pushed out, a dependent's span has
   * no link to that dependency).
   */
  private final Map<String, SpanContext> succeeded =
      new java.util.LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, SpanContext> eldest) {
          return size() > SUCCEEDED_KEPT;
        }
      };

  private static final int SUCCEEDED_KEPT = 65_536;
  // A batch's tasks share their submit's context: parse each distinct one once per cycle.
  private final Map<TraceContext, Context> parents = new HashMap<>();

  /**
   * The submit's span as the attempt's parent. It was stored as a traceparent, but it is a span of
   * this service, not a caller's: the parent is local.
   */
  private static Context localParent(TraceContext submitted) {
    SpanContext stored =
        Span.fromContext(
                W3CTraceContextPropagator.getInstance().extract(Context.root(), submitted, STORED))
            .getSpanContext();
    if (!stored.isValid()) {
      return Context.root();
    }
    return Context.root()
        .with(
            Span.wrap(
                SpanContext.create(
                    stored.getTraceId(),
                    stored.getSpanId(),
                    stored.getTraceFlags(),
                    stored.getTraceState())));
  }

  AttemptSpans(Tracer tracer) {
    this.tracer = tracer;
  }

  /**
   * Starts the span of an attempt just placed on {@code node} by the cycle {@code cycle}, and
   * returns the trace context its process gets: the attempt's, or the task's own when the span is
   * not recorded (tracing off or not sampled), or null when there is neither.
   */
  TraceContext start(
      StoredTask task,
      AttemptId attempt,
      String node,
      SpanContext cycle,
      java.time.Duration waited) {
    TraceContext submitted = task.spec().trace();
    Context parent =
        submitted == null
            ? Context.root()
            : parents.computeIfAbsent(submitted, AttemptSpans::localParent);
    // The sampler decides from the parent alone (as the standard ones do), before anything else
    // is built: an attempt not sampled costs a span context and nothing more, which is what makes
    // sampling cheap at 20,000 placements a cycle.
    Span span = tracer.spanBuilder("task_attempt").setParent(parent).startSpan();
    if (!span.isRecording()) {
      return submitted;
    }
    // How long the task waited to be placed: an attribute. A span of its own per placement
    // measured +32 % of a 20K cycle with OTLP export on, against +18 % without it.
    span.setAttribute(QUEUE_WAIT, waited.toNanos() / 1e9);
    span.setAttribute(TASK, task.id());
    span.setAttribute(ATTEMPT, (long) attempt.attempt());
    span.setAttribute(NODE, node);
    span.addLink(cycle);
    // The DAG's edges: a link to the attempt that let this one run, whichever request (and
    // trace) each task came in, so a trace viewer can walk the whole graph.
    for (String dependency : task.spec().dependsOn()) {
      SpanContext before = succeeded.get(dependency);
      if (before != null) {
        span.addLink(before, Attributes.of(DEPENDENCY, dependency));
      }
    }
    open.put(attempt, span);
    SpanContext c = span.getSpanContext();
    String state = submitted == null ? null : submitted.tracestate();
    return new TraceContext(
        "00-" + c.getTraceId() + "-" + c.getSpanId() + "-" + c.getTraceFlags().asHex(), state);
  }

  /** Forgets the contexts parsed for one cycle. */
  void endOfCycle() {
    parents.clear();
  }

  /** The attempt's span as the current context, so that work started under it nests below it. */
  Context context(AttemptId attempt) {
    Span span = open.get(attempt);
    return span == null ? Context.current() : Context.current().with(span);
  }

  /** Records a step of the attempt ({@code launched}, {@code started}, …). */
  void step(AttemptId attempt, String name) {
    Span span = open.get(attempt);
    if (span != null) {
      span.addEvent(name);
    }
  }

  /**
   * Makes the attempt's span current (or nothing, when it has none), so that a log record written
   * meanwhile carries its trace id.
   */
  io.opentelemetry.context.Scope enter(AttemptId attempt) {
    Span span = open.get(attempt);
    return span == null ? io.opentelemetry.context.Scope.noop() : span.makeCurrent();
  }

  /** Ends the attempt's span: its process exited with 0. */
  void succeeded(AttemptId attempt) {
    Span span = open.get(attempt);
    if (span != null) {
      succeeded.put(attempt.taskId(), span.getSpanContext());
    }
    end(attempt, "succeeded", null, false);
  }

  /** Ends the attempt's span as an error, saying why. */
  void failed(AttemptId attempt, String reason) {
    end(attempt, "failed", reason, true);
  }

  /**
   * As {@link #failed(AttemptId, String)}, with OpenTelemetry's {@code error.type} (the cause, as
   * the metric names it) and, when the process ended, its {@code process.exit.code}.
   */
  void failed(AttemptId attempt, String reason, String errorType, Integer exitCode) {
    Span span = open.get(attempt);
    if (span != null) {
      span.setAttribute(ERROR_TYPE, errorType);
      if (exitCode != null) {
        span.setAttribute(EXIT_CODE, (long) exitCode);
      }
    }
    failed(attempt, reason);
  }

  static final AttributeKey<Double> QUEUE_WAIT = AttributeKey.doubleKey("stowage.queue.wait_s");

  private static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");
  private static final AttributeKey<Long> EXIT_CODE = AttributeKey.longKey("process.exit.code");

  /** Ends the attempt's span without an error: the task was cancelled or sent back. */
  void cancelled(AttemptId attempt, String reason) {
    end(attempt, "cancelled", reason, false);
  }

  private void end(AttemptId attempt, String outcome, String reason, boolean error) {
    Span span = open.remove(attempt);
    if (span == null) {
      return;
    }
    span.addEvent(outcome, reason == null ? Attributes.empty() : Attributes.of(REASON, reason));
    if (error) {
      span.setStatus(StatusCode.ERROR, reason);
    }
    span.end();
  }

  private static final AttributeKey<String> REASON = AttributeKey.stringKey("stowage.reason");

  /** Ends every open span: the attempts they follow are being settled from the store again. */
  void endAll(String reason) {
    for (Span span : open.values()) {
      span.addEvent("abandoned", Attributes.of(REASON, reason));
      span.end();
    }
    open.clear();
  }

  int openCount() {
    return open.size();
  }
}
