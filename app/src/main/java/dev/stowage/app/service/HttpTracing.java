package dev.stowage.app.service;

import dev.stowage.scheduler.TraceContext;
import io.javalin.http.Context;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;

/**
 * A server span for each API request, named by its route (as OpenTelemetry's HTTP conventions name
 * them) and the child of the caller's span when the request carries a {@code traceparent}. The
 * observability endpoints themselves are left out, so that scrapes do not crowd the traces.
 */
final class HttpTracing {
  private static final AttributeKey<String> METHOD = AttributeKey.stringKey("http.request.method");
  private static final AttributeKey<String> ROUTE = AttributeKey.stringKey("http.route");
  private static final AttributeKey<String> PATH = AttributeKey.stringKey("url.path");
  private static final AttributeKey<Long> STATUS =
      AttributeKey.longKey("http.response.status_code");
  private static final String SPAN = "stowage.span";
  private static final String SCOPE = "stowage.scope";

  private static final TextMapGetter<Context> HEADERS =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Context ctx) {
          return ctx.headerMap().keySet();
        }

        @Override
        public String get(Context ctx, String key) {
          return ctx == null ? null : ctx.header(key);
        }
      };

  private static final AttributeKey<String> SCHEME = AttributeKey.stringKey("url.scheme");
  private static final AttributeKey<String> SERVER = AttributeKey.stringKey("server.address");
  private static final AttributeKey<String> CLIENT = AttributeKey.stringKey("client.address");
  private static final AttributeKey<String> USER_AGENT =
      AttributeKey.stringKey("user_agent.original");
  private static final String STARTED = "stowage.started";

  /** OpenTelemetry's advice for HTTP server durations, in seconds. */
  private static final java.util.List<Double> HTTP_BUCKETS =
      java.util.List.of(
          0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0);

  private final Tracer tracer;
  private final io.opentelemetry.api.metrics.DoubleHistogram duration;

  HttpTracing(Tracer tracer, io.opentelemetry.api.metrics.Meter meter) {
    this.tracer = tracer;
    this.duration =
        meter
            .histogramBuilder("http.server.request.duration")
            .setDescription("Duration of HTTP server requests")
            .setUnit("s")
            .setExplicitBucketBoundariesAdvice(HTTP_BUCKETS)
            .build();
  }

  /** Every matched request is timed; the ones that change something also get a span. */
  void start(Context ctx) {
    ctx.attribute(STARTED, System.nanoTime());
    if (ctx.method() == io.javalin.http.HandlerType.GET
        || ctx.method() == io.javalin.http.HandlerType.HEAD) {
      return;
    }
    // In a before-matched handler, endpoint() is the handler's own ("*"): ask for the route.
    var matched = ctx.endpoints().matchedHttpEndpoint();
    String route = matched != null ? matched.path : ctx.path();
    var parent =
        W3CTraceContextPropagator.getInstance()
            .extract(io.opentelemetry.context.Context.root(), ctx, HEADERS);
    Span span =
        tracer
            .spanBuilder(ctx.method().name() + " " + route)
            .setParent(parent)
            .setSpanKind(SpanKind.SERVER)
            .setAttribute(METHOD, ctx.method().name())
            .setAttribute(ROUTE, route)
            .setAttribute(PATH, ctx.path())
            .setAttribute(SCHEME, ctx.scheme())
            .setAttribute(SERVER, serverAddress(ctx))
            .setAttribute(CLIENT, ctx.ip())
            .setAttribute(USER_AGENT, ctx.userAgent() == null ? "" : ctx.userAgent())
            .startSpan();
    ctx.attribute(SPAN, span);
    ctx.attribute(SCOPE, span.makeCurrent());
  }

  void end(Context ctx) {
    Long started = ctx.attribute(STARTED);
    if (started != null) {
      var matched = ctx.endpoints().matchedHttpEndpoint();
      duration.record(
          (System.nanoTime() - started) / 1e9,
          io.opentelemetry.api.common.Attributes.of(
              METHOD,
              ctx.method().name(),
              ROUTE,
              matched != null ? matched.path : "",
              STATUS,
              (long) ctx.statusCode(),
              SCHEME,
              ctx.scheme()));
    }
    Span span = ctx.attribute(SPAN);
    Scope scope = ctx.attribute(SCOPE);
    if (span == null) {
      return;
    }
    int status = ctx.statusCode();
    span.setAttribute(STATUS, (long) status);
    if (status >= 500) {
      span.setStatus(StatusCode.ERROR);
    }
    if (scope != null) {
      scope.close();
    }
    span.end();
  }

  /** The Host the request named, without its port. */
  private static String serverAddress(Context ctx) {
    String host = ctx.header("Host");
    String name = host == null ? null : ApiGuard.hostName(host);
    return name == null ? "" : name;
  }

  /**
   * The trace a request's tasks join: the current request span (carrying the caller's tracestate),
   * or without one (telemetry off) the caller's own valid headers, or null.
   */
  static TraceContext currentTraceContext(Context ctx) {
    var propagator = W3CTraceContextPropagator.getInstance();
    var context =
        Span.current().getSpanContext().isValid()
            ? io.opentelemetry.context.Context.current()
            : propagator.extract(io.opentelemetry.context.Context.root(), ctx, HEADERS);
    var carrier = new java.util.HashMap<String, String>();
    propagator.inject(context, carrier, java.util.Map::put);
    String traceparent = carrier.get("traceparent");
    return traceparent == null ? null : new TraceContext(traceparent, carrier.get("tracestate"));
  }
}
