package dev.stowage.scheduler;

import java.util.List;

/**
 * Histogram buckets for durations in seconds. The SDK's default buckets (0, 5, 10, 25, … 10000)
 * suit milliseconds: in seconds, every cycle would fall in the first one.
 */
public final class DurationBuckets {
  /** Cycles, phases, requests: OpenTelemetry's buckets for HTTP server durations. */
  public static final List<Double> SHORT =
      List.of(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0);

  /** Waits and transfers: from 10 ms to a day. */
  public static final List<Double> LONG =
      List.of(
          0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
          86400.0);

  private DurationBuckets() {}
}
