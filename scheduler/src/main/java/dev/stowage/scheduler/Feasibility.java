package dev.stowage.scheduler;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Rejection;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Taint;
import dev.stowage.engine.Toleration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which tasks no node of the cluster could ever host, even empty: too big for every node, or
 * constrained to attributes no node has, or kept off every node that fits by taints it does not
 * tolerate. Such a task is flagged when it is submitted and left out of the queue until the
 * cluster's nodes change, as kube-scheduler parks an unschedulable pod until a cluster event might
 * help it.
 */
public final class Feasibility {
  private Feasibility() {}

  /** A node shape: what nodes of one kind offer when empty. */
  private record Shape(Resources capacity, Map<String, String> attributes, List<Taint> taints) {}

  /** A task's class: tasks with the same requests, constraints and tolerations share the answer. */
  private record Need(
      Resources requested, Map<String, String> constraints, List<Toleration> tolerations) {}

  /**
   * The cluster's nodes grouped by shape, with how many nodes have each: what a check reads.
   * Clusters have few kinds of node, so this is small; building it reads every node once, so it is
   * built once per node list ({@link ClusterNodes} keeps it with its snapshot).
   */
  public static final class NodeShapes {
    private final Map<Shape, Integer> counts;
    private final int nodes;

    private NodeShapes(Map<Shape, Integer> counts, int nodes) {
      this.counts = counts;
      this.nodes = nodes;
    }

    public static NodeShapes of(List<Offer> capacities) {
      var counts = new LinkedHashMap<Shape, Integer>();
      for (Offer o : capacities) {
        counts.merge(new Shape(o.available(), o.attributes(), o.taints()), 1, Integer::sum);
      }
      return new NodeShapes(java.util.Collections.unmodifiableMap(counts), capacities.size());
    }
  }

  /**
   * The tasks that fit no node of {@code capacities} (each node's full capacity and attributes),
   * each with one line saying why. Nothing is flagged when the cluster's nodes are unknown (empty).
   */
  public static Map<String, String> neverSchedulable(List<TaskSpec> tasks, List<Offer> capacities) {
    return neverSchedulable(tasks, NodeShapes.of(capacities));
  }

  /** As {@link #neverSchedulable(List, List)}, against nodes already grouped by shape. */
  public static Map<String, String> neverSchedulable(List<TaskSpec> tasks, NodeShapes nodes) {
    if (nodes.nodes == 0) {
      return Map.of();
    }
    var answers = new HashMap<Need, String>();
    var out = new LinkedHashMap<String, String>();
    for (TaskSpec t : tasks) {
      String reason =
          answers.computeIfAbsent(
              new Need(t.resources(), t.constraints(), t.tolerations()),
              need -> reasonNoneFits(need, nodes.counts, nodes.nodes));
      if (reason != null) {
        out.put(t.id(), reason);
      }
    }
    return out;
  }

  /** Null when some shape fits; else the count of nodes by first failing check. */
  private static String reasonNoneFits(Need need, Map<Shape, Integer> shapes, int nodes) {
    // Constraint keys in a stable order, then dimensions in contract order, as the engine counts.
    List<Map.Entry<String, String>> constraints =
        new ArrayList<>(new TreeMap<>(need.constraints()).entrySet());
    var rejected = new LinkedHashMap<String, Integer>();
    for (var e : shapes.entrySet()) {
      String miss = null;
      for (var c : constraints) {
        if (!c.getValue().equals(e.getKey().attributes().get(c.getKey()))) {
          miss = new Rejection.Constraint(c.getKey(), c.getValue()).text();
          break;
        }
      }
      if (miss == null) {
        Taint kept = Toleration.firstUntolerated(need.tolerations(), e.getKey().taints());
        miss = kept == null ? null : new Rejection.Untolerated(kept).text();
      }
      for (int d = 0; miss == null && d < 4; d++) {
        long capacity = e.getKey().capacity().get(d);
        if (need.requested().get(d) > capacity) {
          // An empty node: all of it is free.
          miss = new Rejection.Insufficient(d, need.requested().get(d), capacity, capacity).text();
        }
      }
      if (miss == null) {
        return null;
      }
      rejected.merge(miss, e.getValue(), Integer::sum);
    }
    var sb = new StringBuilder("never schedulable: 0/").append(nodes).append(" nodes fit it empty");
    String sep = ": ";
    for (var e :
        rejected.entrySet().stream()
            .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
            .toList()) {
      sb.append(sep).append(e.getValue()).append(' ').append(e.getKey());
      sep = ", ";
    }
    return sb.toString();
  }
}
