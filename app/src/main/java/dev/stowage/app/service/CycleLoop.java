package dev.stowage.app.service;

import dev.stowage.scheduler.SchedulingCycle;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the scheduling cycle continuously: every {@code interval}, and at once when work or capacity
 * arrives ({@link #wakeUp}). One thread, so never two cycles at once; a wake-up during a cycle runs
 * one more cycle right after it.
 */
final class CycleLoop implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CycleLoop.class);

  private final SchedulingCycle cycle;
  private final Duration interval;
  private final Semaphore wake = new Semaphore(0);
  private final Thread thread;
  private volatile boolean running = true;
  private volatile long cycles;
  private volatile long lastCycleNanos;
  private boolean reconcileFirst; // only the loop thread reads and writes it
  private volatile boolean paused;
  // The most recent reports, newest last: what GET /api/cycles shows.
  private final java.util.ArrayDeque<Recent> recent = new java.util.ArrayDeque<>();

  /** One finished cycle, for the API. */
  record Recent(long number, java.time.Instant at, SchedulingCycle.Report report) {}

  static final int KEPT = 50;

  /** Cycle numbers by start time, for "N cycles since": about a day at one cycle a second. */
  private static final int STARTS_KEPT = 100_000;

  private final java.time.Clock clock;
  private final java.util.TreeMap<java.time.Instant, Long> starts = new java.util.TreeMap<>();

  CycleLoop(SchedulingCycle cycle, Duration interval) {
    this(cycle, interval, java.time.Clock.systemUTC());
  }

  CycleLoop(SchedulingCycle cycle, Duration interval, java.time.Clock clock) {
    this.clock = clock;
    this.cycle = cycle;
    this.interval = interval;
    this.thread = Thread.ofPlatform().name("stowage-cycle").start(this::loop);
  }

  private final java.util.List<java.util.function.Consumer<Recent>> listeners =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  /**
   * Gives each cycle to {@code listener} after it ran, on the loop's thread: it must return at
   * once.
   */
  void onCycle(java.util.function.Consumer<Recent> listener) {
    listeners.add(listener);
  }

  void wakeUp() {
    wake.release();
  }

  void pause() {
    paused = true;
  }

  void resume() {
    paused = false;
    wake.release();
  }

  boolean paused() {
    return paused;
  }

  /**
   * How many cycles have started at or after {@code since}: how often a task queued since then has
   * been considered. Counts only what is kept (about the last day at one cycle a second).
   */
  long cyclesSince(java.time.Instant since) {
    synchronized (starts) {
      var first = starts.ceilingEntry(since);
      return first == null ? 0 : cycles - first.getValue() + 1;
    }
  }

  long cycles() {
    return cycles;
  }

  /** The last cycles' reports, newest first. */
  java.util.List<Recent> recent() {
    synchronized (recent) {
      return java.util.List.copyOf(recent).reversed();
    }
  }

  /** Whether the loop thread runs and has finished a cycle within {@code within}. */
  boolean healthy(java.time.Duration within) {
    return thread.isAlive() && cycles > 0 && System.nanoTime() - lastCycleNanos < within.toNanos();
  }

  private void loop() {
    while (running) {
      try {
        wake.tryAcquire(interval.toMillis(), TimeUnit.MILLISECONDS);
        wake.drainPermits();
      } catch (InterruptedException e) {
        return;
      }
      if (!running) {
        return;
      }
      try {
        if (reconcileFirst) {
          // A failed cycle may have left attempts assigned or launched without the store
          // knowing what the backend did with them: settle those as a restart would.
          int checked = cycle.reconcile();
          reconcileFirst = false;
          LOG.info("reconciled {} task(s) in flight after a failed cycle", checked);
        }
        if (paused) {
          cycle.applyClusterEvents();
          lastCycleNanos = System.nanoTime(); // alive, if placing nothing
          continue;
        }
        java.time.Instant started = clock.instant();
        SchedulingCycle.Report report = cycle.runOnce();
        cycles++;
        synchronized (starts) {
          starts.put(started, cycles);
          if (starts.size() > STARTS_KEPT) {
            starts.pollFirstEntry();
          }
        }
        lastCycleNanos = System.nanoTime();
        var ran = new Recent(cycles, started, report);
        synchronized (recent) {
          recent.addLast(ran);
          if (recent.size() > KEPT) {
            recent.removeFirst();
          }
        }
        for (var l : listeners) {
          l.accept(ran);
        }
      } catch (RuntimeException e) {
        // The store or backend failed the whole cycle (a task's own failure never does):
        // log it and try again on the next tick.
        LOG.error("scheduling cycle failed; retrying on the next tick", e);
        reconcileFirst = true;
      }
    }
  }

  @Override
  public void close() {
    running = false;
    wake.release();
    try {
      thread.join(Duration.ofSeconds(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
