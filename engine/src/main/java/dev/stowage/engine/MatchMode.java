package dev.stowage.engine;

import java.util.Locale;

/** How an offer is used once a task is placed on it. */
public enum MatchMode {
  /** An offer takes at most one task and is then gone. */
  CONSUME,
  /** The task's requests are subtracted; the offer stays and may take further tasks. */
  PACK;

  /** Parses {@code consume} or {@code pack}, case-insensitively. */
  public static MatchMode parse(String text) {
    for (MatchMode m : values()) {
      if (m.name().equalsIgnoreCase(text)) {
        return m;
      }
    }
    throw new IllegalArgumentException("unknown mode '" + text + "': expected consume or pack");
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
