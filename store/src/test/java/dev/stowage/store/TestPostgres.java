package dev.stowage.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** Starting PostgreSQL for a test class, as the store's tests do it. */
final class TestPostgres {
  private TestPostgres() {}

  /**
   * A server with its data under {@code tmp}, opened to {@code rwxr-xr-x} first: as root the server
   * runs as its own user, who must reach the directory.
   */
  static EmbeddedPostgres start(Path tmp) throws IOException {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    return EmbeddedPostgres.start(tmp.resolve("pgdata"));
  }
}
