package dev.stowage.access;

import java.time.Duration;
import java.time.Instant;

/**
 * Requests a client may safely send again: the first answer to a token's {@code Idempotency-Key} is
 * kept, and a retry with the same key and the same request gets it again instead of acting twice. A
 * key is kept for {@link #RETENTION}.
 */
public interface IdempotencyKeys {
  Duration RETENTION = Duration.ofHours(24);

  /** What a request with a key may do. */
  sealed interface Claim {
    /** The key is new: act, then {@link #complete} or {@link #release} it. */
    record Fresh() implements Claim {}

    /** The same request was answered before: answer it so again. */
    record Replay(int status, String body) implements Claim {}

    /** The key was used for another request: refuse it. */
    record Mismatch() implements Claim {}

    /** The first request with the key is still being handled. */
    record InProgress() implements Claim {}
  }

  /**
   * Claims {@code key} for {@code actor}'s request (its hash); keys of other actors never collide.
   */
  Claim claim(String actor, String key, String requestHash, Instant now);

  /** Keeps the answer, for replays. */
  void complete(String actor, String key, int status, String body);

  /** Forgets a claim whose request failed before it had an answer worth keeping. */
  void release(String actor, String key);
}
