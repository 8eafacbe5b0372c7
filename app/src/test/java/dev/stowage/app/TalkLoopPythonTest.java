package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.workload.WorkloadFiles;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The Python peer of the benchmark follows the contract: it reproduces the conformance sets. */
class TalkLoopPythonTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({
    "mixed-300x80,consume",
    "mixed-300x80,pack",
    "ties-200x100,pack",
    "edges-300x60,pack"
  })
  void reproducesConformanceSet(String set, String mode) throws Exception {
    Assumptions.assumeTrue(
        pythonAvailable(), "python3 is not installed: the Python peer cannot run here");
    Path data = Path.of("..", "workload", "src", "test", "resources", "conformance", set);
    Path script = dir.resolve("talk_loop.py");
    try (InputStream in = SideBySide.class.getResourceAsStream("talk_loop.py")) {
      Files.copy(in, script);
    }
    Path out = dir.resolve("out.jsonl");

    Process p =
        new ProcessBuilder(
                "python3",
                script.toString(),
                data.resolve("tasks.jsonl").toString(),
                data.resolve("offers.jsonl").toString(),
                mode,
                out.toString())
            .redirectErrorStream(true)
            .start();
    String printed = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();

    assertThat(p.exitValue()).as(printed).isZero();
    assertThat(printed).containsPattern("matched=\\d+ match_ms=\\d");
    assertThat(WorkloadFiles.readAssignments(out))
        .isEqualTo(WorkloadFiles.readAssignments(data.resolve("expected_" + mode + ".jsonl")));
  }

  static boolean pythonAvailable() {
    try {
      return new ProcessBuilder("python3", "--version").start().waitFor() == 0;
    } catch (Exception e) {
      return false;
    }
  }
}
