package dev.stowage.scheduler;

import dev.stowage.engine.Resources;
import dev.stowage.engine.Toleration;
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
 * @param owner the name of the token that submitted it (set by the service), or null
 * @param image the container image its attempts run in, on a backend that runs images; null for the
 *     backend's default
 * @param tolerations the taints of nodes it may run on anyway (Kubernetes' rules)
 * @param queue the queue it waits in, which shares the cluster with the others by weight; {@value
 *     #DEFAULT_QUEUE} when null
 * @param array which task of an array it is, or null for a task submitted on its own
 * @param gang the gang it is placed with, all members in one cycle or none, or null
 * @param priorityClass the priority class it was submitted with (its priority is the class's value
 *     then), whose policy says whether it may preempt and be preempted; null for none
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
    List<StagedOutput> outputs,
    String owner,
    String image,
    List<Toleration> tolerations,
    String queue,
    ArrayMember array,
    Gang gang,
    String priorityClass) {

  /** The queue of a task that names none. */
  public static final String DEFAULT_QUEUE = "default";

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
    tolerations = tolerations == null ? List.of() : List.copyOf(tolerations);
    queue = queue == null ? DEFAULT_QUEUE : queue;
  }

  /** A task with just an id and a command; everything else takes its default. */
  public static TaskSpec of(String id, String... command) {
    return new TaskSpec(
        id,
        null,
        List.of(command),
        null,
        null,
        null,
        0,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null);
  }

  public TaskSpec withDependsOn(String... ids) {
    return change(b -> b.dependsOn = List.of(ids));
  }

  public TaskSpec withPriority(int p) {
    return change(b -> b.priority = p);
  }

  public TaskSpec withResources(Resources r) {
    return change(b -> b.resources = r);
  }

  public TaskSpec withConstraints(Map<String, String> c) {
    return change(b -> b.constraints = c);
  }

  public TaskSpec withRetry(RetryPolicy r) {
    return change(b -> b.retry = r);
  }

  public TaskSpec withTimeout(Duration t) {
    return change(b -> b.timeout = t);
  }

  public TaskSpec withInputs(List<StagedInput> i) {
    return change(b -> b.inputs = i);
  }

  public TaskSpec withOutputs(List<StagedOutput> o) {
    return change(b -> b.outputs = o);
  }

  public TaskSpec withEnv(Map<String, String> e) {
    return change(b -> b.env = e);
  }

  public TaskSpec withTrace(TraceContext t) {
    return change(b -> b.trace = t);
  }

  public TaskSpec withOwner(String o) {
    return change(b -> b.owner = o);
  }

  public TaskSpec withImage(String i) {
    return change(b -> b.image = i);
  }

  public TaskSpec withTolerations(List<Toleration> t) {
    return change(b -> b.tolerations = t);
  }

  public TaskSpec withLabels(Map<String, String> l) {
    return change(b -> b.labels = l);
  }

  public TaskSpec withQueue(String q) {
    return change(b -> b.queue = q);
  }

  public TaskSpec withArray(ArrayMember a) {
    return change(b -> b.array = a);
  }

  public TaskSpec withGang(Gang g) {
    return change(b -> b.gang = g);
  }

  public TaskSpec withPriorityClass(String c) {
    return change(b -> b.priorityClass = c);
  }

  public TaskSpec withId(String i) {
    return change(b -> b.id = i);
  }

  /** A copy with one thing changed: every wither goes through here. */
  private TaskSpec change(java.util.function.Consumer<Fields> edit) {
    var f = new Fields(this);
    edit.accept(f);
    return f.build();
  }

  /** The components, mutable, for one change. */
  private static final class Fields {
    String id;
    String name;
    List<String> command;
    Map<String, String> env;
    Resources resources;
    Map<String, String> constraints;
    int priority;
    List<String> dependsOn;
    RetryPolicy retry;
    Duration timeout;
    Map<String, String> labels;
    TraceContext trace;
    List<StagedInput> inputs;
    List<StagedOutput> outputs;
    String owner;
    String image;
    List<Toleration> tolerations;
    String queue;
    ArrayMember array;
    Gang gang;
    String priorityClass;

    Fields(TaskSpec t) {
      id = t.id;
      name = t.name;
      command = t.command;
      env = t.env;
      resources = t.resources;
      constraints = t.constraints;
      priority = t.priority;
      dependsOn = t.dependsOn;
      retry = t.retry;
      timeout = t.timeout;
      labels = t.labels;
      trace = t.trace;
      inputs = t.inputs;
      outputs = t.outputs;
      owner = t.owner;
      image = t.image;
      tolerations = t.tolerations;
      queue = t.queue;
      array = t.array;
      gang = t.gang;
      priorityClass = t.priorityClass;
    }

    TaskSpec build() {
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
          outputs,
          owner,
          image,
          tolerations,
          queue,
          array,
          gang,
          priorityClass);
    }
  }
}
