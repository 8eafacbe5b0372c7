package dev.stowage.scheduler;

import java.time.Instant;
import java.util.List;

/**
 * What a task preempted: the offer it made room on, the tasks it evicted there, and when; {@link
 * #describe} says it for people.
 */
public record Preempted(String offer, List<String> victims, Instant at) {
  public Preempted {
    victims = List.copyOf(victims);
  }

  /** For people: {@code preempted low-3, low-2 on node-1 at ..., to be placed there ...}. */
  public String describe() {
    return "preempted "
        + String.join(", ", victims)
        + " on "
        + offer
        + " at "
        + at
        + ", to be placed there once they have stopped";
  }
}
