package dev.stowage.scheduler;

import java.util.List;

/**
 * Histogram buckets for durations in seconds. The SDK's default buckets (0, 5, 10, 25, … 10000)
 * suit milliseconds: in seconds, every cycle would fall in the first one.
 */
public final class DurationBuckets {

  /**
   * Cycles and their phases: from 100 µs, since an idle cycle's phases take 0.03–4 ms and a
   * histogram whose lowest bucket is above them answers no quantile, to 10 s.
   */
  public static final List<Double> CYCLE =
      List.of(
          0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
          2.5, 5.0, 10.0);

  /** Waits and transfers: from 10 ms to a day. */
  public static final List<Double> LONG =
      List.of(
          0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
          86400.0);

  private DurationBuckets() {}
}
