package dev.stowage.scheduler;

import java.time.Clock;

/**
 * What every stage of the cycle works with: the ports (store, backend), the attempts' spans and
 * ends, the metrics, the crash tests' points and the clock. One instance per cycle, built where the
 * stages are wired.
 */
record CycleParts(
    TaskStore store,
    ClusterBackend backend,
    AttemptSpans spans,
    AttemptEnds ends,
    CycleMetrics metrics,
    CrashPoints crashPoints,
    Clock clock) {}
