package dev.stowage.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.testing.Draw;
import dev.stowage.testing.PropertyCheck;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The gang rule around the match, with the store in memory and the engine's fast matcher. */
class PlaceGangsTest {
  private static final Instant T0 = Instant.parse("2026-12-02T12:00:00Z");

  private final InMemoryTaskStore store = new InMemoryTaskStore();
  private final PlaceGangs gangs =
      new PlaceGangs(
          store, new MatchTasks(Matcher.fast(), MatchMode.PACK, Clock.fixed(T0, ZoneOffset.UTC)));

  private static List<Offer> nodes(int count, long cpuMillis) {
    var out = new ArrayList<Offer>();
    for (int i = 0; i < count; i++) {
      out.add(new Offer("n" + i, "n" + i, new Resources(cpuMillis, 4096, 0, 0)));
    }
    return out;
  }

  private static TaskSpec task(String id, long cpuMillis) {
    return TaskSpec.of(id, "true").withResources(new Resources(cpuMillis, 1, 0, 0));
  }

  private static List<TaskSpec> gang(String name, int size, long cpuMillis, int priority) {
    var out = new ArrayList<TaskSpec>();
    for (int i = 0; i < size; i++) {
      out.add(
          task(name + "-" + i, cpuMillis).withGang(new Gang(name, size)).withPriority(priority));
    }
    return out;
  }

  private List<String> placedIds(PlaceGangs.Placed placed) {
    return placed.result().assignments().stream().map(a -> a.task()).toList();
  }

  @Test
  void aGangThatDoesNotFitWholeHoldsNothingAndTheTasksBehindItTakeTheRoom() {
    var batch = new ArrayList<>(gang("train", 4, 1000, 10));
    batch.add(task("after", 1000));
    store.submit(batch, T0);

    var placed = gangs.place(store.processable(100, T0), nodes(3, 1000));

    assertThat(placedIds(placed)).containsExactly("after");
    assertThat(placed.tasks()).extracting(StoredTask::id).containsExactly("after");
    assertThat(gangs.waiting("train").orElseThrow().describe())
        .isEqualTo("gang train: 3 of 4 members fit");
  }

  @Test
  void aGangThatFitsIsPlacedWholeInOneMatch() {
    var batch = new ArrayList<>(gang("pair", 2, 1000, 0));
    batch.add(task("other", 1000));
    store.submit(batch, T0);

    var placed = gangs.place(store.processable(100, T0), nodes(3, 1000));

    assertThat(placedIds(placed)).containsExactlyInAnyOrder("pair-0", "pair-1", "other");
    assertThat(gangs.waiting("pair")).isEmpty();
  }

  @Test
  void aGangThatFitsOnceAGangAheadOfItIsLeftOutIsPlaced() {
    var batch = new ArrayList<>(gang("big", 4, 1000, 10));
    batch.addAll(gang("pair", 2, 1000, 0));
    store.submit(batch, T0);

    var placed = gangs.place(store.processable(100, T0), nodes(2, 1000));

    assertThat(placedIds(placed)).containsExactlyInAnyOrder("pair-0", "pair-1");
    assertThat(gangs.waiting("big").orElseThrow().describe())
        .isEqualTo("gang big: 2 of 4 members fit");
  }

  @Test
  void pastTheLastRoundEveryGangPlacedInPartWaits() {
    var batch = new ArrayList<TaskSpec>();
    for (int g = 0; g < PlaceGangs.MAX_ROUNDS + 2; g++) {
      batch.addAll(gang("g" + g, 2, 1000, 100 - g));
    }
    store.submit(batch, T0);

    var placed = gangs.place(store.processable(100, T0), nodes(1, 1000));

    assertThat(placedIds(placed)).isEmpty();
    for (int g = 0; g < PlaceGangs.MAX_ROUNDS + 2; g++) {
      assertThat(gangs.waiting("g" + g)).as("g" + g).isPresent();
    }
  }

