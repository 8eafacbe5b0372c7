package dev.stowage.engine;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A task to place: the resources it requests, the attribute values ({@code constraints}) that an
 * offer must carry to host it, and the taints it tolerates on an offer.
 */
public record Task(
    String name,
    Resources requested,
    Map<String, String> constraints,
    List<Toleration> tolerations) {
  public Task {
    Names.require("task name", name);
    Objects.requireNonNull(requested, "requested");
    constraints = Names.copyLabels("task constraints", constraints);
    tolerations = tolerations == null ? List.of() : List.copyOf(tolerations);
  }

  public Task(String name, Resources requested, Map<String, String> constraints) {
    this(name, requested, constraints, List.of());
  }

  public Task(String name, Resources requested) {
    this(name, requested, Map.of());
  }
}
