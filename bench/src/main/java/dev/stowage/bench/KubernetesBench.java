package dev.stowage.bench;

import dev.stowage.backend.kubernetes.FakeKubelet;
import dev.stowage.backend.kubernetes.KubernetesBackend;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.TaskSpec;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;

/**
 * How fast the Kubernetes backend creates a cycle's pods: N fake nodes on fabric8's CRUD API server
 * mock (real HTTP and watches, in this JVM), P queued tasks, one cycle with the in-memory store,
 * then the time until the pod informer has seen every pod. Prints the cycle's phases and {@code
 * pods_per_s=} for creation (each pod is created already bound to its node). Run after a build:
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.stowage.bench.KubernetesBench [nodes] [pods] [in-flight] [qps]
 * </pre>
 */
public final class KubernetesBench {
  public static void main(String[] args) throws Exception {
    int nodes = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int pods = args.length > 1 ? Integer.parseInt(args[1]) : 20_000;
    int inFlight = args.length > 2 ? Integer.parseInt(args[2]) : 16;
    double qps =
        args.length > 3 ? Double.parseDouble(args[3]) : KubernetesBackend.DEFAULT_WRITES_PER_SECOND;
    // The mock server logs every request it answers: that would be most of what is timed.
    java.util.logging.Logger.getLogger("io.fabric8.mockwebserver")
        .setLevel(java.util.logging.Level.WARNING);
    var server =
        new KubernetesMockServer(
            new Context(),
            new MockWebServer(),
            new HashMap<>(),
            new KubernetesCrudDispatcher(),
            false);
    server.init();
    try (var client = server.createClient()) {
      for (int i = 0; i < nodes; i++) {
        FakeKubelet.node(client, "node-" + i, "64", "256Gi", java.util.Map.of());
      }
      var clock = Clock.systemUTC();
      var store = new InMemoryTaskStore();
      var tasks = new ArrayList<TaskSpec>(pods);
      for (int i = 0; i < pods; i++) {
        tasks.add(TaskSpec.of("bench/t" + i, "true").withResources(new Resources(100, 64, 0, 0)));
      }
      store.submit(tasks, clock.instant());
      try (var backend =
          new KubernetesBackend(
              client,
              new KubernetesBackend.Options(
                  "bench", "bench", null, "busybox:1.36", null, Duration.ZERO, null),
              clock,
              inFlight,
              qps)) {
        var cycle =
            new SchedulingCycle(
                store,
                backend,
                Matcher.fast(),
                MatchMode.PACK,
                pods,
                clock,
                io.opentelemetry.api.OpenTelemetry.noop().getTracer("bench"));
        cycle.reconcile(); // takes the nodes' events
        long t0 = System.nanoTime();
        SchedulingCycle.Report report = cycle.runOnce();
        double cycleMs = (System.nanoTime() - t0) / 1e6;
        while (backend.knownAttempts().size() < report.launched()) {
          Thread.sleep(10);
        }
        double allMs = (System.nanoTime() - t0) / 1e6;
        System.out.printf(
            "nodes=%d pods=%d in_flight=%d qps=%.0f launched=%d%n",
            nodes, pods, inFlight, qps, report.launched());
        report
            .phases()
            .forEach((k, v) -> System.out.printf("  %-34s %9.1f ms%n", k, v.toNanos() / 1e6));
        System.out.printf("  %-34s %9.1f ms%n", "whole cycle", cycleMs);
        System.out.printf("  %-34s %9.1f ms%n", "until every pod is seen", allMs);
        System.out.printf("pods_per_s=%.0f%n", report.launched() / (allMs / 1000));
      }
    } finally {
      server.destroy();
    }
  }
}
