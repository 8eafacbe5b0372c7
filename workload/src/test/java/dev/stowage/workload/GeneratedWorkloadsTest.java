package dev.stowage.workload;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Scorer;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fast matcher equals the reference loop on realistic generated workloads large enough for a
 * deep tree, leaves that split as offers move in pack mode, and many exhausted offers.
 */
class GeneratedWorkloadsTest {

  static Stream<Arguments> cases() {
    return Stream.of(1L, 2L)
        .flatMap(
            seed ->
                Stream.of(MatchMode.values())
                    .flatMap(
                        mode -> Stream.of(Scorer.values()).map(s -> Arguments.of(seed, mode, s))));
  }

  @ParameterizedTest(name = "seed {0} {1} {2}")
  @MethodSource("cases")
  void fastEqualsReference(long seed, MatchMode mode, Scorer scorer) {
    Workload w = WorkloadGenerator.generate(6000, 1500, seed);

    var fast = Matcher.fast(scorer).match(w.tasks(), w.offers(), mode);
    var reference = Matcher.reference(scorer).match(w.tasks(), w.offers(), mode);

    assertThat(fast.matchedCount()).isPositive();
    assertThat(fast.assignments()).isEqualTo(reference.assignments());
  }
}
