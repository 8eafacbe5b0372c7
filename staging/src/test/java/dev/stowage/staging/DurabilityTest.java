package dev.stowage.staging;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Flushing written files: whether bytes reached the device cannot be seen from here, so these check
 * that the C library is linked where it should be, that both ways run through real files and
 * directories, and that they leave the files as they were.
 */
class DurabilityTest {
  @TempDir Path tmp;

  @Test
  void onLinuxALargeSetIsFlushedByOneSyncOfEachFileSystem() {
    assertThat(Durability.syncsWholeFileSystems())
        .isEqualTo(System.getProperty("os.name").startsWith("Linux"));
  }

  @Test
  void manyFilesInTwoDirectoriesAreFlushedAndUnchanged() throws Exception {
    var files = new ArrayList<Path>();
    List<Path> directories = List.of(tmp.resolve("a"), tmp.resolve("b"));
    for (Path directory : directories) {
      Files.createDirectories(directory);
      for (int i = 0; i < 50; i++) {
        files.add(Files.writeString(directory.resolve("f" + i), "content " + i));
      }
    }

    Durability.sync(files, directories); // 100 files: the whole-file-system way on Linux
    Durability.syncEach(files, directories);

    for (int i = 0; i < files.size(); i++) {
      assertThat(files.get(i)).hasContent("content " + (i % 50));
    }
  }

  @Test
  void aFlushOfADirectoryThatIsGoneSaysWhichOne() {
    Path gone = tmp.resolve("gone");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> Durability.syncFileSystems(List.of(gone)))
        .isInstanceOf(java.io.IOException.class)
        .hasMessageContaining(gone.toString());
  }
}
