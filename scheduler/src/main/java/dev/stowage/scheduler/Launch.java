package dev.stowage.scheduler;

import dev.stowage.engine.Resources;
import dev.stowage.engine.Toleration;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What a backend needs to start one attempt: where (the offer the matcher chose), what (program,
 * environment, including TRACEPARENT when there is one), how much, for how long at most (null: no
 * limit), and the data the task declares. A backend that {@linkplain ClusterBackend#stagesOnNode()
 * stages on the node} copies {@code inputs} in before the program starts and {@code outputs} out
 * after it exits with 0, reporting the exit only then; for the others the scheduler's stager has
 * done (and will do) that, and the lists are only for reading. {@code image} is the task's
 * container image, or null for the backend's default; a backend that runs no images refuses a
 * launch that names one. {@code tolerations} are the taints the task accepts on its node, for a
 * backend whose nodes keep them (the matcher has already honoured them).
 */
public record Launch(
    AttemptId attempt,
    String offer,
    List<String> command,
    Map<String, String> env,
    Resources resources,
    Duration timeout,
    List<StagedInput> inputs,
    List<StagedOutput> outputs,
    String image,
    List<Toleration> tolerations) {
  public Launch {
    command = List.copyOf(command);
    env = Map.copyOf(env);
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
    tolerations = tolerations == null ? List.of() : List.copyOf(tolerations);
  }

  /** An attempt that tolerates no taints. */
  public Launch(
      AttemptId attempt,
      String offer,
      List<String> command,
      Map<String, String> env,
      Resources resources,
      Duration timeout,
      List<StagedInput> inputs,
      List<StagedOutput> outputs,
      String image) {
    this(attempt, offer, command, env, resources, timeout, inputs, outputs, image, List.of());
  }

  /** An attempt that declares no data. */
  public Launch(
      AttemptId attempt,
      String offer,
      List<String> command,
      Map<String, String> env,
      Resources resources,
      Duration timeout) {
    this(attempt, offer, command, env, resources, timeout, List.of(), List.of(), null, List.of());
  }
}
