package dev.stowage.engine;

/**
 * A mark on an offer that keeps every task off it except those that tolerate it, as a Kubernetes
 * node's {@code NoSchedule} or {@code NoExecute} taint does.
 *
 * @param key what the taint is about: {@code nvidia.com/gpu}, {@code dedicated}
 * @param value its value; empty when it has none
 * @param effect what it does to tasks that do not tolerate it: {@code NoSchedule}, {@code
 *     NoExecute}
 */
public record Taint(String key, String value, String effect) {
  public Taint {
    Names.require("taint key", key);
    value = value == null ? "" : value;
    Names.require("taint effect", effect);
  }

  /** As {@code kubectl taint} writes it: {@code key=value:effect}, or {@code key:effect}. */
  @Override
  public String toString() {
    return key + (value.isEmpty() ? "" : "=" + value) + ":" + effect;
  }
}
