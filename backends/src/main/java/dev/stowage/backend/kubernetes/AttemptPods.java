package dev.stowage.backend.kubernetes;

import dev.stowage.engine.Resources;
import dev.stowage.engine.Toleration;
import dev.stowage.scheduler.Launch;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An attempt's pod as Stowage creates it: one container running the task, requests equal to limits,
 * already bound to the node the matcher chose, labelled for finding it again, and, when the task
 * moves data, the volume and the stager containers that move it inside the pod (see
 * docs/design/kubernetes.md).
 */
final class AttemptPods {
  private final KubernetesBackend.Options options;
  private final io.fabric8.kubernetes.client.utils.KubernetesSerialization serialization;

  AttemptPods(
      KubernetesBackend.Options options,
      io.fabric8.kubernetes.client.utils.KubernetesSerialization serialization) {
    this.options = options;
    this.serialization = serialization;
  }

  /** The task's container in an attempt's pod. */
  static final String CONTAINER = "task";

  /** The init container that stages an attempt's inputs into its work volume. */
  static final String STAGE_IN = "stage-in";

  /** The container that copies an attempt's outputs out once the task has exited with 0. */
  static final String STAGE_OUT = "stage-out";

  /** Where the task runs, in every container of a pod that moves data: an emptyDir. */
  static final String WORK = "/stowage/work";

  /** Where the task's exit code is left for the stage-out container: an emptyDir of its own. */
  static final String STATE = "/stowage/state";

  private static final List<String> STAGER =
      List.of("java", "-XX:MaxRAMPercentage=75", "-jar", "/opt/stowage/stowage.jar");

  // Runs the task's command, then leaves its exit code where the stage-out container waits.
  private static final String RECORD_EXIT =
      "\"$@\"; code=$?; echo \"$code\" > " + STATE + "/exit-code; exit \"$code\"";

  static boolean movesData(Launch launch) {
    return !launch.inputs().isEmpty() || !launch.outputs().isEmpty();
  }

  /** The pod of an attempt: its container, requests equal to limits, placed on its node. */
  Pod pod(String name, Launch launch) {
    var env = new ArrayList<EnvVar>();
    new java.util.TreeMap<>(launch.env()).forEach((k, v) -> env.add(new EnvVar(k, v, null)));
    Map<String, Quantity> resources = quantities(launch.resources());
    var builder =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(options.namespace())
            .addToLabels(KubernetesBackend.INSTANCE, options.instance())
            .addToLabels(KubernetesBackend.TASK, PodNames.hash(launch.attempt().taskId()))
            .addToLabels(KubernetesBackend.ATTEMPT, Integer.toString(launch.attempt().attempt()))
            .addToAnnotations(KubernetesBackend.TASK_ID, launch.attempt().taskId())
            .endMetadata()
            .withNewSpec()
            .withSchedulerName(options.schedulerName())
            .withNodeName(launch.offer())
            .withRestartPolicy("Never")
            .withAutomountServiceAccountToken(false)
            .withEnableServiceLinks(false)
            .addNewContainer()
            .withName(CONTAINER)
            .withImage(launch.image() != null ? launch.image() : options.image())
            .withCommand(launch.command())
            .withEnv(env)
            .withNewResources()
            .withRequests(resources)
            .withLimits(resources)
            .endResources()
            .endContainer();
    for (Toleration t : launch.tolerations()) {
      // As submitted, so that the kubelet and the taint manager agree with the matcher.
      builder
          .addNewToleration()
          .withKey(t.key().isEmpty() ? null : t.key())
          .withOperator(t.exists() ? "Exists" : "Equal")
          .withValue(t.exists() ? null : t.value())
          .withEffect(t.effect().isEmpty() ? null : t.effect())
          .endToleration();
    }
    if (launch.timeout() != null) {
      builder.withActiveDeadlineSeconds(Math.max(1, launch.timeout().toSeconds()));
    }
    Pod pod = builder.endSpec().build();
    if (movesData(launch)) {
      withStaging(pod, launch, resources);
    }
    return pod;
  }

