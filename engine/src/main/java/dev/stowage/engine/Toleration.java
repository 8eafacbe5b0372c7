package dev.stowage.engine;

import java.util.List;

/**
 * A task's consent to run on offers carrying matching {@link Taint}s, with Kubernetes' rules: an
 * {@code Equal} toleration matches a taint of the same key and value, an {@code Exists} one any
 * value of its key, or every taint when its key is empty; an empty effect matches every effect.
 *
 * @param key the taint key it matches; empty only with {@code exists}, for all keys
 * @param exists true for operator {@code Exists}, false for {@code Equal}
 * @param value the value an {@code Equal} toleration matches; empty with {@code exists}
 * @param effect the effect it matches; empty for every effect
 */
public record Toleration(String key, boolean exists, String value, String effect) {
  public Toleration {
    key = key == null ? "" : key;
    value = value == null ? "" : value;
    effect = effect == null ? "" : effect;
    if (key.isEmpty() && !exists) {
      throw new IllegalArgumentException("a toleration with no key must use operator Exists");
    }
    if (exists && !value.isEmpty()) {
      throw new IllegalArgumentException("a toleration with operator Exists takes no value");
    }
  }

  /** Whether this toleration lets a task onto an offer carrying {@code taint}. */
  public boolean tolerates(Taint taint) {
    if (!effect.isEmpty() && !effect.equals(taint.effect())) {
      return false;
    }
    if (key.isEmpty()) {
      return true;
    }
    return key.equals(taint.key()) && (exists || value.equals(taint.value()));
  }

  /** The first of {@code taints} that none of {@code tolerations} tolerates, or null. */
  public static Taint firstUntolerated(List<Toleration> tolerations, List<Taint> taints) {
    for (Taint t : taints) {
      boolean tolerated = false;
      for (int i = 0; i < tolerations.size() && !tolerated; i++) {
        tolerated = tolerations.get(i).tolerates(t);
      }
      if (!tolerated) {
        return t;
      }
    }
    return null;
  }

  /** As a person reads it: {@code key=value:effect}, {@code key exists}, {@code everything}. */
  @Override
  public String toString() {
    String what = key.isEmpty() ? "every taint" : exists ? key + " (any value)" : key + "=" + value;
    return what + (effect.isEmpty() ? "" : ":" + effect);
  }
}
