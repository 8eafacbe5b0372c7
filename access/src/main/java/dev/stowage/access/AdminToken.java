package dev.stowage.access;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * The first admin token: created at start when no active admin token exists, its secret written to
 * a file only the service's user can read. Whoever can start the service on its data directory can
 * read that file, so a lost admin token is recovered by a restart.
 */
public final class AdminToken {
  private AdminToken() {}

  /**
   * Makes sure an active admin token exists; when a new one is created, writes its secret to {@code
   * file} (mode 0600) and returns the token.
   */
  public static Optional<ApiToken> ensure(Tokens tokens, AccessStore store, Path file)
      throws IOException {
    var now = java.time.Instant.now(tokens.clock());
    boolean active =
        store.tokens().stream().anyMatch(t -> t.role() == Role.ADMIN && t.activeAt(now));
    if (active) {
      return Optional.empty();
    }
    String name = "admin";
    var names = store.tokens().stream().map(ApiToken::name).toList();
    for (int i = 2; names.contains(name); i++) {
      name = "admin-" + i;
    }
    Tokens.Issued issued = tokens.create(name, Role.ADMIN, null, null);
    write(file, issued.secret());
    return Optional.of(issued.token());
  }

  /** Written under a temporary name created 0600, then renamed: never readable by others. */
  private static void write(Path file, String secret) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp =
        Files.createTempFile(
            dir,
            ".admin.token",
            ".tmp",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      Files.writeString(tmp, secret + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
