package dev.stowage.backend.kubernetes;

import dev.stowage.engine.Resources;
import dev.stowage.engine.Taint;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Nodes and pods in the matcher's units: cpu in millis, memory and ephemeral-storage in MiB, the
 * configured extended resource as gpus; and which nodes take pods at all.
 */
final class ResourceCounts {
  private final KubernetesBackend.Options options;

  ResourceCounts(KubernetesBackend.Options options) {
    this.options = options;
  }

  Resources allocatable(Node n) {
    Map<String, Quantity> a =
        n.getStatus() == null || n.getStatus().getAllocatable() == null
            ? Map.of()
            : n.getStatus().getAllocatable();
    return new Resources(
        millis(a.get("cpu")),
        mebibytes(a.get("memory")),
        mebibytes(a.get("ephemeral-storage")),
        whole(a.get(options.gpuResource())));
  }

  /** A node's labels, with the two that constraints name most under short names. */
  static Map<String, String> attributes(Node n) {
    var out = new LinkedHashMap<String, String>();
    var labels =
        n.getMetadata().getLabels() == null
            ? Map.<String, String>of()
            : n.getMetadata().getLabels();
    labels.forEach(
        (k, v) -> {
          switch (k) {
            case "topology.kubernetes.io/zone" -> out.put("zone", v);
            case "kubernetes.io/arch" -> out.put("arch", v);
            default -> out.put(k, v);
          }
        });
    return out;
  }

  static boolean ready(Node n) {
    if (n.getStatus() == null || n.getStatus().getConditions() == null) {
      return false;
    }
    return n.getStatus().getConditions().stream()
        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  static boolean cordoned(Node n) {
    return n.getSpec() != null && Boolean.TRUE.equals(n.getSpec().getUnschedulable());
  }

  /**
   * The taints that keep pods off a node ({@code NoSchedule}, {@code NoExecute}), which only tasks
   * tolerating them may use; {@code PreferNoSchedule} is a preference, not a rule.
   */
  static List<Taint> taints(Node n) {
    if (n.getSpec() == null || n.getSpec().getTaints() == null) {
      return List.of();
    }
    var out = new ArrayList<Taint>();
    for (var t : n.getSpec().getTaints()) {
      if (t.getKey() != null
          && !t.getKey().isEmpty()
          && ("NoSchedule".equals(t.getEffect()) || "NoExecute".equals(t.getEffect()))) {
        out.add(new Taint(t.getKey(), t.getValue(), t.getEffect()));
      }
    }
    return out;
  }

  /** A pod's requests as kube-scheduler counts them: its containers', or its largest init's. */
  Resources requests(Pod p) {
    long[] sum = new long[4];
    for (Container c : p.getSpec().getContainers()) {
      add(sum, requested(c));
    }
    if (p.getSpec().getInitContainers() != null) {
      for (Container c : p.getSpec().getInitContainers()) {
        Resources r = requested(c);
        for (int d = 0; d < 4; d++) {
          sum[d] = Math.max(sum[d], r.get(d));
        }
      }
    }
    return new Resources(sum[0], sum[1], sum[2], sum[3]);
  }

  private Resources requested(Container c) {
    Map<String, Quantity> r =
        c.getResources() == null || c.getResources().getRequests() == null
            ? Map.of()
            : c.getResources().getRequests();
    return new Resources(
        millis(r.get("cpu")),
        mebibytes(r.get("memory")),
        mebibytes(r.get("ephemeral-storage")),
        whole(r.get(options.gpuResource())));
  }

  static void add(long[] sum, Resources r) {
    for (int d = 0; d < 4; d++) {
      sum[d] += r.get(d);
    }
  }

  private static long millis(Quantity q) {
    return q == null ? 0 : q.getNumericalAmount().movePointRight(3).longValue();
  }

  private static long mebibytes(Quantity q) {
    return q == null
        ? 0
        : q.getNumericalAmount().divideToIntegralValue(BigDecimal.valueOf(1L << 20)).longValue();
  }

  private static long whole(Quantity q) {
    return q == null ? 0 : q.getNumericalAmount().longValue();
  }
}
