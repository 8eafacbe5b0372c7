package dev.stowage.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real PostgreSQL server, started from the Maven-delivered binaries; no mocks, no H2. */
class EmbeddedPostgresTest {
  @TempDir Path tmp;
  Path data;

  @BeforeEach
  void traversable() throws Exception {
    // When the tests run as root the server runs as its own user, which must reach the data
    // directory.
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    data = tmp.resolve("pgdata");
  }

  @Test
  void startsPostgres17AndKeepsDataAcrossRestarts() throws Exception {
    try (var pg = EmbeddedPostgres.start(data);
        Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      assertThat(scalar(c, "select version()")).startsWith("PostgreSQL 17");
      c.createStatement().execute("create table kept (v text)");
      c.createStatement().execute("insert into kept values ('still here')");
    }
    try (var pg = EmbeddedPostgres.start(data);
        Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      assertThat(scalar(c, "select v from kept")).isEqualTo("still here");
    }
  }

  @Test
  void onlyThePasswordKeptForTheServiceUserOpensTheDatabase() throws Exception {
    try (var pg = EmbeddedPostgres.start(data)) {
      Path file = data.resolveSibling("pgdata.password");
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
          .isEqualTo("rw-------");
      assertThat(Files.readString(file).strip()).isEqualTo(pg.password()).hasSize(48);
      for (String wrong : new String[] {"", "postgres", "x"}) {
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> DriverManager.getConnection(pg.jdbcUrl(), pg.user(), wrong).close())
            .isInstanceOf(java.sql.SQLException.class);
      }
      assertThat(Files.readString(data.resolve("pg_hba.conf")))
          .contains("host all all 127.0.0.1/32 scram-sha-256")
          .doesNotContain("trust");
      boolean root = ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
      if (root) {
        // Not nobody: tasks run as nobody, and must not reach the database's files.
        int owner = (Integer) Files.getAttribute(data, "unix:uid");
        assertThat(owner).isNotIn(0, 65534);
        assertThat(ProcessHandle.of(pg.pid()).orElseThrow().info().user())
            .contains(EmbeddedPostgres.SERVER_USER);
      }
    }
  }

  @Test
  void aClusterThatTrustedEveryConnectionGetsAPasswordAndIsClosedAtItsNextStart() throws Exception {
    // As an earlier version left it: every local connection trusted, no password file.
    try (var pg = EmbeddedPostgres.start(data);
        Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      c.createStatement().execute("create table kept (v text)");
      c.createStatement().execute("insert into kept values ('from before')");
      Files.writeString(data.resolve("pg_hba.conf"), "host all all 127.0.0.1/32 trust\n");
    }
    Files.delete(data.resolveSibling("pgdata.password"));

    try (var pg = EmbeddedPostgres.start(data)) {
      assertThat(Files.readString(data.resolveSibling("pgdata.password")).strip())
          .isEqualTo(pg.password());
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> DriverManager.getConnection(pg.jdbcUrl(), pg.user(), "").close())
          .isInstanceOf(java.sql.SQLException.class);
      try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
        assertThat(scalar(c, "select v from kept")).isEqualTo("from before");
      }
      assertThat(Files.readString(data.resolve("pg_hba.conf"))).doesNotContain("trust");
    }
  }

  @Test
  void aServerLeftRunningByAKilledProcessIsStoppedBeforeANewStart() throws Exception {
    // The first server is never closed, as if its JVM had been killed.
    var orphan = EmbeddedPostgres.start(data);

    try (var pg = EmbeddedPostgres.start(data);
        Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      assertThat(orphan.isRunning()).isFalse();
      assertThat(pg.pid()).isNotEqualTo(orphan.pid());
      assertThat(scalar(c, "select 1")).isEqualTo("1");
    } finally {
      orphan.close();
    }
  }

  @Test
  void migrationsCreateTheSchemaAndTheDatabaseRejectsIllegalTransitions() throws Exception {
    try (var pg = EmbeddedPostgres.start(data);
        var db = Database.open(pg);
        Connection c = db.dataSource().getConnection()) {
      var insert =
          c.prepareStatement(
              "insert into tasks (id, name, state, command, submitted_at, updated_at)"
                  + " values (?, ?, 'queued', '[\"true\"]', ?, ?) returning id");
      var now = Timestamp.from(Instant.parse("2026-11-25T12:00:00Z"));
      insert.setString(1, "etl-1");
      insert.setString(2, "etl-1");
      insert.setTimestamp(3, now);
      insert.setTimestamp(4, now);
      ResultSet rs = insert.executeQuery();
      rs.next();
      String id = rs.getString(1);

      var update = c.prepareStatement("update tasks set state = ? where id = ?");
      update.setString(1, "assigned");
      update.setString(2, id);
      assertThat(update.executeUpdate()).isEqualTo(1);

      update.setString(1, "succeeded"); // assigned -> succeeded skips staging/launch
      assertThatThrownBy(update::executeUpdate)
          .isInstanceOf(SQLException.class)
          .hasMessageContaining("illegal task transition assigned -> succeeded for task " + id);
      assertThat(scalar(c, "select state from tasks where id = '" + id + "'"))
          .isEqualTo("assigned");
    }
  }

  @Test
  void aDataDirectoryThatIsAFileFailsClearly() throws Exception {
    Files.writeString(data, "not a directory");
    assertThatThrownBy(() -> EmbeddedPostgres.start(data))
        .isInstanceOf(java.io.IOException.class)
        .hasMessageContaining(data.toString());
  }

  private static String scalar(Connection c, String sql) throws SQLException {
    try (ResultSet rs = c.createStatement().executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
