package dev.stowage.scheduler;

import java.time.Instant;

/**
 * A task as the store holds it.
 *
 * @param neverSchedulable why no node of the cluster could ever host it, or null if one could
 */
public record StoredTask(
    TaskSpec spec,
    TaskState state,
    int attempt,
    String offer,
    int pendingDependencies,
    Instant notBefore,
    Instant submittedAt,
    Instant updatedAt,
    String neverSchedulable) {

  public String id() {
    return spec.id();
  }
}
