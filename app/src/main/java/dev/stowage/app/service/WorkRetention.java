package dev.stowage.app.service;

import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finished tasks' work directories go after a while, as Kubernetes removes a finished Job after its
 * {@code ttlSecondsAfterFinished}: what a task left is kept for {@code keep} after it ended, then
 * removed by a sweep; {@code stowage purge} removes it sooner. The tasks stay in the store.
 */
final class WorkRetention implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WorkRetention.class);

  private final TaskStore store;
  private final ClusterBackend backend;
  private final Clock clock;
  private final ScheduledExecutorService sweeps;

  /**
   * @param keep how long after its end a task's directories stay; null to keep them until purged
   */
  WorkRetention(TaskStore store, ClusterBackend backend, Clock clock, Duration keep) {
    this.store = store;
    this.backend = backend;
    this.clock = clock;
    if (keep == null) {
      sweeps = null;
      return;
    }
    sweeps =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("stowage-work-retention").unstarted(r));
    long every =
        Math.clamp(
            keep.dividedBy(4).toMillis(),
            Duration.ofMinutes(1).toMillis(),
            Duration.ofHours(1).toMillis());
    sweeps.scheduleWithFixedDelay(() -> sweep(keep), every, every, TimeUnit.MILLISECONDS);
  }

  private void sweep(Duration keep) {
    try {
      int removed = purge(keep);
      if (removed > 0) {
        LOG.info("removed the work directories of {} task(s) finished over {} ago", removed, keep);
      }
    } catch (RuntimeException e) {
      LOG.warn("work directory sweep failed; trying again at the next", e);
    }
  }

  /** Removes the directories of tasks that ended at least {@code olderThan} ago; how many. */
  int purge(Duration olderThan) {
    Instant cutoff = clock.instant().minus(olderThan);
    return backend.removeFinished(
        ids ->
            store.getAll(ids).values().stream()
                .filter(t -> t.state().isTerminal() && !t.updatedAt().isAfter(cutoff))
                .map(StoredTask::id)
                .collect(Collectors.toSet()));
  }

  @Override
  public void close() {
    if (sweeps != null) {
      sweeps.shutdownNow();
    }
  }
}
