package dev.stowage.engine;

import java.util.Map;
import java.util.Objects;

/**
 * A task to place: the resources it requests and the attribute values ({@code constraints}) that an
 * offer must carry to host it.
 */
public record Task(String name, Resources requested, Map<String, String> constraints) {
  public Task {
    Names.require("task name", name);
    Objects.requireNonNull(requested, "requested");
    constraints = Names.copyLabels("task constraints", constraints);
  }

  public Task(String name, Resources requested) {
    this(name, requested, Map.of());
  }
}
