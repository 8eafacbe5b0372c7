package dev.stowage.scheduler;

import dev.stowage.engine.Assignment;
import io.opentelemetry.api.trace.SpanContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The payloads stage: every placement recorded in one write (each task's attempt counted), then
 * each placed task's launch built with its trace context as TRACEPARENT, and handed to staging when
 * it declares inputs. Tasks cancelled since they were taken are left out by the parts.store().
 */
final class PreparePayloads {
  private final CycleParts parts;
  private final StagingHandOff handOff;

  PreparePayloads(CycleParts parts, StagingHandOff handOff) {
    this.parts = parts;
    this.handOff = handOff;
  }

  /** The launches that can go now: the placed tasks less those whose inputs are being staged. */
  List<Launch> prepare(List<StoredTask> tasks, List<Assignment> assignments, SpanContext cycle) {
    if (assignments.isEmpty()) {
      // Nothing placed: no write, and no crash point reached by a cycle that had nothing to do.
      return List.of();
    }
    var byId = HashMap.<String, StoredTask>newHashMap(tasks.size());
    for (StoredTask t : tasks) {
      byId.put(t.id(), t);
    }
    var offerByTask = LinkedHashMap.<String, String>newLinkedHashMap(assignments.size());
    for (Assignment a : assignments) {
      offerByTask.put(a.task(), a.offer());
    }
    Instant now = parts.clock().instant();
    parts.crashPoints().reach(CrashPoints.Point.BEFORE_PLACEMENT);
    Map<String, Integer> attempts = parts.store().assignAll(offerByTask, now);
    parts.crashPoints().reach(CrashPoints.Point.AFTER_PLACEMENT);
    var out = new ArrayList<Launch>(attempts.size());
    for (Assignment a : assignments) {
      Integer attempt = attempts.get(a.task());
      if (attempt == null) {
        continue;
      }
      StoredTask t = byId.get(a.task());
      var id = new AttemptId(t.id(), attempt);
      Duration waited = Duration.between(t.queuedSince(), now);
      if (waited.isNegative()) {
        waited = Duration.ZERO;
      }
      TraceContext trace = parts.spans().start(t, id, a.offer(), cycle, waited);
      parts.metrics().queued(waited, parts.spans().context(id));
      TaskSpec spec = t.spec();
      out.add(
          new Launch(
              id,
              a.offer(),
              spec.command(),
              withTrace(spec.env(), trace),
              spec.resources(),
              spec.timeout(),
              spec.inputs(),
              spec.outputs(),
              spec.image(),
              spec.tolerations()));
    }
    return handOff.stageOrPass(out, now);
  }

  /**
   * The task's environment with the OpenTelemetry environment-variable carrier, so that the
   * process's spans join the attempt: built once, as the immutable map the launch keeps.
   */
  static Map<String, String> withTrace(Map<String, String> env, TraceContext trace) {
    if (trace == null) {
      return env;
    }
    boolean state = trace.tracestate() != null;
    var entries = new ArrayList<Map.Entry<String, String>>(env.size() + 2);
    for (var e : env.entrySet()) {
      if (!e.getKey().equals("TRACEPARENT") && !(state && e.getKey().equals("TRACESTATE"))) {
        entries.add(e);
      }
    }
    entries.add(Map.entry("TRACEPARENT", trace.traceparent()));
    if (state) {
      entries.add(Map.entry("TRACESTATE", trace.tracestate()));
    }
    @SuppressWarnings("unchecked")
    Map.Entry<String, String>[] array = entries.toArray(Map.Entry[]::new);
    return Map.ofEntries(array);
  }
}
