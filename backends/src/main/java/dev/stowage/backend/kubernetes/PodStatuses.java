package dev.stowage.backend.kubernetes;

import dev.stowage.scheduler.TaskEvent.Kind;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** What an attempt's pod says of it: how it ended, or why it cannot start. */
final class PodStatuses {
  private PodStatuses() {}

  /** Waiting reasons a pod does not leave by itself, or only by luck. */
  private static final Set<String> CANNOT_START =
      Set.of(
          "ErrImagePull",
          "ImagePullBackOff",
          "InvalidImageName",
          "CreateContainerConfigError",
          "CreateContainerError");

  /**
   * The reason one of the attempt's containers cannot start, with the kubelet's message, or null.
   */
  static String cannotStart(Pod p) {
    if (p.getStatus() == null) {
      return null;
    }
    var all = new ArrayList<ContainerStatus>();
    if (p.getStatus().getInitContainerStatuses() != null) {
      all.addAll(p.getStatus().getInitContainerStatuses());
    }
    if (p.getStatus().getContainerStatuses() != null) {
      all.addAll(p.getStatus().getContainerStatuses());
    }
    for (ContainerStatus s : all) {
      if (s.getState() != null
          && s.getState().getWaiting() != null
          && CANNOT_START.contains(s.getState().getWaiting().getReason())) {
        var w = s.getState().getWaiting();
        return (AttemptPods.CONTAINER.equals(s.getName()) ? "" : "container " + s.getName() + ": ")
            + w.getReason()
            + (w.getMessage() == null ? "" : ": " + w.getMessage());
      }
    }
    return null;
  }

  /** How an ended (or failing) attempt's pod ended, or null while it may still run. */
  record Outcome(Kind kind, Integer exitCode, String message) {}

  static Outcome outcome(Pod p) {
    String phase = phase(p);
    String reason = p.getStatus() == null ? null : p.getStatus().getReason();
    ContainerStateTerminated end = terminated(p);
    if ("Succeeded".equals(phase)) {
      return new Outcome(Kind.EXITED, 0, "pod succeeded");
    }
    if ("Failed".equals(phase)) {
      if ("DeadlineExceeded".equals(reason)) {
        return new Outcome(Kind.TIMED_OUT, null, "DeadlineExceeded: " + message(p));
      }
      if ("Evicted".equals(reason)) {
        return new Outcome(Kind.EVICTED, null, "Evicted: " + message(p));
      }
      if (reason != null && reason.startsWith("OutOf")) {
        // A kubelet's admission refusal (OutOfcpu, OutOfmemory): the node was fuller than seen.
        return new Outcome(Kind.LAUNCH_FAILED, null, reason + ": " + message(p));
      }
      ContainerStateTerminated in =
          terminated(p.getStatus().getInitContainerStatuses(), AttemptPods.STAGE_IN);
      if (in != null && in.getExitCode() != null && in.getExitCode() != 0) {
        return new Outcome(Kind.STAGING_FAILED, null, "inputs: " + said(in));
      }
      if (end != null && "OOMKilled".equals(end.getReason())) {
        return new Outcome(Kind.OUT_OF_MEMORY, end.getExitCode(), "OOMKilled");
      }
      ContainerStateTerminated out =
          terminated(p.getStatus().getContainerStatuses(), AttemptPods.STAGE_OUT);
      if (end != null
          && Integer.valueOf(0).equals(end.getExitCode())
          && out != null
          && out.getExitCode() != null
          && out.getExitCode() != 0) {
        return new Outcome(Kind.STAGING_FAILED, null, "outputs: " + said(out));
      }
      if (end != null) {
        return new Outcome(
            Kind.EXITED, end.getExitCode(), end.getReason() == null ? "exited" : end.getReason());
      }
      return new Outcome(
          Kind.LOST, null, "pod failed" + (reason == null ? "" : ": " + reason + " " + message(p)));
    }
    return null;
  }

  static String phase(Pod p) {
    return p.getStatus() == null || p.getStatus().getPhase() == null
        ? "Pending"
        : p.getStatus().getPhase();
  }

  private static String message(Pod p) {
    return p.getStatus().getMessage() == null ? "" : p.getStatus().getMessage();
  }

  private static ContainerStateTerminated terminated(Pod p) {
    return p.getStatus() == null
        ? null
        : terminated(p.getStatus().getContainerStatuses(), AttemptPods.CONTAINER);
  }

  private static ContainerStateTerminated terminated(List<ContainerStatus> statuses, String name) {
    if (statuses == null) {
      return null;
    }
    for (ContainerStatus s : statuses) {
      if (name.equals(s.getName()) && s.getState() != null) {
        return s.getState().getTerminated();
      }
    }
    return null;
  }

  /** What a stager container said as it failed: its message (its log's tail), else its code. */
  private static String said(ContainerStateTerminated t) {
    if (t.getMessage() != null && !t.getMessage().isBlank()) {
      String m = t.getMessage().strip();
      // The log's last line is the stager's one-line error.
      return m.substring(m.lastIndexOf('\n') + 1);
    }
    return (t.getReason() == null ? "exited" : t.getReason()) + " with code " + t.getExitCode();
  }

  static boolean ended(Pod p) {
    String phase = phase(p);
    return "Succeeded".equals(phase) || "Failed".equals(phase);
  }
}
