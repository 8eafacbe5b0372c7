package dev.stowage.engine;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Resources offered by one node of the cluster for this cycle, with the node's attributes (for
 * example {@code zone}, {@code arch}) that task constraints select on, and its taints, which keep
 * off every task that does not tolerate them.
 */
public record Offer(
    String name,
    String node,
    Resources available,
    Map<String, String> attributes,
    List<Taint> taints) {
  public Offer {
    Names.require("offer name", name);
    Names.require("offer node", node);
    Objects.requireNonNull(available, "available");
    attributes = Names.copyLabels("offer attributes", attributes);
    taints = taints == null ? List.of() : List.copyOf(taints);
  }

  public Offer(String name, String node, Resources available, Map<String, String> attributes) {
    this(name, node, available, attributes, List.of());
  }

  public Offer(String name, String node, Resources available) {
    this(name, node, available, Map.of());
  }
}
