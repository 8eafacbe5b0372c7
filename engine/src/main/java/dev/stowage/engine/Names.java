package dev.stowage.engine;

import java.util.Map;

/** Validation shared by the model records. */
final class Names {
  private Names() {}

  static String require(String what, String name) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException(what + " must be a non-blank string");
    }
    return name;
  }

  static Map<String, String> copyLabels(String what, Map<String, String> labels) {
    if (labels == null) {
      return Map.of();
    }
    for (var e : labels.entrySet()) {
      if (e.getKey() == null || e.getValue() == null) {
        throw new IllegalArgumentException(what + " must not contain null keys or values");
      }
    }
    return Map.copyOf(labels);
  }
}