  /**
   * Adds the pod's data movement: a work volume the task runs in, an init container staging the
   * inputs into it, and a container that waits for the task's exit code and, after a 0, copies the
   * outputs out. Only those two containers get the S3 Secret; the task gets none of it.
   */
  private void withStaging(Pod pod, Launch launch, Map<String, Quantity> resources) {
    KubernetesBackend.PodStaging staging = options.staging();
    var spec = pod.getSpec();
    var work = new io.fabric8.kubernetes.api.model.VolumeMount();
    work.setName("work");
    work.setMountPath(WORK);
    spec.getVolumes().add(emptyDir("work"));
    var secret =
        staging.s3Secret() == null
            ? List.<io.fabric8.kubernetes.api.model.EnvFromSource>of()
            : List.of(
                new io.fabric8.kubernetes.api.model.EnvFromSourceBuilder()
                    .withNewSecretRef()
                    .withName(staging.s3Secret())
                    .endSecretRef()
                    .build());
    Container task = spec.getContainers().getFirst();
    task.setWorkingDir(WORK);
    task.getVolumeMounts().add(work);
    if (!launch.inputs().isEmpty()) {
      spec.getInitContainers()
          .add(
              new io.fabric8.kubernetes.api.model.ContainerBuilder()
                  .withName(STAGE_IN)
                  .withImage(staging.stagerImage())
                  .withCommand(concat(STAGER, List.of("stage-in", "--work", WORK)))
                  .addToEnv(new EnvVar("STOWAGE_INPUTS", json(launch.inputs()), null))
                  .addToEnv(
                      new EnvVar(
                          "STOWAGE_ALLOWED_SOURCES",
                          String.join(",", staging.allowedSources()),
                          null))
                  .withEnvFrom(secret)
                  .withVolumeMounts(work)
                  // The same room as the task: staging at device speed needs its cpu.
                  .withNewResources()
                  .withRequests(resources)
                  .withLimits(resources)
                  .endResources()
                  .withTerminationMessagePolicy("FallbackToLogsOnError")
                  .build());
    }
    if (!launch.outputs().isEmpty()) {
      spec.getVolumes().add(emptyDir("state"));
      var state = new io.fabric8.kubernetes.api.model.VolumeMount();
      state.setName("state");
      state.setMountPath(STATE);
      task.getVolumeMounts().add(state);
      task.setCommand(concat(List.of("sh", "-c", RECORD_EXIT, "stowage-task"), task.getCommand()));
      var readWork = new io.fabric8.kubernetes.api.model.VolumeMount();
      readWork.setName("work");
      readWork.setMountPath(WORK);
      readWork.setReadOnly(true);
      var readState = new io.fabric8.kubernetes.api.model.VolumeMount();
      readState.setName("state");
      readState.setMountPath(STATE);
      readState.setReadOnly(true);
      spec.getContainers()
          .add(
              new io.fabric8.kubernetes.api.model.ContainerBuilder()
                  .withName(STAGE_OUT)
                  .withImage(staging.stagerImage())
                  .withCommand(
                      concat(
                          STAGER,
                          List.of(
                              "stage-out",
                              "--work",
                              WORK,
                              "--exit-code-file",
                              STATE + "/exit-code")))
                  .addToEnv(new EnvVar("STOWAGE_OUTPUTS", json(launch.outputs()), null))
                  .addToEnv(
                      new EnvVar(
                          "STOWAGE_ALLOWED_OUTPUTS",
                          String.join(",", staging.allowedOutputs()),
                          null))
                  .withEnvFrom(secret)
                  .withVolumeMounts(readWork, readState)
                  .withTerminationMessagePolicy("FallbackToLogsOnError")
                  .build());
    }
  }

  private static io.fabric8.kubernetes.api.model.Volume emptyDir(String name) {
    return new io.fabric8.kubernetes.api.model.VolumeBuilder()
        .withName(name)
        .withNewEmptyDir()
        .endEmptyDir()
        .build();
  }

  private static List<String> concat(List<String> a, List<String> b) {
    var out = new ArrayList<String>(a);
    out.addAll(b);
    return out;
  }

  private String json(Object value) {
    return serialization.asJson(value);
  }

  private Map<String, Quantity> quantities(Resources r) {
    var out = new LinkedHashMap<String, Quantity>();
    out.put("cpu", new Quantity(r.cpuMillis() + "m"));
    out.put("memory", new Quantity(r.memoryMiB() + "Mi"));
    if (r.diskMiB() > 0) {
      out.put("ephemeral-storage", new Quantity(r.diskMiB() + "Mi"));
    }
    if (r.gpus() > 0) {
      out.put(options.gpuResource(), new Quantity(Long.toString(r.gpus())));
    }
    return out;
  }
}
