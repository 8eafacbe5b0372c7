package dev.stowage.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The library example in README.md does what the README says it does. */
class ReadmeExampleTest {

  @Test
  void embeddingExample() {
    var offers =
        List.of(
            new Offer(
                "offer-0", "node-0", new Resources(8_000, 32_768, 200_000, 0), Map.of("zone", "a")),
            new Offer(
                "offer-1",
                "node-1",
                new Resources(4_000, 16_384, 100_000, 0),
                Map.of("zone", "b")));
    var tasks =
        List.of(
            new Task("etl-1", new Resources(2_000, 4_096, 10_000, 0), Map.of("zone", "a")),
            new Task("train-1", new Resources(4_000, 16_000, 50_000, 0)));

    MatchResult result = Matcher.fast().match(tasks, offers, MatchMode.PACK);

    assertThat(result.assignments())
        .containsExactly(new Assignment("etl-1", "offer-0"), new Assignment("train-1", "offer-1"));
    assertThat(result.explainUnassigned()).isEmpty();
  }
}
