package dev.stowage.scheduler;

import dev.stowage.engine.Resources;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A task as a client submits it.
 *
 * @param id unique across the store, chosen by the client (like an Airflow task id), so that a
 *     batch can name its own dependencies; letters, digits and {@code . _ - /}
 * @param name a label for people; defaults to the id
 * @param command the program and its arguments, run without a shell
 * @param dependsOn ids of tasks, in this batch or already stored, that must succeed first
 * @param timeout how long one attempt may run; null for no limit
 * @param trace the trace the task was submitted in (the submit's span), or null
 * @param inputs what to copy into the work directory before each attempt starts
 * @param outputs what to copy out of it after the process exits with 0, before success
 */
public record TaskSpec(
    String id,
    String name,
    List<String> command,
    Map<String, String> env,
    Resources resources,
    Map<String, String> constraints,
    int priority,
    List<String> dependsOn,
    RetryPolicy retry,
    Duration timeout,
    Map<String, String> labels,
    TraceContext trace,
    List<StagedInput> inputs,
    List<StagedOutput> outputs) {

  public TaskSpec {
    Objects.requireNonNull(id, "id");
    name = name == null || name.isBlank() ? id : name;
    command = List.copyOf(Objects.requireNonNull(command, "command"));
    env = env == null ? Map.of() : Map.copyOf(env);
    resources = resources == null ? Resources.NONE : resources;
    constraints = constraints == null ? Map.of() : Map.copyOf(constraints);
    dependsOn = dependsOn == null ? List.of() : List.copyOf(dependsOn);
    retry = retry == null ? RetryPolicy.NONE : retry;
    labels = labels == null ? Map.of() : Map.copyOf(labels);
    inputs = inputs == null ? List.of() : List.copyOf(inputs);
    outputs = outputs == null ? List.of() : List.copyOf(outputs);
  }

  /** A task without outputs to collect. */
  public TaskSpec(
      String id,
      String name,
      List<String> command,
      Map<String, String> env,
      Resources resources,
      Map<String, String> constraints,
      int priority,
      List<String> dependsOn,
      RetryPolicy retry,
      Duration timeout,
      Map<String, String> labels,
      TraceContext trace,
      List<StagedInput> inputs) {
    this(
        id,
        name,
        command,
        env,
        resources,
        constraints,
        priority,
        dependsOn,
        retry,
        timeout,
        labels,
        trace,
        inputs,
        List.of());
  }

  /** A task without inputs to stage. */
  public TaskSpec(
      String id,
      String name,
      List<String> command,
      Map<String, String> env,
      Resources resources,
      Map<String, String> constraints,
      int priority,
      List<String> dependsOn,
      RetryPolicy retry,
      Duration timeout,
      Map<String, String> labels,
      TraceContext trace) {
    this(
        id,
        name,
        command,
        env,
        resources,
        constraints,
        priority,
        dependsOn,
        retry,
        timeout,
        labels,
        trace,
        List.of());
  }

  /** A task with just an id and a command; everything else takes its default. */
  public static TaskSpec of(String id, String... command) {
    return new TaskSpec(
        id, null, List.of(command), null, null, null, 0, null, null, null, null, null);
  }

  public TaskSpec withDependsOn(String... ids) {
    return new TaskSpec(
        id,
        name,
        command,
        env,
        resources,
        constraints,
        priority,
        List.of(ids),
        retry,
        timeout,
        labels,
        trace,
        inputs,
        outputs);
  }

  public TaskSpec withPriority(int p) {
    return new TaskSpec(
        id,
        name,
        command,
        env,
        resources,
        constraints,
        p,
        dependsOn,
        retry,
        timeout,
        labels,
        trace,
        inputs,
        outputs);
  }

  public TaskSpec withResources(Resources r) {
    return new TaskSpec(
        id,
        name,
        command,
        env,
        r,
        constraints,
        priority,
        dependsOn,
        retry,
        timeout,
        labels,
        trace,
        inputs,
        outputs);
  }

  public TaskSpec withConstraints(Map<String, String> c) {
    return new TaskSpec(
        id, name, command, env, resources, c, priority, dependsOn, retry, timeout, labels, trace,
        inputs, outputs);
  }

  public TaskSpec withRetry(RetryPolicy r) {
    return new TaskSpec(
        id,
        name,
        command,
        env,
        resources,
        constraints,
        priority,
        dependsOn,
        r,
        timeout,
        labels,
        trace,
        inputs,
        outputs);
  }

  public TaskSpec withInputs(List<StagedInput> i) {
    return new TaskSpec(
        id,
        name,
        command,
        env,
        resources,
        constraints,
        priority,
        dependsOn,
        retry,
        timeout,
        labels,
        trace,
        i,
        outputs);
  }

  public TaskSpec withEnv(Map<String, String> e) {
    return new TaskSpec(
        id,
        name,
        command,
        e,
        resources,
        constraints,
        priority,
        dependsOn,
        retry,
        timeout,
        labels,
        trace,
        inputs,
        outputs);
  }

  public TaskSpec withTrace(TraceContext t) {
    return new TaskSpec(
        id,
        name,
        command,
        env,
        resources,
        constraints,
        priority,
        dependsOn,
        retry,
        timeout,
        labels,
        t,
        inputs,
        outputs);
  }

  public TaskSpec withOutputs(List<StagedOutput> o) {
    return new TaskSpec(
        id,
        name,
        command,
        env,
        resources,
        constraints,
        priority,
        dependsOn,
        retry,
        timeout,
        labels,
        trace,
        inputs,
        o);
  }
}
