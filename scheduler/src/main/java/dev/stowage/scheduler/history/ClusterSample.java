package dev.stowage.scheduler.history;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The cluster and its cycles at one moment, as the dashboard charts them over time.
 *
 * @param used per resource dimension, in {@code Resources.DIMENSIONS} order, the fraction of the
 *     cluster's total in use
 * @param queueShares the dominant share of each queue with tasks in flight
 * @param placed tasks placed since the sample before
 * @param finished tasks that succeeded or failed since the sample before
 * @param failed of those, the ones that failed
 * @param cycles cycles run since the sample before
 * @param phaseMeanMs each phase's mean time over those cycles, in milliseconds, in the order the
 *     phases ran; empty when no cycle ran
 */
public record ClusterSample(
    Instant at,
    List<Double> used,
    Map<String, Double> queueShares,
    long placed,
    long finished,
    long failed,
    long cycles,
    Map<String, Double> phaseMeanMs) {
  public ClusterSample {
    used = List.copyOf(used);
    queueShares = Collections.unmodifiableMap(new TreeMap<>(queueShares));
    phaseMeanMs = Collections.unmodifiableMap(new LinkedHashMap<>(phaseMeanMs));
  }
}
