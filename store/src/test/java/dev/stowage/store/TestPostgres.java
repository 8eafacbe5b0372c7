package dev.stowage.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real PostgreSQL with the store's schema, started once for a test class and removed after it:
 * {@code @RegisterExtension static final TestPostgres pg = new TestPostgres();}.
 */
final class TestPostgres implements BeforeAllCallback, AfterAllCallback {
  private Path dir;
  private EmbeddedPostgres server;
  private Database db;

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    dir = Files.createTempDirectory("stowage-store-test");
    // As root the server runs as its own user, who must reach the directory.
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    server = EmbeddedPostgres.start(dir.resolve("pgdata"));
    db = Database.open(server);
  }

  @Override
  public void afterAll(ExtensionContext context) throws IOException {
    try {
      if (db != null) {
        db.close();
      }
      if (server != null) {
        server.close();
      }
    } finally {
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  DataSource dataSource() {
    return db.dataSource();
  }

  EmbeddedPostgres server() {
    return server;
  }
}