  @Test
  void aGangWithAMemberNotQueuedIsLeftOutBeforeMatching() {
    store.submit(List.of(task("first", 1)), T0);
    var batch = gang("waits", 3, 100, 0);
    batch.set(2, batch.get(2).withDependsOn("first"));
    store.submit(batch, T0);

    var placed = gangs.place(store.processable(100, T0), nodes(3, 1000));

    assertThat(placedIds(placed)).containsExactly("first");
    assertThat(gangs.waiting("waits").orElseThrow().describe())
        .startsWith("gang waits: 2 of 3 members are queued and ready to place");
  }

  @Test
  void aMemberRetriedWhileTheRestRunsIsPlacedAlone() {
    store.submit(gang("job", 3, 1000, 0), T0);
    store.assignAll(Map.of("job-0", "n0", "job-1", "n1"), T0);

    var placed = gangs.place(store.processable(100, T0), nodes(1, 1000));

    assertThat(placedIds(placed)).containsExactly("job-2");
  }

  /** A drawn case: nodes, and plain tasks and gangs in a random order of priorities. */
  record Case(List<Offer> offers, List<TaskSpec> tasks) {}

  static Case draw(Draw d) {
    var offers = new ArrayList<Offer>();
    int nodes = d.between(1, 5);
    for (int i = 0; i < nodes; i++) {
      offers.add(
          new Offer(
              "n" + i,
              "n" + i,
              new Resources(d.between(0, 4) * 1000L, d.between(1, 4) * 1024L, 0, 0)));
    }
    var tasks = new ArrayList<TaskSpec>();
    int groups = d.between(1, 8);
    for (int g = 0; g < groups; g++) {
      long cpu = d.between(1, 3) * 500L;
      int priority = d.between(0, 3);
      if (d.chance(0.5)) {
        tasks.addAll(gang("g" + g, d.between(1, 5), cpu, priority));
      } else {
        tasks.add(task("t" + g, cpu).withPriority(priority));
      }
    }
    return new Case(offers, tasks);
  }

  @Test
  void everyGangIsPlacedWholeOrNotAtAllAndAGangLeftOutHoldsNothing() {
    PropertyCheck.forAll(
        400,
        PlaceGangsTest::draw,
        c -> {
          var store = new InMemoryTaskStore();
          store.submit(c.tasks(), T0);
          var rule =
              new PlaceGangs(
                  store,
                  new MatchTasks(Matcher.fast(), MatchMode.PACK, Clock.fixed(T0, ZoneOffset.UTC)));
          List<StoredTask> taken = store.processable(1000, T0);

          var placed = rule.place(taken, c.offers());

          var placedIds = new HashSet<>(placedIds(placed));
          var size = new HashMap<String, Integer>();
          var fit = new HashMap<String, Integer>();
          for (TaskSpec t : c.tasks()) {
            if (t.gang() != null) {
              size.put(t.gang().name(), t.gang().size());
              fit.merge(t.gang().name(), placedIds.contains(t.id()) ? 1 : 0, Integer::sum);
            }
          }
          for (String g : size.keySet()) {
            assertThat(fit.get(g)).as("gang " + g).isIn(0, size.get(g));
            assertThat(rule.waiting(g).isPresent()).as("gang " + g).isEqualTo(fit.get(g) == 0);
          }
          // What is placed is the exact match of what is left: a gang left out holds no offer.
          Set<String> left = new HashSet<>();
          placed.tasks().forEach(t -> left.add(t.id()));
          for (StoredTask t : taken) {
            boolean waits = t.spec().gang() != null && fit.get(t.spec().gang().name()) == 0;
            assertThat(left.contains(t.id())).as(t.id()).isEqualTo(!waits);
          }
          MatchResult alone =
              Matcher.fast()
                  .match(
                      placed.tasks().stream()
                          .map(
                              t ->
                                  new dev.stowage.engine.Task(
                                      t.id(),
                                      t.spec().resources(),
                                      t.spec().constraints(),
                                      t.spec().tolerations()))
                          .toList(),
                      c.offers(),
                      MatchMode.PACK);
          assertThat(placed.result().assignments()).isEqualTo(alone.assignments());
        });
  }
}
