package dev.stowage.staging;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
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
 *   <li>otherwise the file is copied to a temporary name beside the destination, in ranges side by
 *       side, each through {@link FileChannel#transferTo}, which on Linux is {@code
 *       copy_file_range}: the bytes never pass through this process;
 *   <li>the copy's length and each range's CRC32C are checked against the source's;
 *   <li>then it is renamed into place, atomically.
 * </ol>
 *
 * No fsync: a crash loses the attempt anyway, and the next staging's check finds a torn file.
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
  // Ranges of one file in flight at once: enough to keep a fast device's queue full.
  private static final int PARALLEL_RANGES = 8;
  private final long rangeSize;
  private final ExecutorService ranges; // runs the ranges of one file side by side

  /**
   * @param rangeSize files larger than this are split into ranges of this size, copied and checked
   *     side by side
   * @param ranges where the ranges run; virtual threads suit (the work is in the kernel)
   */
  FileCopy(long rangeSize, ExecutorService ranges) {
    if (rangeSize < 4096) {
      throw new IllegalArgumentException("rangeSize must be at least 4 KiB, got " + rangeSize);
    }
    this.rangeSize = rangeSize;
    this.ranges = ranges;
  }

  /**
   * Copies {@code from} to {@code to}, reporting bytes as they are copied (the whole length at once
   * for a file already there).
   *
   * @throws StagingException if the source changed while it was copied or the copy does not match
   */
  Outcome copy(Path from, Path to, LongConsumer progress) throws IOException, StagingException {
    // Each file opened once where a range does not need its own channel: for many small files the
    // system calls, not the bytes, are the cost.
    // A write to the source during the copy changes its modification time: compared at the end,
    // since each range's checksum is taken as soon as that range is copied.
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
        // Each range is checked as soon as it is copied, while the others still copy: the
        // checksums' reads (from the page cache) overlap the device's work.
        long[] expected = new long[(int) Math.max(1, Math.ceilDiv(length, rangeSize))];
        long[] got = new long[expected.length];
        if (length <= rangeSize) {
          transfer(in, out, 0, length, progress);
          expected[0] = crc32c(in, 0, length);
          got[0] = crc32c(out, 0, length);
        } else {
          run(
              length,
              (start, end) -> {
                // Side by side, each range needs its own write position: its own channels.
                try (FileChannel rangeIn = FileChannel.open(from, StandardOpenOption.READ);
                    FileChannel rangeOut = FileChannel.open(part, StandardOpenOption.WRITE)) {
                  transfer(rangeIn, rangeOut, start, end, progress);
                }
                int i = (int) (start / rangeSize);
                expected[i] = crc32c(in, start, end);
                got[i] = crc32c(out, start, end);
                return 0L;
              });
        }
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
                    + i * rangeSize
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
    BasicFileAttributes there;
    try {
      there = Files.readAttributes(to, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return false;
    }
    if (!there.isRegularFile() || there.size() != length) {
      return false;
    }
    try (FileChannel existing = FileChannel.open(to, StandardOpenOption.READ)) {
      return Arrays.equals(checksums(in, length), checksums(existing, length));
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

  /** The CRC32C of each range of the file's first {@code length} bytes, computed side by side. */
  long[] checksums(Path file, long length) throws IOException, StagingException {
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      return checksums(in, length);
    }
  }

  /** As above, through one channel read by position, so its ranges can share it. */
  private long[] checksums(FileChannel in, long length) throws IOException, StagingException {
    List<Long> sums = run(length, (start, end) -> crc32c(in, start, end));
    return sums.stream().mapToLong(Long::longValue).toArray();
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

  private interface RangeWork<T> {
    T run(long start, long end) throws IOException;
  }

  /**
   * Runs {@code work} over each range of {@code [0, length)}, at most {@link #PARALLEL_RANGES} at
   * once (this thread is one of them), and returns the results in range order.
   */
  private <T> List<T> run(long length, RangeWork<T> work) throws IOException, StagingException {
    int count = (int) Math.max(1, Math.ceilDiv(length, rangeSize));
    if (count == 1) {
      return List.of(work.run(0, length));
    }
    var results = new java.util.concurrent.atomic.AtomicReferenceArray<T>(count);
    var next = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.Callable<Void> worker =
        () -> {
          for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
            long start = i * rangeSize;
            results.set(i, work.run(start, Math.min(length, start + rangeSize)));
          }
          return null;
        };
    var futures = new ArrayList<Future<Void>>();
    for (int w = 1; w < Math.min(count, PARALLEL_RANGES); w++) {
      futures.add(ranges.submit(worker));
    }
    try {
      worker.call();
      for (Future<Void> f : futures) {
        f.get();
      }
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new StagingException("copy failed: " + e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StagingException("interrupted while copying");
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new StagingException("copy failed: " + e);
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
