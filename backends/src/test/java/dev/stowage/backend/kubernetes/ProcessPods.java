package dev.stowage.backend.kubernetes;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The part of the fake kubelet that really runs a pod's containers, as local processes, for pods
 * that move data (they have volumes): each {@code emptyDir} is a fresh directory, mounted by
 * putting its path where the container names its mount path (in the command, the environment and
 * the working directory), as a bind mount would; init containers run first, in order, then the
 * containers side by side; a {@code secretRef} becomes environment, read from the API server;
 * statuses, exit codes and, for {@code FallbackToLogsOnError}, the log's tail as termination
 * message are written back through the client as a kubelet would.
 */
final class ProcessPods {
  private final KubernetesClient client;
  private final UnaryOperator<List<String>> localCommand;

  /**
   * @param localCommand what to run here for a container's command (the stager image's {@code java
   *     -jar /opt/stowage/stowage.jar}, say); others run as they are
   */
  ProcessPods(KubernetesClient client, UnaryOperator<List<String>> localCommand) {
    this.client = client;
    this.localCommand = localCommand;
  }

  static boolean movesData(Pod p) {
    return p.getSpec().getVolumes() != null && !p.getSpec().getVolumes().isEmpty();
  }

  /** Runs the pod to its end; returns the task container's output, for its log. */
  String run(Pod p) throws IOException, InterruptedException {
    Path root = Files.createTempDirectory("fake-pod-");
    var volumes = new LinkedHashMap<String, Path>();
    for (Volume v : p.getSpec().getVolumes()) {
      Path dir = Files.createDirectory(root.resolve(v.getName()));
      // An emptyDir is open to every container's user.
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
      volumes.put(v.getName(), dir);
    }
    var initStatuses = new ArrayList<ContainerStatus>();
    List<Container> inits =
        p.getSpec().getInitContainers() == null ? List.of() : p.getSpec().getInitContainers();
    for (Container c : inits) {
      Ended e = start(p, c, volumes, root).await();
      initStatuses.add(terminated(c, e));
      if (e.code != 0) {
        var waiting = new ArrayList<ContainerStatus>();
        for (Container main : p.getSpec().getContainers()) {
          waiting.add(
              new ContainerStatusBuilder()
                  .withName(main.getName())
                  .withState(
                      new ContainerStateBuilder()
                          .withNewWaiting()
                          .withReason("PodInitializing")
                          .endWaiting()
                          .build())
                  .build());
        }
        write(p, "Failed", initStatuses, waiting);
        return "";
      }
    }
    write(p, "Running", initStatuses, List.of());
    var running = new ArrayList<Running>();
    for (Container c : p.getSpec().getContainers()) {
      running.add(start(p, c, volumes, root));
    }
    var statuses = new ArrayList<ContainerStatus>();
    String taskLog = "";
    boolean allZero = true;
    for (int i = 0; i < running.size(); i++) {
      Ended e = running.get(i).await();
      Container c = p.getSpec().getContainers().get(i);
      statuses.add(terminated(c, e));
      allZero &= e.code == 0;
      if (c.getName().equals(AttemptPods.CONTAINER)) {
        taskLog = e.log;
      }
    }
    write(p, allZero ? "Succeeded" : "Failed", initStatuses, statuses);
    return taskLog;
  }

  private record Ended(int code, String log) {}

  private record Running(Process process, Path log) {
    Ended await() throws InterruptedException, IOException {
      int code = process.waitFor();
      return new Ended(code, Files.readString(log));
    }
  }

  private Running start(Pod p, Container c, Map<String, Path> volumes, Path root)
      throws IOException {
    var mounts = new LinkedHashMap<String, String>();
    if (c.getVolumeMounts() != null) {
      for (VolumeMount m : c.getVolumeMounts()) {
        mounts.put(m.getMountPath(), volumes.get(m.getName()).toString());
      }
    }
    UnaryOperator<String> mounted =
        s -> {
          String out = s;
          for (var m : mounts.entrySet()) {
            out = out.replace(m.getKey(), m.getValue());
          }
          return out;
        };
    var command = new ArrayList<String>();
    for (String part : localCommand.apply(c.getCommand())) {
      command.add(mounted.apply(part));
    }
    var builder = new ProcessBuilder(command);
    Path log = root.resolve(c.getName() + ".log");
    builder.redirectErrorStream(true).redirectOutput(log.toFile());
    builder.directory(
        c.getWorkingDir() == null
            ? root.toFile()
            : Path.of(mounted.apply(c.getWorkingDir())).toFile());
    // Only what the pod spec gives the container (and a PATH to find sh and java with).
    var env = builder.environment();
    String path = env.get("PATH");
    env.clear();
    env.put("PATH", path);
    if (c.getEnvFrom() != null) {
      for (EnvFromSource from : c.getEnvFrom()) {
        var secret =
            client
                .secrets()
                .inNamespace(p.getMetadata().getNamespace())
                .withName(from.getSecretRef().getName())
                .get();
        secret
            .getData()
            .forEach(
                (k, v) ->
                    env.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
      }
    }
    if (c.getEnv() != null) {
      for (EnvVar e : c.getEnv()) {
        env.put(e.getName(), mounted.apply(e.getValue()));
      }
    }
    return new Running(builder.start(), log);
  }

  private static ContainerStatus terminated(Container c, Ended e) {
    String message = null;
    if (e.code != 0 && "FallbackToLogsOnError".equals(c.getTerminationMessagePolicy())) {
      // As the kubelet does: the log's tail, at most 80 lines and 2048 bytes.
      List<String> lines = e.log.lines().toList();
      message = String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()));
      if (message.length() > 2048) {
        message = message.substring(message.length() - 2048);
      }
    }
    return new ContainerStatusBuilder()
        .withName(c.getName())
        .withState(
            new ContainerStateBuilder()
                .withNewTerminated()
                .withExitCode(e.code)
                .withReason(e.code == 0 ? "Completed" : "Error")
                .withMessage(message)
                .endTerminated()
                .build())
        .build();
  }

  private void write(
      Pod p, String phase, List<ContainerStatus> inits, List<ContainerStatus> containers) {
    client
        .pods()
        .inNamespace(p.getMetadata().getNamespace())
        .withName(p.getMetadata().getName())
        .editStatus(
            now -> {
              now.setStatus(
                  new PodStatusBuilder()
                      .withPhase(phase)
                      .withInitContainerStatuses(inits)
                      .withContainerStatuses(containers)
                      .build());
              return now;
            });
  }
}
