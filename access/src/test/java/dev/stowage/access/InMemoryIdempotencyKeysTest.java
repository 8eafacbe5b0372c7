package dev.stowage.access;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.access.IdempotencyKeys.Claim;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class InMemoryIdempotencyKeysTest {
  static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

  @Test
  void aKeyIsClaimedOnceAnsweredThenReplayedPerActorUntilItExpires() {
    var keys = new InMemoryIdempotencyKeys();
    assertThat(keys.claim("alice", "k", "h1", T0)).isEqualTo(new Claim.Fresh());
    assertThat(keys.claim("alice", "k", "h1", T0)).isEqualTo(new Claim.InProgress());
    assertThat(keys.claim("bob", "k", "h1", T0)).isEqualTo(new Claim.Fresh());
    keys.complete("alice", "k", 201, "{}");
    assertThat(keys.claim("alice", "k", "h1", T0)).isEqualTo(new Claim.Replay(201, "{}"));
    assertThat(keys.claim("alice", "k", "h2", T0)).isEqualTo(new Claim.Mismatch());
    keys.release("bob", "k");
    assertThat(keys.claim("bob", "k", "h3", T0)).isEqualTo(new Claim.Fresh());
    assertThat(keys.claim("alice", "k", "h2", T0.plus(IdempotencyKeys.RETENTION).plusSeconds(1)))
        .isEqualTo(new Claim.Fresh());
  }
}
