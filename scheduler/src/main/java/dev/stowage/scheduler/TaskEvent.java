package dev.stowage.scheduler;

import java.time.Instant;

/**
 * Something that happened to an attempt on the cluster.
 *
 * @param exitCode the process's exit code for {@link Kind#EXITED}, else null
 * @param message a short explanation for people (why a launch failed, which signal, ...)
 */
public record TaskEvent(
    AttemptId attempt, Kind kind, Integer exitCode, String message, Instant at) {
  public enum Kind {
    STARTED,
    /** Ended on its own; exitCode says how. */
    EXITED,
    /** Stopped because someone cancelled it. */
    KILLED,
    /** Stopped because it ran past its timeout. */
    TIMED_OUT,
    /** Killed by the kernel for using more memory than its limit; exitCode says how it ended. */
    OUT_OF_MEMORY,
    /**
     * Stopped by the cluster to free its node (memory or disk pressure, a drain); message says why.
     * A failed attempt, retried per the task's policy.
     */
    EVICTED,
    /** Could not be started at all. */
    LAUNCH_FAILED,
    /**
     * On a backend that {@linkplain ClusterBackend#stagesOnNode() stages on the node}: its inputs
     * could not be copied in before it ran, or its outputs out after it exited with 0; message says
     * which and why. A failed attempt, retried per the task's policy.
     */
    STAGING_FAILED,
    /** The backend no longer knows what became of it. */
    LOST,
    /** Only from {@link ClusterBackend#status}: the backend has no trace of it; never launched. */
    NOT_LAUNCHED
  }
}
