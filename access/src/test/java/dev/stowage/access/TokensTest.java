package dev.stowage.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.access.Tokens.Authentication.Authenticated;
import dev.stowage.access.Tokens.Authentication.Refused;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokensTest {
  /** A clock the test moves. */
  static final class SettableClock extends Clock {
    Instant now = Instant.parse("2026-12-01T10:00:00Z");

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  final SettableClock clock = new SettableClock();
  final InMemoryAccessStore store = new InMemoryAccessStore();
  final Tokens tokens = new Tokens(store, clock);

  @Test
  void aCreatedTokenAuthenticatesAndOnlyItsHashIsStored() {
    var issued = tokens.create("ci", Role.SUBMITTER, null, "admin");

    assertThat(issued.secret()).startsWith("stw_").hasSize(4 + 43);
    assertThat(tokens.authenticate("Bearer " + issued.secret()))
        .isEqualTo(new Authenticated(issued.token()));
    assertThat(tokens.authenticate("bearer   " + issued.secret() + " "))
        .isInstanceOf(Authenticated.class);
    assertThat(store.tokenByHash(issued.secret())).isEmpty();
    assertThat(store.tokenByHash(Tokens.hash(issued.secret()))).contains(issued.token());
    assertThat(issued.token().createdBy()).isEqualTo("admin");
  }

  @Test
  void missingMalformedUnknownRevokedAndExpiredTokensAreRefusedSayingWhich() {
    var revoked = tokens.create("old", Role.ADMIN, null, null);
    var shortLived = tokens.create("short", Role.READER, Duration.ofHours(1), null);
    tokens.revoke("old");

    assertThat(tokens.authenticate(null))
        .isInstanceOfSatisfying(
            Refused.class, r -> assertThat(r.reason()).startsWith("no token: send"));
    assertThat(tokens.authenticate("Basic dXNlcjpwYXNz"))
        .isEqualTo(
            new Refused("the Authorization header must be 'Bearer <token>', got a 'Basic' scheme"));
    assertThat(tokens.authenticate("Bearer stw_guessed"))
        .isEqualTo(new Refused("the token is not one this service issued"));
    assertThat(tokens.authenticate("Bearer " + revoked.secret()))
        .isEqualTo(new Refused("token 'old' was revoked at 2026-12-01T10:00:00Z"));

    assertThat(tokens.authenticate("Bearer " + shortLived.secret()))
        .isInstanceOf(Authenticated.class);
    clock.now = clock.now.plus(Duration.ofHours(1));
    assertThat(tokens.authenticate("Bearer " + shortLived.secret()))
        .isEqualTo(new Refused("token 'short' expired at 2026-12-01T11:00:00Z"));
  }

  @Test
  void aRememberedTokenRevokedHereStopsAtOnceAndOneRevokedElsewhereWithinSeconds() {
    var here = tokens.create("here", Role.READER, null, null);
    var elsewhere = tokens.create("elsewhere", Role.READER, null, null);
    assertThat(tokens.authenticate("Bearer " + here.secret())).isInstanceOf(Authenticated.class);
    assertThat(tokens.authenticate("Bearer " + elsewhere.secret()))
        .isInstanceOf(Authenticated.class);

    assertThat(tokens.revoke("here")).isTrue();
    assertThat(tokens.authenticate("Bearer " + here.secret())).isInstanceOf(Refused.class);

    store.revoke("elsewhere", clock.instant()); // as another instance of the service would
    assertThat(tokens.authenticate("Bearer " + elsewhere.secret()))
        .as("remembered for a moment")
        .isInstanceOf(Authenticated.class);
    clock.now = clock.now.plus(Tokens.REMEMBERED);
    assertThat(tokens.authenticate("Bearer " + elsewhere.secret()))
        .isEqualTo(new Refused("token 'elsewhere' was revoked at 2026-12-01T10:00:00Z"));
  }

  @Test
  void namesAreUniqueAndCheckedAndLifetimesPositive() {
    tokens.create("ci", Role.READER, null, null);
    assertThatThrownBy(() -> tokens.create("ci", Role.ADMIN, null, null))
        .hasMessage("a token named 'ci' exists already");
    assertThatThrownBy(() -> tokens.create("../x", Role.READER, null, null))
        .hasMessageContaining("got '../x'");
    assertThatThrownBy(() -> tokens.create("ok", Role.READER, Duration.ZERO, null))
        .hasMessageContaining("lifetime must be positive");
  }

  @Test
  void rolesIncludeTheOnesBelowThem() {
    assertThat(Role.ADMIN.includes(Role.SUBMITTER)).isTrue();
    assertThat(Role.SUBMITTER.includes(Role.READER)).isTrue();
    assertThat(Role.READER.includes(Role.SUBMITTER)).isFalse();
    assertThat(Role.parse("submitter")).isEqualTo(Role.SUBMITTER);
    assertThatThrownBy(() -> Role.parse("root"))
        .hasMessage("must be one of reader, submitter, admin, got 'root'");
  }

  @Test
  void theFirstAdminTokenIsWrittenForTheOwnerAloneAndRenewedOnlyWhenNoneIsActive(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("admin.token");

    var first = AdminToken.ensure(tokens, store, file);
    assertThat(first).get().extracting(ApiToken::name).isEqualTo("admin");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");
    String secret = Files.readString(file).strip();
    assertThat(tokens.authenticate("Bearer " + secret)).isInstanceOf(Authenticated.class);

    assertThat(AdminToken.ensure(tokens, store, file)).isEmpty();
    assertThat(Files.readString(file).strip()).isEqualTo(secret);

    store.revoke("admin", clock.instant());
    var renewed = AdminToken.ensure(tokens, store, file);
    assertThat(renewed).get().extracting(ApiToken::name).isEqualTo("admin-2");
    assertThat(tokens.authenticate("Bearer " + Files.readString(file).strip()))
        .isInstanceOf(Authenticated.class);
    try (var listing = Files.list(dir)) {
      assertThat(listing).containsExactly(file);
    }
  }
}
