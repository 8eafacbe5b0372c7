package dev.stowage.workload;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.Assignment;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Scorer;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The shared conformance sets (copied from ../shared/conformance), reproduced exactly. */
class ConformanceTest {

  static Stream<Arguments> cases() {
    var sets = List.of("edges-300x60", "mixed-300x80", "mixed-2000x500", "ties-200x100");
    return sets.stream()
        .flatMap(
            set ->
                Stream.of(MatchMode.values())
                    .flatMap(
                        mode ->
                            Stream.of("fast", "reference")
                                .map(matcher -> Arguments.of(set, mode, matcher))));
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void reproducesExpectedAssignments(String set, MatchMode mode, String matcherName)
      throws Exception {
    Path dir = resource("conformance/" + set);
    Workload workload = WorkloadFiles.read(dir.resolve("tasks.jsonl"), dir.resolve("offers.jsonl"));
    List<Assignment> expected =
        WorkloadFiles.readAssignments(dir.resolve("expected_" + mode.label() + ".jsonl"));
    Matcher matcher =
        matcherName.equals("fast")
            ? Matcher.fast(Scorer.TIGHTEST_FIT)
            : Matcher.reference(Scorer.TIGHTEST_FIT);

    var result = matcher.match(workload.tasks(), workload.offers(), mode);

    assertThat(expected).isNotEmpty();
    assertThat(result.assignments()).containsExactlyElementsOf(expected);
  }

  static Path resource(String name) throws URISyntaxException {
    return Path.of(ConformanceTest.class.getClassLoader().getResource(name).toURI());
  }
}
