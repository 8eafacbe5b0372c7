package dev.stowage.scheduler;

import java.time.Instant;

/** A task as the store holds it. */
public record StoredTask(
    TaskSpec spec,
    TaskState state,
    int attempt,
    String offer,
    int pendingDependencies,
    Instant notBefore,
    Instant submittedAt,
    Instant updatedAt) {

  public String id() {
    return spec.id();
  }
}
