package dev.stowage.scheduler;

import java.time.Instant;

/**
 * A task as the store holds it.
 *
 * @param neverSchedulable why no node of the cluster could ever host it, or null if one could
 * @param lastError what made the last failed attempt fail, when known (staging, launch, exit code)
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
    String neverSchedulable,
    String lastError) {

  public String id() {
    return spec.id();
  }

  /** Since when the task has waited to be placed: queued, or the end of its retry's backoff. */
  Instant queuedSince() {
    return notBefore != null ? notBefore : submittedAt;
  }
}
