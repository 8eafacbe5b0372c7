// What an attempt's span costs in the service's OpenTelemetry SDK (with its in-memory trace store):
// 20,000 attempt lifecycles (start with a parent, a link and attributes; two events; end), timed
// in a warm JVM. Variant 0 is what AttemptSpans does; 1 builds the attributes first; 2 sets only
// the task id. Run from the repository root after a build:
//
//   java -XX:+UseShenandoahGC -Xmx2g -cp app/target/stowage.jar bench/scripts/AttemptSpanCost.java
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.util.ArrayList;

public class AttemptSpanCost {
  public static void main(String[] args) {
    var telemetry = dev.stowage.app.telemetry.Telemetry.start(null, System::getenv);
    Tracer tracer = telemetry.openTelemetry().getTracer("bench");
    SpanContext cycle = tracer.spanBuilder("scheduling_cycle").startSpan().getSpanContext();
    var submit =
        Context.root()
            .with(
                Span.wrap(
                    SpanContext.createFromRemoteParent(
                        "4bf92f3577b34da6a3ce929d0e0e4736",
                        "00f067aa0ba902b7",
                        TraceFlags.getSampled(),
                        TraceState.getDefault())));
    AttributeKey<String> task = AttributeKey.stringKey("stowage.task.id");
    AttributeKey<Long> attempt = AttributeKey.longKey("stowage.attempt");
    AttributeKey<String> node = AttributeKey.stringKey("stowage.node");
    int n = 20_000;
    String[] ids = new String[n];
    String[] nodes = new String[n];
    for (int i = 0; i < n; i++) {
      ids[i] = "run3/task-" + i;
      nodes[i] = "node-" + i;
    }
    for (int round = 0; round < 20; round++) {
      for (int variant = 0; variant < 3; variant++) {
        var open = new ArrayList<Span>(n);
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
          SpanBuilder b = tracer.spanBuilder("task_attempt").setParent(submit).addLink(cycle);
          switch (variant) {
            case 0 -> b.setAttribute(task, ids[i]).setAttribute(attempt, 1L).setAttribute(node, nodes[i]);
            case 1 -> b.setAllAttributes(Attributes.of(task, ids[i], attempt, 1L, node, nodes[i]));
            default -> b.setAttribute(task, ids[i]);
          }
          open.add(b.startSpan());
        }
        long t1 = System.nanoTime();
        for (Span s : open) {
          s.addEvent("launched");
        }
        for (Span s : open) {
          s.addEvent("started");
        }
        long t2 = System.nanoTime();
        for (Span s : open) {
          s.addEvent("succeeded");
          s.end();
        }
        long t3 = System.nanoTime();
        if (round >= 16) {
          System.out.printf(
              "variant %d: start %.2f us, 2 events %.2f us, end %.2f us -> per 20K: %.1f ms%n",
              variant, (t1 - t0) / (n * 1e3), (t2 - t1) / (n * 1e3), (t3 - t2) / (n * 1e3), (t3 - t0) / 1e6);
        }
      }
    }
    telemetry.close();
  }
}
