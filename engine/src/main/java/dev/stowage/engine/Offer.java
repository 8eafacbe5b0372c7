package dev.stowage.engine;

import java.util.Map;
import java.util.Objects;

/**
 * Resources offered by one node of the cluster for this cycle, with the node's attributes (for
 * example {@code zone}, {@code arch}) that task constraints select on.
 */
public record Offer(String name, String node, Resources available, Map<String, String> attributes) {
  public Offer {
    Names.require("offer name", name);
    Names.require("offer node", node);
    Objects.requireNonNull(available, "available");
    attributes = Names.copyLabels("offer attributes", attributes);
  }

  public Offer(String name, String node, Resources available) {
    this(name, node, available, Map.of());
  }
}
