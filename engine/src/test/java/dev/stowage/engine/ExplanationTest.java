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
  void aTaintedOfferTakesOnlyTasksThatTolerateItAndSaysWhichTaintKeptTheOthersOff() {
    var gpu = new Taint("nvidia.com/gpu", "present", "NoSchedule");
    var etl = new Taint("dedicated", "etl", "NoExecute");
    var offers =
        List.of(
            new Offer("g", "n1", new Resources(8000, 8000, 0, 1), Map.of(), List.of(gpu)),
            new Offer("e1", "n2", new Resources(8000, 8000, 0, 0), Map.of(), List.of(etl)),
            new Offer("e2", "n3", new Resources(8000, 8000, 0, 0), Map.of(), List.of(etl, gpu)));
    var plain = new Task("plain", new Resources(1000, 1000, 0, 0));
    var trainer =
        new Task(
            "trainer",
            new Resources(1000, 1000, 0, 1),
            Map.of(),
            List.of(new Toleration("nvidia.com/gpu", true, "", "NoSchedule")));
    var anywhere =
        new Task(
            "anywhere",
            new Resources(1000, 1000, 0, 0),
            Map.of(),
            List.of(new Toleration("", true, "", "")));

    var result = Matcher.fast().match(List.of(plain, trainer, anywhere), offers, MatchMode.PACK);

    assertThat(result.offerIndexOf(0)).isEqualTo(-1);
    assertThat(result.offerIndexOf(1)).isEqualTo(0);
    assertThat(result.offerIndexOf(2)).isNotEqualTo(-1);
    Explanation why = result.explain(0);
    assertThat(why.rejections())
        .containsExactly(
            new Rejection.Count(new Rejection.Untolerated(etl), 2),
            new Rejection.Count(new Rejection.Untolerated(gpu), 1));
    assertThat(why.message())
        .isEqualTo(
            "0/3 offers fit: 2 untolerated taint dedicated=etl:NoExecute, 1 untolerated taint"
                + " nvidia.com/gpu=present:NoSchedule; never schedulable: no offer in the input"
                + " could ever fit it");
  }

  @Test
  void tolerationsFollowKubernetesRules() {
    var t = new Taint("k", "v", "NoSchedule");
    assertThat(new Toleration("k", false, "v", "").tolerates(t)).isTrue();
    assertThat(new Toleration("k", false, "w", "").tolerates(t)).isFalse();
    assertThat(new Toleration("k", true, "", "NoSchedule").tolerates(t)).isTrue();
    assertThat(new Toleration("k", true, "", "NoExecute").tolerates(t)).isFalse();
    assertThat(new Toleration("other", true, "", "").tolerates(t)).isFalse();
    assertThat(new Toleration("", true, "", "").tolerates(t)).isTrue();
    assertThat(new Taint("k", "", "NoExecute")).hasToString("k:NoExecute");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Toleration("", false, "", ""))
        .hasMessageContaining("operator Exists");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Toleration("k", true, "v", ""))
        .hasMessageContaining("takes no value");
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
