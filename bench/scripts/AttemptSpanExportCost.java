// CPU time of 20,000 attempt spans through the service's SDK, on the calling thread and on all
// threads together (the exporter's included), each span with the attributes, link and EVENTS
// events an attempt has. Run from the repository root after a build, with an OTLP receiver:
//
//   bench/scripts/otlp-sink.py &
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 java -XX:+UseShenandoahGC -Xmx2g \
//     -cp app/target/stowage.jar bench/scripts/AttemptSpanExportCost.java 4
//
// (OTEL_TRACES_EXPORTER=none as well keeps the spans in memory only, for the cost without export.)
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.*;
import io.opentelemetry.context.Context;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;

public class AttemptSpanExportCost {
  public static void main(String[] args) throws Exception {
    int events = Integer.parseInt(args[0]);
    var telemetry = dev.stowage.app.telemetry.Telemetry.start(null, System::getenv);
    Tracer tracer = telemetry.openTelemetry().getTracer("bench");
    SpanContext cycle = tracer.spanBuilder("scheduling_cycle").startSpan().getSpanContext();
    var submit = Context.root().with(Span.wrap(SpanContext.createFromRemoteParent(
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", TraceFlags.getSampled(), TraceState.getDefault())));
    var task = AttributeKey.stringKey("stowage.task.id");
    var attempt = AttributeKey.longKey("stowage.attempt");
    var node = AttributeKey.stringKey("stowage.node");
    var wait = AttributeKey.doubleKey("stowage.queue.wait_s");
    int n = 20_000;
    var bean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    String[] names = {"launched", "started", "exited", "succeeded"};
    for (int round = 0; round < 12; round++) {
      long cpu0 = totalCpu(bean);
      long t0 = System.nanoTime();
      var open = new ArrayList<Span>(n);
      for (int i = 0; i < n; i++) {
        open.add(tracer.spanBuilder("task_attempt").setParent(submit).addLink(cycle)
            .setAttribute(wait, 0.5).setAttribute(task, "run3/task-" + i).setAttribute(attempt, 1L)
            .setAttribute(node, "node-" + i).startSpan());
      }
      for (Span s : open) { for (int e = 0; e < events; e++) s.addEvent(names[e]); s.end(); }
      long main = System.nanoTime() - t0;
      ((io.opentelemetry.sdk.OpenTelemetrySdk) telemetry.openTelemetry()).getSdkTracerProvider().forceFlush().join(60, java.util.concurrent.TimeUnit.SECONDS);
      long cpu = totalCpu(bean) - cpu0;
      if (round >= 6) System.out.printf("events=%d: caller %.1f ms, all threads' CPU %.1f ms per 20K%n", events, main / 1e6, cpu / 1e6);
    }
    telemetry.close();
  }
  static long totalCpu(com.sun.management.ThreadMXBean b) {
    long sum = 0; for (long id : b.getAllThreadIds()) { long c = b.getThreadCpuTime(id); if (c > 0) sum += c; } return sum;
  }
}
