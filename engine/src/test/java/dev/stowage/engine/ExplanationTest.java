package dev.stowage.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExplanationTest {

  @Test
  void countsEachOfferOnceUnderItsFirstFailingCheck() {
    var offers =
        List.of(
            new Offer("b1", "n1", new Resources(8000, 32768, 1000, 0), Map.of("zone", "b")),
            new Offer("b2", "n2", new Resources(8000, 32768, 1000, 0), Map.of("zone", "b")),
            new Offer("a1", "n3", new Resources(8000, 1024, 1000, 0), Map.of("zone", "a")),
            new Offer("a2", "n4", new Resources(8000, 1024, 1000, 0), Map.of("zone", "a")),
            new Offer("a3", "n5", new Resources(500, 1024, 1000, 0), Map.of("zone", "a")));
    var tasks = List.of(new Task("t", new Resources(1000, 4096, 10, 0), Map.of("zone", "a")));

    var result = Matcher.fast().match(tasks, offers, MatchMode.PACK);
    Explanation why = result.explain(0);

    assertThat(result.matchedCount()).isZero();
    assertThat(why.fitting()).isZero();
    assertThat(why.reasons())
        .containsExactly(
            Map.entry("constraint zone=a", 2),
            Map.entry("insufficient memoryMiB", 2),
            Map.entry("insufficient cpuMillis", 1));
    // The same counts, typed, with the numbers a person would ask for next.
    assertThat(why.rejections())
        .containsExactly(
            new Rejection.Count(new Rejection.Constraint("zone", "a"), 2),
            new Rejection.Count(new Rejection.Insufficient(1, 4096, 1024, 1024), 2),
            new Rejection.Count(new Rejection.Insufficient(0, 1000, 500, 500), 1));
    assertThat(why.rejections())
        .extracting(c -> c.reason().kind())
        .containsExactly("constraint", "insufficient memoryMiB", "insufficient cpuMillis");
    assertThat(why.neverFits()).isTrue();
    assertThat(why.message())
        .isEqualTo(
            "0/5 offers fit: 2 constraint zone=a, 2 insufficient memoryMiB, 1 insufficient"
                + " cpuMillis; never schedulable: no offer in the input could ever fit it");
  }

  @Test
  void aTaskCrowdedOutByEarlierTasksIsNotNeverSchedulable() {
    var offers = List.of(new Offer("o", "n", new Resources(1000, 1000, 0, 0)));
    var tasks =
        List.of(
            new Task("first", new Resources(1000, 1000, 0, 0)),
            new Task("second", new Resources(1000, 1000, 0, 0)));

    var consume = Matcher.fast().match(tasks, offers, MatchMode.CONSUME);
    var pack = Matcher.fast().match(tasks, offers, MatchMode.PACK);

    assertThat(consume.explainUnassigned()).hasSize(1);
    Explanation taken = consume.explainUnassigned().getFirst();
    assertThat(taken.task()).isEqualTo("second");
    assertThat(taken.neverFits()).isFalse();
    assertThat(taken.message()).isEqualTo("0/1 offers fit: 1 taken by an earlier task");
    assertThat(pack.explainUnassigned().getFirst().message())
        .isEqualTo("0/1 offers fit: 1 insufficient cpuMillis");
  }

  @Test
  void identicalUnassignedTasksShareTheirCountsButKeepTheirNames() {
    var offers = List.of(new Offer("o", "n", new Resources(1, 1, 1, 0)));
    var tasks =
        List.of(new Task("x", new Resources(5, 5, 5, 0)), new Task("y", new Resources(5, 5, 5, 0)));

    var why = Matcher.reference(Scorer.TIGHTEST_FIT).match(tasks, offers, MatchMode.PACK);

    assertThat(why.explainUnassigned())
        .extracting(Explanation::task, Explanation::message)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "x",
                "0/1 offers fit: 1 insufficient cpuMillis; never schedulable: no offer in the"
                    + " input could ever fit it"),
            org.assertj.core.groups.Tuple.tuple(
                "y",
                "0/1 offers fit: 1 insufficient cpuMillis; never schedulable: no offer in the"
                    + " input could ever fit it"));
  }
}
