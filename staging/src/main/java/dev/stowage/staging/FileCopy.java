package dev.stowage.staging;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * Copies one local file the way the kernel copies fastest, and never leaves a partial or wrong file
 * under the destination's name:
 *
 * <ol>
 *   <li>a destination of the same length whose CRC32C matches the source's, range by range, is left
 *       as it is (a retried or resumed staging copies only what is missing);
 *   <li>otherwise the file is copied to a temporary name beside the destination through {@link
 *       FileChannel#transferTo}, which on Linux is {@code copy_file_range}: the bytes never pass
 *       through this process (in one stream, or in ranges side by side where that pays);
 *   <li>then the copy's length and each range's CRC32C are checked against the source's, every
 *       range of both files read side by side (from the page cache);
 *   <li>then it is renamed into place, atomically.
 * </ol>
 *
 * A copy asked to reach the device ({@link Flush}), when large, is flushed while its checks run, so
 * that they cost no time of their own; a small one is flushed after them, or left to the caller,
 * who flushes many at once at the end ({@link Durability}). A staged input is not flushed: it lives
 * as long as its attempt, and the next staging's check finds a torn file.
 */
final class FileCopy {
  /** What happened to one file. */
  enum Outcome {
    COPIED,
    ALREADY_THERE
  }

  private static final int CHECK_BUFFER = 1 << 20;
  // Direct buffers for checksums, kept for reuse: allocating (and zeroing) one per file would
  // cost more than reading a small file.
  private static final java.util.concurrent.ConcurrentLinkedQueue<ByteBuffer> BUFFERS =
      new java.util.concurrent.ConcurrentLinkedQueue<>();
  private static final int MAX_POOLED = 32;
  // A copy to be flushed that is at least this large is flushed beside its checks.
  private static final long FLUSH_BESIDE_CHECK = 64L << 20;
  // Files at least this large have their checks run on several threads.
  private static final long SIDE_BY_SIDE_FROM = 16L << 20;
  // Ranges of one file in flight at once: enough to keep a fast device's queue full.
  private static final int PARALLEL_RANGES = 8;
  // Checks read this much of a file per task, side by side: both cores busy on a large file.
  private static final long CHECK_RANGE = 256L << 20;
  private final long copyRange; // 0: each file copied as one stream
  private final long checkRange;
  private final ExecutorService ranges; // runs the ranges of one file side by side

  /**
   * @param copyRange files larger than this are copied in ranges of this size side by side; 0 for
   *     one stream per file. On a local file system (ext4 here) ranges do not pay: each write takes
   *     the file's lock, so ranges of one file wait for each other, spinning (docs/benchmarks.md);
   *     they are for file systems that copy on the server, such as NFS 4.2.
   * @param ranges where the ranges run
   */
  FileCopy(long copyRange, ExecutorService ranges) {
    if (copyRange != 0 && copyRange < 4096) {
      throw new IllegalArgumentException(
          "the copy range must be 0 (one stream) or at least 4 KiB, got " + copyRange);
    }
    this.copyRange = copyRange;
    this.checkRange = copyRange == 0 ? CHECK_RANGE : Math.min(copyRange, CHECK_RANGE);
    this.ranges = ranges;
  }

  /**
   * Copies {@code from} to {@code to}, reporting bytes as they are copied (the whole length at once
   * for a file already there).
   *
   * @throws StagingException if the source changed while it was copied or the copy does not match
   */
  Outcome copy(Path from, Path to, LongConsumer progress) throws IOException, StagingException {
    return copy(from, to, Flush.NONE, progress);
  }

  /** Which copies reach the device before their rename. */
  enum Flush {
    /** None: the page cache writes them back in its own time. */
    NONE,
    /**
     * Files of at least 64 MiB, while their checks run; the caller flushes the small ones its own
     * way (all at once).
     */
    LARGE_FILES,
    /** Every file: large ones while their checks run, the others after. */
    EVERY_FILE
  }

  /** As {@link #copy(Path, Path, LongConsumer)}, flushed to the device as {@code flush} says. */
  Outcome copy(Path from, Path to, Flush flush, LongConsumer progress)
      throws IOException, StagingException {
    // Each file opened once where a range does not need its own channel: for many small files the
    // system calls, not the bytes, are the cost.
    // A write to the source during the copy changes its modification time: compared at the end,
    // after the checks, so that a write while either ran is seen.
    var modifiedBefore = Files.getLastModifiedTime(from);
    try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ)) {
      long length = in.size();
      if (alreadyThere(in, to, length)) {
        progress.accept(length);
        return Outcome.ALREADY_THERE;
      }
      Path part = to.resolveSibling("." + to.getFileName() + ".stowage-part");
      boolean renamed = false;
      try (FileChannel out =
          FileChannel.open(
              part,
              StandardOpenOption.CREATE,
              StandardOpenOption.TRUNCATE_EXISTING,
              StandardOpenOption.READ,
              StandardOpenOption.WRITE)) {
        // First the copy, ranges side by side; then the checks, which read from the page cache,
        // while a durable copy's bytes go to the device.
        if (copyRange == 0 || length <= copyRange) {
          transfer(in, out, 0, length, progress);
        } else {
          run(
              (int) Math.ceilDiv(length, copyRange),
              i -> {
                long start = i * copyRange;
                // Side by side, each range needs its own write position: its own channels.
                try (FileChannel rangeIn = FileChannel.open(from, StandardOpenOption.READ);
                    FileChannel rangeOut = FileChannel.open(part, StandardOpenOption.WRITE)) {
                  transfer(rangeIn, rangeOut, start, Math.min(length, start + copyRange), progress);
                }
                return 0L;
              });
        }
        boolean large = length >= FLUSH_BESIDE_CHECK;
        Future<Void> flushed =
            flush != Flush.NONE && large
                ? ranges.submit(
                    () -> {
                      out.force(false);
                      return null;
                    })
                : null;
        long[][] sums = checksums(length, in, out);
        if (flushed != null) {
          await(flushed, "flushing the copy failed");
        } else if (flush == Flush.EVERY_FILE) {
          out.force(false);
        }
        long[] expected = sums[0];
        long[] got = sums[1];
        long copied = out.size();
        long now = in.size();
        if (copied != length
            || now != length
            || !Files.getLastModifiedTime(from).equals(modifiedBefore)) {
          throw new StagingException(
              "source "
                  + from
                  + " was written to while it was copied"
                  + (now != length ? " (" + length + " then " + now + " bytes)" : ""));
        }
        for (int i = 0; i < expected.length; i++) {
          if (expected[i] != got[i]) {
            throw new StagingException(
                "copy of "
                    + from
                    + " does not match it: CRC32C of bytes from "
                    + i * checkRange
                    + " differs (source changed while it was copied?)");
          }
        }
      } catch (IOException | StagingException | RuntimeException e) {
        Files.deleteIfExists(part); // nothing partial stays behind
        throw e;
      }
      try {
        Files.move(part, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        renamed = true;
      } finally {
        if (!renamed) {
          Files.deleteIfExists(part);
        }
      }
      return Outcome.COPIED;
    }
  }

  /** True when {@code to} is a regular file of this length whose ranges' CRC32C match. */
  private boolean alreadyThere(FileChannel in, Path to, long length)
      throws IOException, StagingException {
    // Asked without an exception for the usual answer (not there): for many small files, making
    // the exception cost as much as the rest of the check.
    BasicFileAttributes there =
        to.getFileSystem()
            .provider()
            .readAttributesIfExists(to, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (there == null || !there.isRegularFile() || there.size() != length) {
      return false;
    }
    try (FileChannel existing = FileChannel.open(to, StandardOpenOption.READ)) {
      long[][] sums = checksums(length, in, existing);
      return Arrays.equals(sums[0], sums[1]);
    }
  }

  private static void transfer(
      FileChannel in, FileChannel out, long start, long end, LongConsumer progress)
      throws IOException {
    out.position(start);
    long position = start;
    while (position < end) {
      long n = in.transferTo(position, end - position, out);
      if (n <= 0) {
        if (position >= in.size()) {
          break; // the source shrank: the length check after the copy says so
        }
        continue;
      }
      position += n;
      progress.accept(n);
    }
  }

  /** Waits for {@code work}: its IOException as it is, any other failure said as {@code failed}. */
  private static void await(Future<Void> work, String failed) throws IOException, StagingException {
    try {
      work.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new StagingException(failed + ": " + e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StagingException("interrupted while copying");
    }
  }

  /** The CRC32C of each range of the file's first {@code length} bytes, computed side by side. */
  long[] checksums(Path file, long length) throws IOException, StagingException {
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      return checksums(length, in)[0];
    }
  }

  /**
   * For each file, the CRC32C of each range of its first {@code length} bytes: every range of every
   * file side by side, read by position through the one channel per file.
   */
  private long[][] checksums(long length, FileChannel... files)
      throws IOException, StagingException {
    int count = checkRanges(length);
    // A small file's checks stay on this thread: handing them to another costs more than them.
    List<Long> sums =
        run(
            count * files.length,
            length >= SIDE_BY_SIDE_FROM,
            i -> {
              long start = (i % count) * checkRange;
              return crc32c(files[i / count], start, Math.min(length, start + checkRange));
            });
    long[][] out = new long[files.length][count];
    for (int i = 0; i < sums.size(); i++) {
      out[i / count][i % count] = sums.get(i);
    }
    return out;
  }

  /** The CRC32C of a whole file, read in one pass. */
  static long crc32c(Path file) throws IOException {
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      return crc32c(in, 0, in.size());
    }
  }

  /**
   * The CRC32C of bytes {@code [start, end)}, read by position (the channel's own is untouched).
   */
  private static long crc32c(FileChannel in, long start, long end) throws IOException {
    var crc = new CRC32C();
    ByteBuffer buffer = BUFFERS.poll();
    if (buffer == null) {
      buffer = ByteBuffer.allocateDirect(CHECK_BUFFER);
    }
    try {
      long position = start;
      while (position < end) {
        buffer.clear().limit((int) Math.min(buffer.capacity(), end - position));
        int n = in.read(buffer, position);
        if (n < 0) {
          break;
        }
        buffer.flip();
        crc.update(buffer);
        position += n;
      }
    } finally {
      if (BUFFERS.size() < MAX_POOLED) {
        BUFFERS.offer(buffer);
      }
    }
    return crc.getValue();
  }

  private interface Work<T> {
    T run(int index) throws IOException;
  }

  private int checkRanges(long length) {
    return (int) Math.max(1, Math.ceilDiv(length, checkRange));
  }

  /**
   * Runs {@code work} for each index below {@code count}, at most {@link #PARALLEL_RANGES} at once
   * (this thread is one of them), and returns the results in index order.
   */
  private <T> List<T> run(int count, Work<T> work) throws IOException, StagingException {
    return run(count, true, work);
  }

  /** As above, on this thread alone unless {@code sideBySide}. */
  private <T> List<T> run(int count, boolean sideBySide, Work<T> work)
      throws IOException, StagingException {
    if (count == 1 || !sideBySide) {
      var results = new ArrayList<T>(count);
      for (int i = 0; i < count; i++) {
        results.add(work.run(i));
      }
      return results;
    }
    var results = new java.util.concurrent.atomic.AtomicReferenceArray<T>(count);
    var next = new java.util.concurrent.atomic.AtomicInteger();
    Work<Void> worker =
        ignored -> {
          for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
            results.set(i, work.run(i));
          }
          return null;
        };
    var futures = new ArrayList<Future<Void>>();
    for (int w = 1; w < Math.min(count, PARALLEL_RANGES); w++) {
      futures.add(ranges.submit(() -> worker.run(0)));
    }
    try {
      worker.run(0);
      for (Future<Void> f : futures) {
        await(f, "copy failed");
      }
    } finally {
      next.set(count); // the other workers stop at their next range
      futures.forEach(f -> f.cancel(true));
    }
    var out = new ArrayList<T>(count);
    for (int i = 0; i < count; i++) {
      out.add(results.get(i));
    }
    return out;
  }
}
