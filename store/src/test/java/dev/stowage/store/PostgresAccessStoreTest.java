package dev.stowage.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.access.AccessStore;
import dev.stowage.access.ApiToken;
import dev.stowage.access.AuditEntry;
import dev.stowage.access.Role;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Tokens and the audit log against a real PostgreSQL 17. */
class PostgresAccessStoreTest {
  @RegisterExtension static final TestPostgres db = new TestPostgres();
  static final Instant T0 = Instant.parse("2026-12-01T12:00:00Z");

  @Test
  void tokensAreFoundByTheirHashRevokedOnceAndNamedUniquely() {
    AccessStore store = new PostgresAccessStore(db.dataSource());
    var ci = new ApiToken("ci", Role.SUBMITTER, T0, T0.plusSeconds(3600), null, "admin");
    store.addToken(ci, "hash-of-ci");

    assertThat(store.tokenByHash("hash-of-ci")).contains(ci);
    assertThat(store.tokenByHash("hash-of-nothing")).isEmpty();
    assertThatThrownBy(
            () -> store.addToken(new ApiToken("ci", Role.ADMIN, T0, null, null, null), "other"))
        .isInstanceOf(AccessStore.TokenNameTakenException.class)
        .hasMessage("a token named 'ci' exists already");

    assertThat(store.revoke("ci", T0.plusSeconds(60))).isTrue();
    assertThat(store.revoke("ci", T0.plusSeconds(120))).isFalse();
    assertThat(store.revoke("nobody", T0)).isFalse();
    assertThat(store.tokenByHash("hash-of-ci").orElseThrow().revokedAt())
        .isEqualTo(T0.plusSeconds(60));
    assertThat(store.tokens()).extracting(ApiToken::name).containsExactly("ci");
  }

  @Test
  void theAuditLogKeepsEntriesInOrderAndPagesByTheirIds() {
    AccessStore store = new PostgresAccessStore(db.dataSource());
    store.record(AuditEntry.of(T0, "admin", "pause", "", ""));
    store.record(AuditEntry.of(T0.plusSeconds(1), "ci", "submit", "etl/a, etl/b", "2 tasks"));
    store.record(AuditEntry.of(T0.plusSeconds(2), "admin", "resume", null, null));

    var all = store.auditLog(0, 10);
    assertThat(all).extracting(AuditEntry::action).containsExactly("pause", "submit", "resume");
    assertThat(all.get(1))
        .isEqualTo(
            new AuditEntry(
                all.get(1).id(), T0.plusSeconds(1), "ci", "submit", "etl/a, etl/b", "2 tasks"));
    assertThat(store.auditLog(all.get(0).id(), 1))
        .extracting(AuditEntry::action)
        .containsExactly("submit");
  }
}
