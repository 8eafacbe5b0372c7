package dev.stowage.staging;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;

/**
 * Makes a set of written files durable at once. Many files: the way {@code cp} followed by {@code
 * sync} does, on Linux one {@code syncfs(2)} of each file system written to, which writes
 * everything in one pass and commits the journal once (a flush per file would commit it per file).
 * A few files, or where the C library cannot be reached: each file's own fsync, and its
 * directory's; linking to the C library costs more than a few flushes.
 */
final class Durability {
  private static final int FEW_FILES = 64;

  /** The C library's calls, linked on first use. */
  private static final class Libc {
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000; // the same on x86-64 and arm64
    static final MethodHandle OPEN;
    static final MethodHandle SYNCFS;
    static final MethodHandle CLOSE;

    static {
      MethodHandle open = null;
      MethodHandle syncfs = null;
      MethodHandle close = null;
      try {
        if (System.getProperty("os.name", "").startsWith("Linux")) {
          Linker linker = Linker.nativeLinker();
          var libc = linker.defaultLookup();
          var openSymbol = libc.find("open");
          var syncfsSymbol = libc.find("syncfs");
          var closeSymbol = libc.find("close");
          if (openSymbol.isPresent() && syncfsSymbol.isPresent() && closeSymbol.isPresent()) {
            // open(2) takes a variadic mode after the flags; pass it, as 0.
            open =
                linker.downcallHandle(
                    openSymbol.get(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                    Linker.Option.firstVariadicArg(2));
            syncfs =
                linker.downcallHandle(
                    syncfsSymbol.get(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            close =
                linker.downcallHandle(closeSymbol.get(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
          }
        }
      } catch (RuntimeException e) {
        // No native access (a JVM run with it denied): each file is flushed on its own instead.
        open = syncfs = close = null;
      }
      OPEN = open;
      SYNCFS = syncfs;
      CLOSE = close;
    }
  }

  private Durability() {}

  /** True when a large set is flushed by one {@code syncfs} per file system. */
  static boolean syncsWholeFileSystems() {
    return Libc.SYNCFS != null;
  }

  /**
   * Writes {@code files}, and {@code directories} (those holding their new names), to their devices
   * before returning.
   */
  static void sync(Collection<Path> files, Collection<Path> directories) throws IOException {
    if (files.size() > FEW_FILES && syncsWholeFileSystems()) {
      syncFileSystems(directories);
    } else {
      syncEach(files, directories);
    }
  }

  /** One {@code syncfs} per file system holding one of {@code directories}. */
  static void syncFileSystems(Collection<Path> directories) throws IOException {
    // Told apart by device number.
    var devices = new java.util.HashSet<Object>();
    for (Path directory : directories) {
      if (devices.add(Files.getAttribute(directory, "unix:dev"))) {
        syncFileSystemOf(directory);
      }
    }
  }

  /** Each file's fsync, then each directory's. */
  static void syncEach(Collection<Path> files, Collection<Path> directories) throws IOException {
    for (Path file : files) {
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
        channel.force(true);
      }
    }
    for (Path directory : directories) {
      try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
        channel.force(true);
      } catch (IOException e) {
        // Some systems cannot open a directory to flush it; its files are flushed above.
      }
    }
  }

  private static void syncFileSystemOf(Path directory) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      var path = arena.allocateFrom(directory.toString(), StandardCharsets.UTF_8);
      int fd = (int) Libc.OPEN.invokeExact(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
      if (fd < 0) {
        throw new IOException("cannot open " + directory + " to flush its file system");
      }
      try {
        if ((int) Libc.SYNCFS.invokeExact(fd) != 0) {
          throw new IOException("flushing the file system of " + directory + " failed");
        }
      } finally {
        int ignored = (int) Libc.CLOSE.invokeExact(fd);
      }
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException("flushing the file system of " + directory + " failed: " + t, t);
    }
  }
}
