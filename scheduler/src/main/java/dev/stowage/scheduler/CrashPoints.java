package dev.stowage.scheduler;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

/**
 * Points in a cycle where the crash tests kill the service: at the one armed, the first time it is
 * reached, the service sends itself SIGKILL, so that nothing after that instant runs (no shutdown
 * hook, no pending write), as when an operator or the kernel's OOM killer kills it. Off unless the
 * service is started with {@code STOWAGE_CRASH_AT} naming a point.
 */
public final class CrashPoints {
  /** Where a cycle may be cut short. */
  public enum Point {
    /** Matched, nothing placed yet. */
    BEFORE_PLACEMENT,
    /** Placed in memory, its record maybe not durable yet, nothing launched. */
    AFTER_PLACEMENT,
    /** The record of a placement just became durable. */
    PLACEMENT_RECORDED,
    /** The first of the cycle's launches handed to the backend, the rest not. */
    DURING_LAUNCH,
    /** Every launch handed to the backend, none marked launched. */
    AFTER_LAUNCH,
    /**
     * As {@link #AFTER_LAUNCH}, the record of the placements held back until then: the store has no
     * trace of the attempts the backend runs.
     */
    LAUNCHED_UNRECORDED,
    /** The backend's starts applied, its other news (exits, failures) not. */
    DURING_EVENTS,
    /** The record of successes just became durable. */
    SUCCESS_RECORDED;

    /** The name in {@code STOWAGE_CRASH_AT}: {@code after-placement}. */
    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
  }

  public static final CrashPoints NONE = new CrashPoints(null);

  private final Point armed;
  private final AtomicBoolean fired = new AtomicBoolean();

  private CrashPoints(Point armed) {
    this.armed = armed;
  }

  /**
   * The points armed by {@code label} (a {@link Point#label()}), none when it is null or blank.
   *
   * @throws IllegalArgumentException naming the points there are, for any other label
   */
  public static CrashPoints armedAt(String label) {
    if (label == null || label.isBlank()) {
      return NONE;
    }
    for (Point p : Point.values()) {
      if (p.label().equals(label.strip())) {
        return new CrashPoints(p);
      }
    }
    throw new IllegalArgumentException(
        "STOWAGE_CRASH_AT: no crash point '"
            + label
            + "'; there are "
            + Arrays.stream(Point.values()).map(Point::label).collect(Collectors.joining(", ")));
  }

  /** Whether the record of placements is held back, for {@link Point#LAUNCHED_UNRECORDED}. */
  boolean holdsPlacementRecords() {
    return armed == Point.LAUNCHED_UNRECORDED;
  }

  /**
   * Runs one backend launch, never cut by a kill from another thread: a launch killed between
   * marking its attempt and recording the process's id leaves an attempt that may or may not have
   * started, which reconciliation must call lost. That window is real, and documented; the tests
   * leave it out, so that each of them checks one step.
   */
  void launching(Runnable launch) {
    if (armed == null) {
      launch.run();
      return;
    }
    synchronized (this) {
      launch.run();
    }
  }

  /** Kills this process here if {@code point} is the one armed and it was not reached before. */
  void reach(Point point) {
    if (point != armed || !fired.compareAndSet(false, true)) {
      return;
    }
    synchronized (this) {
      kill();
    }
  }

  private static void kill() {
    try {
      new ProcessBuilder("kill", "-KILL", Long.toString(ProcessHandle.current().pid()))
          .inheritIO()
          .start()
          .waitFor();
      Thread.sleep(10_000); // the signal is on its way: nothing more of this thread runs
    } catch (java.io.IOException | InterruptedException e) {
      // No kill(1): stop dead all the same.
    }
    Runtime.getRuntime().halt(137);
  }
}
