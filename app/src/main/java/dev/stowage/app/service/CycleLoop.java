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

  CycleLoop(SchedulingCycle cycle, Duration interval) {
    this.cycle = cycle;
    this.interval = interval;
    this.thread = Thread.ofPlatform().name("stowage-cycle").start(this::loop);
  }

  void wakeUp() {
    wake.release();
  }

  long cycles() {
    return cycles;
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
        cycle.runOnce();
        cycles++;
      } catch (RuntimeException e) {
        // The store or backend failed the whole cycle (a task's own failure never does):
        // log it and try again on the next tick.
        LOG.error("scheduling cycle failed; retrying on the next tick", e);
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
