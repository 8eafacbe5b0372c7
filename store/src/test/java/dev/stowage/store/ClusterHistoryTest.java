package dev.stowage.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.scheduler.history.ClusterHistory;
import dev.stowage.scheduler.history.ClusterSample;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The cluster's samples in a real PostgreSQL 17 and in the in-memory twin, by the same rules. */
class ClusterHistoryTest {
  @RegisterExtension static final TestPostgres db = new TestPostgres();
  static final Instant T0 = Instant.parse("2026-12-01T12:00:00.123Z");

  static Stream<String> histories() {
    return Stream.of("postgres", "memory");
  }

  private static ClusterHistory history(String kind) throws Exception {
    if (kind.equals("memory")) {
      return ClusterHistory.inMemory();
    }
    try (var c = db.dataSource().getConnection();
        var s = c.createStatement()) {
      s.execute("delete from cluster_samples");
    }
    return new PostgresClusterHistory(db.dataSource());
  }

  @ParameterizedTest
  @MethodSource("histories")
  void aSampleComesBackAsItWasKeptWithItsPhasesInTheOrderTheyRan(String kind) throws Exception {
    ClusterHistory history = history(kind);
    var phases = new LinkedHashMap<String, Double>();
    // Longer names first: an order jsonb would not keep for an object's keys.
    phases.put("get_resource_offers_from_cluster", 0.5);
    phases.put("match_tasks_to_offers", 12.25);
    phases.put("launch", 3.0);
    var sample =
        new ClusterSample(
            T0,
            List.of(0.25, 0.5, 0.0, 1.0),
            Map.of("etl", 0.25, "training", 0.125),
            7,
            5,
            1,
            9,
            phases);
    history.append(sample, T0.minusSeconds(86_400));

    List<ClusterSample> back = history.since(T0, noneUnreadable());
    assertThat(back).containsExactly(sample);
    assertThat(back.get(0).phaseMeanMs().keySet())
        .containsExactly("get_resource_offers_from_cluster", "match_tasks_to_offers", "launch");
  }

  @ParameterizedTest
  @MethodSource("histories")
  void samplesComeOldestFirstFromAnInstantOnAndThoseBeforeTheKeptSpanAreForgotten(String kind)
      throws Exception {
    ClusterHistory history = history(kind);
    for (int i = 0; i < 5; i++) {
      history.append(sample(T0.plusSeconds(10L * i), i), T0.minusSeconds(60));
    }
    assertThat(history.since(T0.plusSeconds(20), noneUnreadable()))
        .extracting(ClusterSample::placed)
        .containsExactly(2L, 3L, 4L);

    // Taken again at an instant already kept: the first stays.
    history.append(sample(T0.plusSeconds(40), 99), T0.minusSeconds(60));
    // Keeping from the third on forgets the first two.
    history.append(sample(T0.plusSeconds(50), 5), T0.plusSeconds(20));
    assertThat(history.since(Instant.EPOCH, noneUnreadable()))
        .extracting(ClusterSample::placed)
        .containsExactly(2L, 3L, 4L, 5L);
  }

  @Test
  void aKeptSampleThatCannotBeReadIsLeftOutAndNamedAndTheOthersComeBack() throws Exception {
    ClusterHistory history = history("postgres");
    for (int i = 0; i < 5; i++) {
      history.append(sample(T0.plusSeconds(10L * i), i), T0.minusSeconds(60));
    }
    try (var c = db.dataSource().getConnection();
        var s = c.createStatement()) {
      // Written by hand, or by a version that wrote another shape: each bad in its own way.
      s.execute(
          "update cluster_samples set sample = '{\"used\": \"all\"}' where at = '"
              + T0.plusSeconds(10)
              + "'");
      s.execute(
          "update cluster_samples set sample = sample || '{\"phaseMeanMs\": [1.0]}' where at = '"
              + T0.plusSeconds(30)
              + "'");
    }
    var unreadable = new ArrayList<ClusterHistory.Unreadable>();
    assertThat(history.since(T0, unreadable::add))
        .extracting(ClusterSample::placed)
        .containsExactly(0L, 2L, 4L);
    assertThat(unreadable)
        .extracting(ClusterHistory.Unreadable::at)
        .containsExactly(T0.plusSeconds(10), T0.plusSeconds(30));
    assertThat(unreadable.get(0).problem()).startsWith("not a sample's JSON: ");
    assertThat(unreadable.get(1).problem())
        .isEqualTo(
            "'phases' and 'phaseMeanMs' are not a list of names and one of numbers, as long");
  }

  private static Consumer<ClusterHistory.Unreadable> noneUnreadable() {
    return u -> {
      throw new AssertionError("unreadable: " + u);
    };
  }

  private static ClusterSample sample(Instant at, long placed) {
    return new ClusterSample(at, List.of(0.0, 0.0, 0.0, 0.0), Map.of(), placed, 0, 0, 0, Map.of());
  }
}
