package dev.stowage.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MatcherTest {

  static Offer offer(String name, long cpu, long mem, long disk, long gpus, Map<String, String> a) {
    return new Offer(name, "node-" + name, new Resources(cpu, mem, disk, gpus), a);
  }

  static Task task(String name, long cpu, long mem, long disk, long gpus) {
    return new Task(name, new Resources(cpu, mem, disk, gpus));
  }

  static Matcher matcher(String which) {
    return which.equals("fast") ? Matcher.fast() : Matcher.reference(Scorer.TIGHTEST_FIT);
  }

  @ParameterizedTest
  @ValueSource(strings = {"fast", "reference"})
  void tightestFitPrefersTheSnuggestOfferAndMakesCpuTasksPayForIdleGpus(String which) {
    var offers =
        List.of(
            offer("gpu", 2000, 4096, 1000, 4, Map.of()),
            offer("big", 16000, 65536, 1000, 0, Map.of()),
            offer("snug", 2000, 4096, 1000, 0, Map.of()));
    var tasks = List.of(task("t", 1000, 2048, 500, 0));

    var result = matcher(which).match(tasks, offers, MatchMode.CONSUME);

    // gpu scores 0.5+0.5+0.5+1 = 2.5, snug 1.5, big 1.84...: snug wins.
    assertThat(result.assignments()).containsExactly(new Assignment("t", "snug"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"fast", "reference"})
  void equalScoresGoToTheLowestOfferIndex(String which) {
    var offers =
        List.of(
            offer("o0", 1000, 1000, 0, 0, Map.of("zone", "b")),
            offer("o1", 1000, 1000, 0, 0, Map.of("zone", "a")),
            offer("o2", 1000, 1000, 0, 0, Map.of("zone", "a")));
    var tasks =
        List.of(
            new Task("t0", new Resources(500, 500, 0, 0), Map.of("zone", "a")),
            new Task("t1", new Resources(500, 500, 0, 0), Map.of("zone", "a")),
            new Task("t2", new Resources(500, 500, 0, 0), Map.of("zone", "a")));

    var consume = matcher(which).match(tasks, offers, MatchMode.CONSUME);
    var pack = matcher(which).match(tasks, offers, MatchMode.PACK);

    assertThat(consume.assignments())
        .containsExactly(new Assignment("t0", "o1"), new Assignment("t1", "o2"));
    // In pack mode o1 is half used after t0, so t1 fits it tighter and fills it.
    assertThat(pack.assignments())
        .containsExactly(
            new Assignment("t0", "o1"), new Assignment("t1", "o1"), new Assignment("t2", "o2"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"fast", "reference"})
  void emptyInputsMatchNothing(String which) {
    assertThat(matcher(which).match(List.of(), List.of(), MatchMode.PACK).assignments()).isEmpty();
    assertThat(
            matcher(which)
                .match(List.of(task("t", 1, 1, 1, 0)), List.of(), MatchMode.CONSUME)
                .unassignedTasks())
        .containsExactly(0);
    assertThat(
            matcher(which)
                .match(List.of(), List.of(offer("o", 1, 1, 1, 0, Map.of())), MatchMode.PACK)
                .matchedCount())
        .isZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {"CONSUME", "PACK"})
  void aClusterOfIdenticalNodesMatchesLikeTheReference(MatchMode mode) {
    var offers = new java.util.ArrayList<Offer>();
    for (int i = 0; i < 3000; i++) {
      offers.add(offer("o" + i, 16000, 65536, 100000, 0, Map.of("zone", i % 3 == 0 ? "a" : "b")));
    }
    var tasks = new java.util.ArrayList<Task>();
    for (int i = 0; i < 4000; i++) {
      tasks.add(
          new Task(
              "t" + i,
              new Resources(1000L * (1 + i % 3), 4096L * (1 + i % 2), 1000, 0),
              i % 5 == 0 ? Map.of("zone", "a") : Map.of()));
    }
    for (Scorer scorer : Scorer.values()) {
      assertThat(Matcher.fast(scorer).match(tasks, offers, mode).assignments())
          .as(scorer.label())
          .isEqualTo(Matcher.reference(scorer).match(tasks, offers, mode).assignments());
    }
  }

  @Test
  void binPackingConsolidatesWhereTightestFitWouldNot() {
    // Two equal offers; after the first task, bin-packing keeps filling the used one.
    var offers =
        List.of(
            offer("o0", 4000, 8192, 100, 0, Map.of()), offer("o1", 4000, 8192, 100, 0, Map.of()));
    var tasks = List.of(task("t0", 1000, 1024, 1, 0), task("t1", 1000, 1024, 1, 0));

    var packed = Matcher.fast(Scorer.BIN_PACKING).match(tasks, offers, MatchMode.PACK);
    var spread = Matcher.fast(Scorer.SPREAD).match(tasks, offers, MatchMode.PACK);

    assertThat(packed.assignments())
        .containsExactly(new Assignment("t0", "o0"), new Assignment("t1", "o0"));
    assertThat(spread.assignments())
        .containsExactly(new Assignment("t0", "o0"), new Assignment("t1", "o1"));
  }

  @Test
  void duplicateNamesAreRejectedWithTheName() {
    var offers = List.of(offer("o", 1, 1, 1, 0, Map.of()), offer("o", 2, 2, 2, 0, Map.of()));
    assertThatThrownBy(() -> Matcher.fast().match(List.of(), offers, MatchMode.PACK))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("duplicate offer name 'o'");
    var tasks = List.of(task("t", 1, 1, 1, 0), task("t", 1, 1, 1, 0));
    assertThatThrownBy(
            () -> Matcher.reference(Scorer.SPREAD).match(tasks, List.of(), MatchMode.PACK))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("duplicate task name 't'");
  }

  @Test
  void resourcesOutsideTheContractRangeAreRejectedNamingTheDimension() {
    assertThatThrownBy(() -> new Resources(1, -1, 0, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("memoryMiB");
    assertThatThrownBy(() -> new Resources(0, 0, 0, Resources.MAX_AMOUNT + 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("gpus");
    assertThat(new Resources(Resources.MAX_AMOUNT, 0, 0, 0).cpuMillis())
        .isEqualTo(Resources.MAX_AMOUNT);
  }

  @Test
  void namesMustNotBeBlank() {
    assertThatThrownBy(() -> new Task(" ", Resources.NONE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("task name");
  }

  @Test
  void scorersAreFoundByLabel() {
    assertThat(Scorer.parse("bin-packing")).isEqualTo(Scorer.BIN_PACKING);
    assertThat(Scorer.parse("SPREAD")).isEqualTo(Scorer.SPREAD);
    assertThatThrownBy(() -> Scorer.parse("random"))
        .hasMessageContaining("unknown scorer 'random'")
        .hasMessageContaining("tightest-fit");
  }
}
