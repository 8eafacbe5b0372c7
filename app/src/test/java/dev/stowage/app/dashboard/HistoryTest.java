package dev.stowage.app.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskFilter;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.history.ClusterHistory;
import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class HistoryTest {
  private final Cluster cluster = new Cluster();
  private final ClusterHistory kept = ClusterHistory.inMemory();
  private final History history = new History(kept, Instant.EPOCH);

  @Test
  void aSampleTalliesEveryCycleSinceTheOneBeforeHoweverMany() {
    // Far more cycles than the service keeps as its recent ones.
    for (int i = 0; i < 500; i++) {
      history.cycleRan(cycle(i, 1, ordered("offers", 1.0, "match", 3.0 + (i % 2) * 2)));
    }
    history.sample(cluster);
    history.cycleRan(cycle(500, 4, ordered("offers", 2.0, "match", 6.0)));
    history.cycleRan(cycle(501, 0, ordered("offers", 4.0, "match", 2.0)));
    history.sample(cluster);

    assertThat(history.phases()).containsExactly("offers", "match");
    List<History.Sample> s = history.samples();
    assertThat(s).extracting(History.Sample::cycles).containsExactly(500L, 2L);
    assertThat(s).extracting(History.Sample::placed).containsExactly(500L, 4L);
    assertThat(s.get(0).phaseMs(0)).isCloseTo(1.0, within(1e-9));
    assertThat(s.get(0).phaseMs(1)).isCloseTo(4.0, within(1e-9));
    assertThat(s.get(1).phaseMs(0)).isCloseTo(3.0, within(1e-9));
    assertThat(s.get(1).phaseMs(1)).isCloseTo(4.0, within(1e-9));
  }

  @Test
  void aWindowWithoutCyclesHasNoPhaseTimesAndAPhaseSeenLaterIsZeroBefore() {
    history.cycleRan(cycle(1, 0, ordered("offers", 1.0)));
    history.sample(cluster);
    history.sample(cluster); // paused: no cycle ran
    history.cycleRan(cycle(2, 0, ordered("offers", 1.0, "launch", 7.0)));
    history.sample(cluster);

    assertThat(history.phases()).containsExactly("offers", "launch");
    List<History.Sample> s = history.samples();
    assertThat(s).extracting(History.Sample::cycles).containsExactly(1L, 0L, 1L);
    assertThat(s.get(0).phaseMs(1)).isZero();
    assertThat(s.get(1).phaseMs()).isEmpty();
    assertThat(s.get(2).phaseMs(1)).isEqualTo(7.0);
  }

  @Test
  void usageSharesAndFailuresAreWhatChangedSinceTheSampleBefore() {
    cluster.counts = Map.of(TaskState.SUCCEEDED, 10L, TaskState.FAILED, 2L);
    history.sample(cluster);
    cluster.counts = Map.of(TaskState.SUCCEEDED, 13L, TaskState.FAILED, 3L);
    aQuarterOfTheCoresAndHalfTheMemoryInUseByEtl();
    history.sample(cluster);

    List<History.Sample> s = history.samples();
    // The first sample has nothing before it to count from.
    assertThat(s.get(0).finished()).isZero();
    assertThat(s.get(1).finished()).isEqualTo(4);
    assertThat(s.get(1).failed()).isEqualTo(1);
    assertThat(s.get(1).used()).containsExactly(0.25f, 0.5f, 0f, 0f);
    assertThat(history.queues()).containsExactly("etl");
    assertThat(s.get(1).share(0)).isEqualTo(0.25);
    assertThat(s.get(0).share(0)).isZero();
  }

  @Test
  void keepsADayOfSamplesAndNoMore() {
    for (int i = 0; i < History.KEPT + 5; i++) {
      cluster.at = Instant.ofEpochSecond(i * 10L);
      history.sample(cluster);
    }
    List<History.Sample> s = history.samples();
    assertThat(s).hasSize(History.KEPT);
    assertThat(s.getFirst().at()).isEqualTo(Instant.ofEpochSecond(50));
  }

  @Test
  void aHistoryStartedAgainTakesUpTheLastDayOfSamplesKept() {
    cluster.at = Instant.ofEpochSecond(1_000);
    history.cycleRan(cycle(1, 2, ordered("offers", 1.0, "launch", 3.0)));
    aQuarterOfTheCoresAndHalfTheMemoryInUseByEtl();
    history.sample(cluster);
    cluster.at = Instant.ofEpochSecond(1_010);
    history.sample(cluster);

    // A day and ten seconds on, the first sample is out of the last day; the second is not.
    var again = new History(kept, Instant.ofEpochSecond(1_010).plus(History.SPAN));
    List<History.Sample> s = again.samples();
    assertThat(s).hasSize(1);
    assertThat(s.get(0).at()).isEqualTo(Instant.ofEpochSecond(1_010));
    assertThat(again.phases()).as("no cycle ran before the sample left").isEmpty();

    var fresh = new History(kept, Instant.ofEpochSecond(1_020));
    List<History.Sample> both = fresh.samples();
    assertThat(both)
        .extracting(History.Sample::at)
        .containsExactly(Instant.ofEpochSecond(1_000), Instant.ofEpochSecond(1_010));
    History.Sample first = both.get(0);
    assertThat(first.used()).containsExactly(0.25f, 0.5f, 0f, 0f);
    assertThat(fresh.queues()).containsExactly("etl");
    assertThat(first.share(0)).isEqualTo(0.25);
    assertThat(first.placed()).isEqualTo(2);
    assertThat(first.cycles()).isEqualTo(1);
    assertThat(first.phaseMs(0)).isEqualTo(1.0);
    assertThat(first.phaseMs(1)).isEqualTo(3.0);
    assertThat(both.get(1).cycles()).isZero();
    // What it samples next continues the phases it took up.
    fresh.cycleRan(cycle(2, 0, ordered("launch", 5.0, "offers", 4.0)));
    cluster.at = Instant.ofEpochSecond(1_030);
    fresh.sample(cluster);
    assertThat(fresh.samples().getLast().phaseMs(0)).isEqualTo(4.0);
    assertThat(fresh.samples().getLast().phaseMs(1)).isEqualTo(5.0);
  }

  @Test
  void aHistoryThatCannotReadOrKeepItsSamplesStillCharts() {
    var broken =
        new ClusterHistory() {
          @Override
          public void append(dev.stowage.scheduler.history.ClusterSample s, Instant keepFrom) {
            throw new IllegalStateException("the store is down");
          }

          @Override
          public List<dev.stowage.scheduler.history.ClusterSample> since(
              Instant from, java.util.function.Consumer<ClusterHistory.Unreadable> unreadable) {
            throw new IllegalStateException("the store is down");
          }
        };
    var h = new History(broken, Instant.EPOCH);
    h.cycleRan(cycle(1, 1, ordered("offers", 1.0)));
    h.sample(cluster);
    assertThat(h.samples()).extracting(History.Sample::placed).containsExactly(1L);
  }

  @Test
  void theChartsNameTheBusiestQueuesSumTheRestAndLeaveNoBarWhereNoCycleRan() {
    var queues = new java.util.TreeMap<String, Resources>();
    for (int q = 0; q < 12; q++) {
      // Queue q holds (q + 1) % 12 tenths of a core of ten: q11 the least, q10 the most.
      queues.put("q" + q, new Resources(100L * ((q + 1) % 12 + 1), 0, 0, 0));
    }
    cluster.nodes =
        List.of(
            new DashboardData.Node(
                "n1", new Resources(10_000, 1024, 0, 0), new Resources(0, 0, 0, 0), List.of()));
    cluster.byQueue = queues;
    history.cycleRan(cycle(1, 3, ordered("offers", 1.23456, "launch", 2.0)));
    history.sample(cluster);
    cluster.at = Instant.ofEpochSecond(10);
    history.sample(cluster); // no cycle ran

    Map<String, Object> charts = Dashboard.charts(history.view());
    @SuppressWarnings("unchecked")
    var shares = (Map<String, double[]>) charts.get("shares");
    assertThat(shares.keySet())
        .containsExactly("q10", "q9", "q8", "q7", "q6", "q5", "q4", "q3", "4 other queues, summed");
    assertThat(shares.get("q10")).containsExactly(12.0, 12.0);
    // q0, q1, q2 and q11: 2, 3, 4 and 1 tenths of a core of ten.
    assertThat(shares.get("4 other queues, summed")).containsExactly(10.0, 10.0);
    @SuppressWarnings("unchecked")
    var phases = (Map<String, Double[]>) charts.get("phaseMs");
    assertThat(phases.get("offers")).containsExactly(1.235, null);
    assertThat(phases.get("launch")).containsExactly(2.0, null);
    assertThat((long[]) charts.get("placed")).containsExactly(3, 0);
    assertThat((long[]) charts.get("t")).containsExactly(0, 10);
  }

  private void aQuarterOfTheCoresAndHalfTheMemoryInUseByEtl() {
    cluster.nodes =
        List.of(
            new DashboardData.Node(
                "n1", new Resources(3000, 1024, 0, 0), new Resources(1000, 1024, 0, 0), List.of()));
    cluster.byQueue = Map.of("etl", new Resources(1000, 256, 0, 0));
  }

  private static DashboardData.Cycle cycle(long n, int launched, Map<String, Double> phases) {
    return new DashboardData.Cycle(n, Instant.EPOCH, 0, phases, 1, 1, launched, launched, 0, null);
  }

  private static Map<String, Double> ordered(Object... nameThenMs) {
    var out = new LinkedHashMap<String, Double>();
    for (int i = 0; i < nameThenMs.length; i += 2) {
      out.put((String) nameThenMs[i], (Double) nameThenMs[i + 1]);
    }
    return out;
  }

  /** What a sample reads; the rest of the dashboard's data is not asked for. */
  static final class Cluster implements DashboardData {
    List<Node> nodes = List.of();
    Map<String, Resources> byQueue = Map.of();
    Map<TaskState, Long> counts = Map.of();
    Instant at = Instant.EPOCH;

    @Override
    public List<Node> nodes() {
      return nodes;
    }

    @Override
    public Map<String, Resources> runningByQueue() {
      return byQueue;
    }

    @Override
    public Map<TaskState, Long> countByState() {
      return counts;
    }

    @Override
    public Instant now() {
      return at;
    }

    @Override
    public List<Attempt> attempts(StoredTask task) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<Cycle> recentCycles() {
      throw new UnsupportedOperationException();
    }

    @Override
    public TaskFilter.Page newest(TaskFilter filter, String beforeId, int limit) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Optional<StoredTask> task(String id) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Map<String, StoredTask> tasks(Collection<String> ids) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Set<String> dependantsOf(Collection<String> ids) {
      throw new UnsupportedOperationException();
    }

    @Override
    public String why(StoredTask task) {
      throw new UnsupportedOperationException();
    }

    @Override
    public String logTail(StoredTask task, int maxBytes) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Optional<String> staging(StoredTask task) {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean paused() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void onCycle(java.util.function.Consumer<Cycle> listener) {
      throw new UnsupportedOperationException();
    }
  }
}
