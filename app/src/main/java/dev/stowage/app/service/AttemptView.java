package dev.stowage.app.service;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.stowage.scheduler.AttemptRecord;
import java.time.Instant;
import java.util.List;

/**
 * One attempt of a task as the API shows it ({@code Attempt} in the OpenAPI document): the node it
 * was placed on, the time of each step it reached, and how it ended; a step not reached is left
 * out, and so are ended and outcome while it runs.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
record AttemptView(
    int attempt,
    String node,
    String placedAt,
    String stagedAt,
    String launchedAt,
    String startedAt,
    String endedAt,
    String outcome,
    String error) {

  /** A task's attempts, in order. */
  record Attempts(String id, List<AttemptView> attempts) {}

  static AttemptView of(AttemptRecord a) {
    return new AttemptView(
        a.attempt(),
        a.node(),
        text(a.placed()),
        text(a.staged()),
        text(a.launched()),
        text(a.started()),
        text(a.ended()),
        a.outcome() == null ? null : a.outcome().label(),
        a.error());
  }

  private static String text(Instant at) {
    return at == null ? null : at.toString();
  }
}
