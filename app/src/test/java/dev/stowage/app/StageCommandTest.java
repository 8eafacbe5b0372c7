package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code stowage stage} from the command line: plain progress lines when not on a terminal. */
class StageCommandTest {
  @TempDir Path dir;

  @Test
  void aDirectoryIsCopiedWholeAndASecondRunFindsItThere() throws Exception {
    Files.createDirectories(dir.resolve("src/sub"));
    Files.writeString(dir.resolve("src/a.txt"), "alpha");
    Files.write(dir.resolve("src/sub/b.bin"), new byte[3 << 20]);

    var first =
        MainTest.run(
            "stage",
            "--range-mib",
            "1",
            dir.resolve("src").toString(),
            dir.resolve("dst").toString());
    var second =
        MainTest.run("stage", dir.resolve("src").toString(), dir.resolve("dst").toString());

    assertThat(first.exit()).isZero();
    assertThat(first.out())
        .startsWith("2 file(s), 3.0 MiB to stage\n")
        .containsPattern("staged 2 file\\(s\\), 3.0 MiB in [0-9.]+ s \\(.*/s\\); 0 already there");
    assertThat(dir.resolve("dst/a.txt")).hasContent("alpha");
    assertThat(Files.mismatch(dir.resolve("src/sub/b.bin"), dir.resolve("dst/sub/b.bin")))
        .isEqualTo(-1);
    assertThat(second.out()).contains("; 2 already there");

    // Into an existing directory, as cp does: under the source's own name.
    var into =
        MainTest.run("stage", dir.resolve("src/a.txt").toString(), dir.resolve("dst").toString());
    assertThat(into.exit()).isZero();
    assertThat(dir.resolve("dst/a.txt")).hasContent("alpha");
    var treeInto =
        MainTest.run("stage", dir.resolve("src/sub").toString(), dir.resolve("dst").toString());
    assertThat(treeInto.exit()).isZero();
    assertThat(dir.resolve("dst/sub/b.bin")).exists();
  }

  @Test
  void aMissingSourceOrABadBucketIsOneLineAndExitCode1() {
    var missing =
        MainTest.run("stage", dir.resolve("absent").toString(), dir.resolve("x").toString());
    var badBucket = MainTest.run("stage", "s3://B/k", dir.resolve("y").toString());

    assertThat(missing.exit()).isEqualTo(1);
    assertThat(missing.err().strip())
        .isEqualTo(
            "stowage stage: source "
                + dir.resolve("absent").toUri()
                + ": no such file or directory");
    assertThat(badBucket.exit()).isEqualTo(1);
    assertThat(badBucket.err()).contains("valid bucket name").doesNotContain("Exception");
  }

  @Test
  void aNegativeRangeOrNoParallelFilesIsRefusedNamingTheOptions() {
    var range =
        MainTest.run("stage", "--range-mib", "-1", dir.toString(), dir.resolve("x").toString());
    var files =
        MainTest.run("stage", "--parallel-files", "0", dir.toString(), dir.resolve("y").toString());

    for (var r : java.util.List.of(range, files)) {
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.err().strip())
          .isEqualTo("stowage: --parallel-files must be at least 1 and --range-mib at least 0");
    }
    assertThat(dir.resolve("x")).doesNotExist();
  }
}
