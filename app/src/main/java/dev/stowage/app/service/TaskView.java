package dev.stowage.app.service;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.stowage.engine.Toleration;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StagedOutput;
import dev.stowage.scheduler.Stager;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import java.util.List;
import java.util.Map;

/**
 * A task as the API shows it ({@code Task} in the OpenAPI document, which a test holds to this
 * record's fields). Resources use the workload files' field names; absent fields are left out.
 *
 * @param queue the queue it waits in
 * @param array which task of which array it is, for a task of an array
 * @param gang the gang it is placed with, for a task of a gang
 * @param priorityClass the priority class it was submitted with, whose value is its priority
 * @param preemptions how many of its attempts were evicted for other tasks (not counted against its
 *     retries)
 * @param preemptedBy the task its last evicted attempt made room for
 * @param offer the node its current attempt was placed on
 * @param traceId the trace its attempts' spans are in: {@code /api/traces/{traceId}}
 * @param image the container image its attempts run in, when it names one
 * @param tolerations the taints it tolerates, as it was submitted with them
 * @param staging inputs coming in, while staging
 * @param collectingOutputs outputs going out, while running after its process exited
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
record TaskView(
    String id,
    String name,
    String queue,
    dev.stowage.scheduler.ArrayMember array,
    dev.stowage.scheduler.Gang gang,
    String state,
    int attempt,
    String offer,
    List<String> command,
    int priority,
    String priorityClass,
    Integer preemptions,
    String preemptedBy,
    Integer attemptsBeforeRetry,
    long cpuMillis,
    long memoryMiB,
    long diskMiB,
    long gpus,
    Map<String, String> constraints,
    List<String> dependsOn,
    int pendingDependencies,
    String neverSchedulable,
    int maxAttempts,
    Double timeoutSeconds,
    Map<String, String> labels,
    List<StagedOutput> outputs,
    List<StagedInput> inputs,
    String lastError,
    String traceId,
    String submittedAt,
    String updatedAt,
    String notBefore,
    String image,
    List<TolerationView> tolerations,
    Stager.Progress staging,
    Stager.Progress collectingOutputs) {

  static TaskView of(StoredTask t) {
    return of(t, null, null);
  }

  static TaskView of(StoredTask t, Stager.Progress staging, Stager.Progress collectingOutputs) {
    TaskSpec s = t.spec();
    return new TaskView(
        s.id(),
        s.name(),
        s.queue(),
        s.array(),
        s.gang(),
        t.state().label(),
        t.attempt(),
        t.offer(),
        s.command(),
        s.priority(),
        s.priorityClass(),
        t.preemptions() == 0 ? null : t.preemptions(),
        t.preemptedBy(),
        t.attemptsBeforeRetry() == 0 ? null : t.attemptsBeforeRetry(),
        s.resources().cpuMillis(),
        s.resources().memoryMiB(),
        s.resources().diskMiB(),
        s.resources().gpus(),
        s.constraints(),
        s.dependsOn(),
        t.pendingDependencies(),
        t.neverSchedulable(),
        s.retry().maxAttempts(),
        s.timeout() == null ? null : s.timeout().toMillis() / 1000.0,
        s.labels(),
        s.outputs().isEmpty() ? null : s.outputs(),
        s.inputs().isEmpty() ? null : s.inputs(),
        t.lastError(),
        s.trace() == null ? null : s.trace().traceId(),
        t.submittedAt().toString(),
        t.updatedAt().toString(),
        t.notBefore() == null ? null : t.notBefore().toString(),
        s.image(),
        s.tolerations().isEmpty()
            ? null
            : s.tolerations().stream().map(TolerationView::of).toList(),
        staging,
        collectingOutputs);
  }

  /** A toleration in the submission's (and Kubernetes') words; empty parts left out. */
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  record TolerationView(String key, String operator, String value, String effect) {
    static TolerationView of(Toleration t) {
      return new TolerationView(t.key(), t.exists() ? "Exists" : "Equal", t.value(), t.effect());
    }
  }

  /** One page of a listing, and the id to pass as {@code after} for the next (null: the last). */
  record Page(List<TaskView> tasks, @JsonInclude(JsonInclude.Include.ALWAYS) String next) {}
}
