package dev.stowage.staging;

import static dev.stowage.testing.Draw.weight;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.testing.PropertyCheck;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Copies in ranges, checked, renamed into place; identical destinations left alone. */
class FileCopyTest {
  @TempDir Path tmp;

  @Test
  void aLargeFileIsCopiedInRangesAndThenLeftAloneWhenAlreadyThere() throws Exception {
    Path source = random(tmp.resolve("big.bin"), (5 << 20) + 12345, 7);
    Path to = tmp.resolve("out/big.bin");
    Files.createDirectories(to.getParent());
    try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
      var copy = new FileCopy(1 << 20, threads);
      var progress = new AtomicLong();

      assertThat(copy.copy(source, to, progress::addAndGet)).isEqualTo(FileCopy.Outcome.COPIED);
      assertThat(Files.mismatch(source, to)).isEqualTo(-1);
      assertThat(progress.get()).isEqualTo(Files.size(source));
      assertThat(copy.checksums(to, Files.size(to))).hasSize(6);

      progress.set(0);
      assertThat(copy.copy(source, to, progress::addAndGet))
          .isEqualTo(FileCopy.Outcome.ALREADY_THERE);
      assertThat(progress.get()).isEqualTo(Files.size(source));
    }
  }

  @Test
  void aDestinationOfTheSameLengthButOtherBytesIsCopiedAgain() throws Exception {
    Path source = random(tmp.resolve("data.bin"), 3 << 20, 1);
    Path to = tmp.resolve("copy.bin");
    Files.copy(source, to);
    // One byte changed in the last range, as a torn write would leave it.
    try (FileChannel c = FileChannel.open(to, StandardOpenOption.WRITE)) {
      c.write(
          ByteBuffer.wrap(new byte[] {(byte) ~Files.readAllBytes(source)[(3 << 20) - 5]}),
          (3 << 20) - 5);
    }
    assertThat(Files.mismatch(source, to)).isEqualTo((3 << 20) - 5);
    try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
      assertThat(new FileCopy(1 << 20, threads).copy(source, to, n -> {}))
          .isEqualTo(FileCopy.Outcome.COPIED);
    }
    assertThat(Files.mismatch(source, to)).isEqualTo(-1);
    assertThat(tmp.resolve(".copy.bin.stowage-part")).doesNotExist();
  }

  @Test
  void byDefaultAFileIsCopiedAsOneStreamAndCheckedInLargeRanges() throws Exception {
    Path source = random(tmp.resolve("one.bin"), (5 << 20) + 3, 11);
    Path to = tmp.resolve("one-copy.bin");
    try (var threads = Executors.newCachedThreadPool()) {
      var copy = new FileCopy(0, threads);
      assertThat(copy.copy(source, to, n -> {})).isEqualTo(FileCopy.Outcome.COPIED);
      assertThat(Files.mismatch(source, to)).isEqualTo(-1);
      assertThat(copy.checksums(to, Files.size(to))).hasSize(1); // 256 MiB check ranges
    }
  }

  @Test
  void flushedCopiesOfALargeAndASmallFileMatch() throws Exception {
    // Above the 64 MiB from which a flushed copy flushes itself beside its checks; and one below,
    // flushed after them.
    Path large = random(tmp.resolve("large.bin"), (65 << 20) + 17, 5);
    Path small = random(tmp.resolve("small.bin"), 4099, 6);
    try (var threads = Executors.newCachedThreadPool()) {
      var copy = new FileCopy(0, threads);
      var progress = new AtomicLong();
      assertThat(
              copy.copy(
                  large,
                  tmp.resolve("large-copy.bin"),
                  FileCopy.Flush.LARGE_FILES,
                  progress::addAndGet))
          .isEqualTo(FileCopy.Outcome.COPIED);
      assertThat(progress.get()).isEqualTo(Files.size(large));
      assertThat(
              copy.copy(small, tmp.resolve("small-copy.bin"), FileCopy.Flush.EVERY_FILE, n -> {}))
          .isEqualTo(FileCopy.Outcome.COPIED);
    }
    assertThat(Files.mismatch(large, tmp.resolve("large-copy.bin"))).isEqualTo(-1);
    assertThat(Files.mismatch(small, tmp.resolve("small-copy.bin"))).isEqualTo(-1);
    assertThat(tmp.resolve(".large-copy.bin.stowage-part")).doesNotExist();
  }

  @Test
  void aCopyRangeBelowOnePageIsRefusedSayingWhatIsAllowed() {
    try (var threads = Executors.newCachedThreadPool()) {
      assertThatThrownBy(() -> new FileCopy(100, threads))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("the copy range must be 0 (one stream) or at least 4 KiB, got 100");
    }
  }

  @Test
  void everyLengthAroundTheRangeBoundariesCopiesExactly() {
    // Lengths near each multiple of the 4 KiB range (and any other), random contents.
    PropertyCheck.forAll(
        40,
        d ->
            new Copy(
                d.weighted(
                    weight(3, x -> Math.max(0, 4096 * x.between(0, 5) + x.between(-3, 3))),
                    weight(1, x -> x.between(0, 5 * 4096 + 3))),
                d.anyLong()),
        FileCopyTest::copiesExactly);
  }

  record Copy(int length, long seed) {}

  static void copiesExactly(Copy c) {
    try {
      Path dir = Files.createTempDirectory("filecopy");
      try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
        Path source = random(dir.resolve("s"), c.length(), c.seed());
        Path to = dir.resolve("d");
        new FileCopy(4096, threads).copy(source, to, n -> {});
        assertThat(Files.mismatch(source, to)).isEqualTo(-1);
      } finally {
        try (var files = Files.list(dir)) {
          for (Path p : files.toList()) {
            Files.delete(p);
          }
        }
        Files.delete(dir);
      }
    } catch (IOException | StagingException e) {
      throw new AssertionError(e);
    }
  }

  private static Path random(Path file, int length, long seed) throws IOException {
    byte[] bytes = new byte[length];
    new Random(seed).nextBytes(bytes);
    return Files.write(file, bytes);
  }
}
