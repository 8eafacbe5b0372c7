package dev.stowage.scheduler;

import dev.stowage.engine.Offer;
import java.util.Objects;

/**
 * A change to the cluster's nodes, as a backend reports it: each node arrives once as {@link Added}
 * (also every node a backend knows when it starts), then {@link Changed} when its capacity or
 * attributes change, and {@link Removed} when it leaves. A node's capacity is what it offers when
 * empty, as an offer named after the node.
 */
public sealed interface NodeEvent {
  /** The node's name, as offers and placements name it. */
  String node();

  record Added(Offer capacity) implements NodeEvent {
    public Added {
      Objects.requireNonNull(capacity, "capacity");
    }

    @Override
    public String node() {
      return capacity.name();
    }
  }

  record Changed(Offer capacity) implements NodeEvent {
    public Changed {
      Objects.requireNonNull(capacity, "capacity");
    }

    @Override
    public String node() {
      return capacity.name();
    }
  }

  /**
   * The node is gone (deleted, or unreachable for good): attempts placed on it are lost.
   *
   * @param why for people, as the lost attempts' reason
   */
  record Removed(String node, String why) implements NodeEvent {
    public Removed {
      Objects.requireNonNull(node, "node");
      Objects.requireNonNull(why, "why");
    }
  }
}
