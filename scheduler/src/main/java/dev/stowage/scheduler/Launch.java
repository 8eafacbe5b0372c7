package dev.stowage.scheduler;

import dev.stowage.engine.Resources;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What a backend needs to start one attempt: where (the offer the matcher chose), what (program,
 * environment, including TRACEPARENT when there is one), how much, and for how long at most (null:
 * no limit).
 */
public record Launch(
    AttemptId attempt,
    String offer,
    List<String> command,
    Map<String, String> env,
    Resources resources,
    Duration timeout) {
  public Launch {
    command = List.copyOf(command);
    env = Map.copyOf(env);
  }
}
