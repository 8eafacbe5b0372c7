package dev.stowage.scheduler;

import java.time.Duration;
import java.util.Objects;

/**
 * How often a task may run and how long to wait between attempts: the delay before attempt n+1 is
 * {@code backoff * 2^(n-1)}, capped at {@code maxBackoff}.
 */
public record RetryPolicy(int maxAttempts, Duration backoff, Duration maxBackoff) {
  public static final RetryPolicy NONE = new RetryPolicy(1, Duration.ZERO, Duration.ZERO);

  public RetryPolicy {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException(
          "retry.maxAttempts must be at least 1, got " + maxAttempts);
    }
    Objects.requireNonNull(backoff, "retry.backoff");
    Objects.requireNonNull(maxBackoff, "retry.maxBackoff");
    if (backoff.isNegative() || maxBackoff.isNegative()) {
      throw new IllegalArgumentException("retry.backoff and retry.maxBackoff must not be negative");
    }
  }

  /** The delay before attempt {@code next} (2 is the first retry). */
  public Duration delayBefore(int next) {
    if (next <= 1 || backoff.isZero()) {
      return Duration.ZERO;
    }
    long factor = 1L << Math.min(30, next - 2);
    Duration d = backoff.multipliedBy(factor);
    return d.compareTo(maxBackoff) > 0 && !maxBackoff.isZero() ? maxBackoff : d;
  }
}
