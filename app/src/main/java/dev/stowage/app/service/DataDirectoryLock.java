package dev.stowage.app.service;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One service per data directory: a second would take over the first's PostgreSQL and work
 * directories. The lock is the kernel's, so a killed service leaves none behind.
 */
final class DataDirectoryLock implements AutoCloseable {
  private final FileChannel channel;
  private final FileLock lock;

  private DataDirectoryLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** Takes the lock, or says which service holds it. */
  static DataDirectoryLock take(Path dataDir, java.time.Instant now) throws IOException {
    Files.createDirectories(dataDir);
    Path file = dataDir.resolve("stowage.lock");
    FileChannel channel =
        FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      String holder = Files.readString(file, StandardCharsets.UTF_8).strip();
      channel.close();
      throw new IllegalStateException(
          "another Stowage service is running on "
              + dataDir
              + (holder.isEmpty() ? "" : " (" + holder + ")")
              + "; stop it first, or give this one another --data-dir");
    }
    channel.truncate(0);
    channel.write(
        ByteBuffer.wrap(
            ("pid " + ProcessHandle.current().pid() + ", started " + now + "\n")
                .getBytes(StandardCharsets.UTF_8)),
        0);
    return new DataDirectoryLock(channel, lock);
  }

  @Override
  public void close() throws IOException {
    lock.release();
    channel.close();
  }
}
