package dev.stowage.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.engine.Assignment;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Task;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class WorkloadFilesTest {
  @TempDir Path dir;

  @Test
  void readsTheContractFormatWithDefaultsForMissingFields() throws Exception {
    Path tasks =
        write("tasks.jsonl", "{\"name\":\"t0\",\"cpuMillis\":500}", "", "{\"name\":\"t1\"}");
    Path offers =
        write(
            "offers.jsonl",
            "{\"name\":\"o0\",\"node\":\"n0\",\"gpus\":2,\"attributes\":{\"zone\":\"a\"}}");

    Workload w = WorkloadFiles.read(tasks, offers);

    assertThat(w.tasks())
        .containsExactly(
            new Task("t0", new Resources(500, 0, 0, 0), Map.of()),
            new Task("t1", Resources.NONE, Map.of()));
    assertThat(w.offers())
        .containsExactly(new Offer("o0", "n0", new Resources(0, 0, 0, 2), Map.of("zone", "a")));
  }

  @Test
  void writesWhatItReads() throws Exception {
    Workload w = WorkloadGenerator.generate(50, 20, 3);
    Path tasks = dir.resolve("t.jsonl");
    Path offers = dir.resolve("o.jsonl");
    WorkloadFiles.writeTasks(tasks, w.tasks());
    WorkloadFiles.writeOffers(offers, w.offers());

    assertThat(WorkloadFiles.read(tasks, offers)).isEqualTo(w);
    assertThat(Files.readAllLines(tasks))
        .hasSize(50)
        .allMatch(l -> l.startsWith("{\"name\":\"task-"));
  }

  @Test
  void assignmentsAreOneObjectPerLine() throws Exception {
    var out = new StringWriter();
    WorkloadFiles.writeAssignments(
        out, List.of(new Assignment("t0", "o1"), new Assignment("t1", "o0")));
    assertThat(out.toString())
        .isEqualTo("{\"task\":\"t0\",\"offer\":\"o1\"}\n{\"task\":\"t1\",\"offer\":\"o0\"}\n");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          negative amount        | {"name":"t","cpuMillis":-5}                   | 2 | field 'cpuMillis' must be an integer in [0, 2^53], got -5
          fraction               | {"name":"t","memoryMiB":1.5}                  | 2 | field 'memoryMiB' must be an integer in [0, 2^53], got 1.5
          exponent               | {"name":"t","diskMiB":1e3}                    | 2 | field 'diskMiB' must be an integer in [0, 2^53], got 1e3
          string amount          | {"name":"t","gpus":"1"}                       | 2 | field 'gpus' must be an integer in [0, 2^53], got "1"
          above 2^53             | {"name":"t","cpuMillis":9007199254740993}     | 2 | got 9007199254740993
          unknown field          | {"name":"t","cpu":5}                          | 2 | unknown field 'cpu'
          missing name           | {"cpuMillis":5}                               | 2 | missing field 'name'
          blank name             | {"name":" "}                                  | 2 | field 'name' must not be blank
          duplicate name         | {"name":"t0"}                                 | 2 | duplicate task name 't0' (first on line 1)
          malformed JSON         | {"name":"t",                                  | 2 | malformed JSON
          not an object          | [1,2]                                         | 2 | expected a JSON object
          two objects on a line  | {"name":"t"} {"name":"u"}                     | 2 | unexpected content after the object
          repeated field         | {"name":"t","cpuMillis":1,"cpuMillis":2}      | 2 | Duplicate field 'cpuMillis'
          constraint not string  | {"name":"t","constraints":{"zone":1}}         | 2 | field 'constraints.zone' must be a string
          constraints not object | {"name":"t","constraints":"zone=a"}           | 2 | field 'constraints' must be an object
          task with a node       | {"name":"t","node":"n"}                       | 2 | unknown field 'node'
          """)
  void badTaskLinesAreReportedWithFileAndLine(String why, String line, int lineNo, String message)
      throws Exception {
    Path tasks = write("tasks.jsonl", "{\"name\":\"t0\",\"cpuMillis\":1}", line);

    assertThatThrownBy(() -> WorkloadFiles.readTasks(tasks))
        .isInstanceOf(WorkloadException.class)
        .hasMessageStartingWith(tasks + ":" + lineNo + ": ")
        .hasMessageContaining(message)
        .satisfies(e -> assertThat(((WorkloadException) e).line()).isEqualTo(lineNo));
  }

  @Test
  void offersNeedANode() throws Exception {
    Path offers = write("offers.jsonl", "{\"name\":\"o\",\"cpuMillis\":1}");
    assertThatThrownBy(() -> WorkloadFiles.readOffers(offers))
        .hasMessage(offers + ":1: missing field 'node'");
  }

  @Test
  void aMissingFileIsNamed() {
    Path missing = dir.resolve("nope.jsonl");
    assertThatThrownBy(() -> WorkloadFiles.readOffers(missing))
        .isInstanceOf(WorkloadException.class)
        .hasMessage(missing + ": no such file");
  }

  @Test
  void generatorIsReproducibleAndRealistic() {
    Workload a = WorkloadGenerator.generate(5000, 1000, 9);
    Workload b = WorkloadGenerator.generate(5000, 1000, 9);

    assertThat(a).isEqualTo(b);
    assertThat(a.tasks()).hasSize(5000);
    assertThat(a.offers()).hasSize(1000);
    assertThat(a.tasks()).anyMatch(t -> t.requested().gpus() > 0);
    assertThat(a.offers()).anyMatch(o -> o.available().gpus() > 0);
    assertThat(a.tasks()).anyMatch(t -> t.constraints().containsKey("zone"));
    assertThat(a.tasks()).anyMatch(t -> t.constraints().containsKey("arch"));
    assertThat(a.offers().stream().map(o -> o.attributes().get("zone")).distinct())
        .containsExactlyInAnyOrder("a", "b", "c");
    // Varied sizes: most tasks are unlike any other, as in the shared conformance sets.
    long distinct =
        a.tasks().stream().map(t -> List.of(t.requested(), t.constraints())).distinct().count();
    assertThat(distinct).isGreaterThan(2500);
  }

  private Path write(String name, String... lines) throws Exception {
    Path file = dir.resolve(name);
    Files.write(file, List.of(lines));
    return file;
  }
}
