package dev.stowage.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.engine.Resources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.RetryPolicy;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TraceContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The task store against a real PostgreSQL 17. */
class PostgresTaskStoreTest {
  @RegisterExtension static final TestPostgres db = new TestPostgres();
  PostgresTaskStore store;
  static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");

  @BeforeEach
  void empty() throws Exception {
    try (var c = db.dataSource().getConnection()) {
      c.createStatement().execute("truncate tasks, task_attempts cascade");
    }
    store = new PostgresTaskStore(db.dataSource());
  }

  @Test
  void aDagIsStoredWithReadyTasksQueuedAndTheRestWaiting() {
    store.submit(
        List.of(
            TaskSpec.of("extract", "true"),
            TaskSpec.of("transform", "true").withDependsOn("extract"),
            TaskSpec.of("load", "true").withDependsOn("transform"),
            TaskSpec.of("report", "true").withPriority(5)),
        T0);

    assertThat(state("extract")).isEqualTo(TaskState.QUEUED);
    assertThat(state("transform")).isEqualTo(TaskState.WAITING);
    assertThat(store.get("load").orElseThrow().pendingDependencies()).isEqualTo(1);
    assertThat(store.processable(10, T0))
        .extracting(StoredTask::id)
        .containsExactly("report", "extract");
    assertThat(store.get("transform").orElseThrow().spec().dependsOn()).containsExactly("extract");
  }

  @Test
  void successReleasesDependantsAndFailureDoomsThemTransitively() {
    store.submit(
        List.of(
            TaskSpec.of("a", "true"),
            TaskSpec.of("b", "true").withDependsOn("a"),
            TaskSpec.of("c", "true").withDependsOn("b"),
            TaskSpec.of("d", "true").withDependsOn("c")),
        T0);

    runToEnd("a", TaskState.SUCCEEDED);
    assertThat(state("b")).isEqualTo(TaskState.QUEUED);
    assertThat(state("c")).isEqualTo(TaskState.WAITING);

    runToEnd("b", TaskState.FAILED);
    assertThat(state("c")).isEqualTo(TaskState.UPSTREAM_FAILED);
    assertThat(state("d")).isEqualTo(TaskState.UPSTREAM_FAILED);
    assertThat(store.processable(10, T0)).isEmpty();
  }

  @Test
  void aRetryByHandQueuesTheTaskWithFreshAttemptsAndWakesWhatItHadDoomed() throws Exception {
    retryScenario(store);
    empty();
    retryScenario(new dev.stowage.scheduler.InMemoryTaskStore());
    empty();
    try (var state = dev.stowage.scheduler.SchedulingState.load(store)) {
      retryScenario(state);
      state.flush();
      assertThat(state.divergences()).isZero();
    }
    // What the state wrote is in the database too, in the same submit order.
    assertThat(store.newest(dev.stowage.scheduler.TaskFilter.ALL, null, 4).tasks())
        .extracting(StoredTask::id)
        .containsExactly("x", "f", "e", "d");
  }

  /** a → b → c, a → d, f after b and e; x after w: failures, cancels, retries, in one store. */
  private static void retryScenario(dev.stowage.scheduler.TaskStore s) {
    var once = new RetryPolicy(1, Duration.ZERO, Duration.ZERO);
    s.submit(
        List.of(
            TaskSpec.of("a", "false").withRetry(once),
            TaskSpec.of("b", "true").withDependsOn("a"),
            TaskSpec.of("c", "true").withDependsOn("b"),
            TaskSpec.of("d", "true").withDependsOn("a"),
            TaskSpec.of("e", "true"),
            TaskSpec.of("f", "true").withDependsOn("b", "e"),
            TaskSpec.of("w", "true"),
            TaskSpec.of("x", "true").withDependsOn("w")),
        T0);
    assertThat(s.assign("a", "n1", T0)).isEqualTo(1);
    assertThat(s.transition("a", TaskState.ASSIGNED, TaskState.FAILED, T0)).isTrue();
    assertThat(s.transition("e", TaskState.QUEUED, TaskState.CANCELLED, T0)).isTrue();
    assertThat(s.transition("x", TaskState.WAITING, TaskState.CANCELLED, T0)).isTrue();
    assertThat(s.transition("w", TaskState.QUEUED, TaskState.FAILED, T0)).isTrue();
    assertThat(states(s, "b", "c", "d", "f")).containsOnly(TaskState.UPSTREAM_FAILED).hasSize(4);

    Instant later = T0.plusSeconds(60);
    assertThat(s.retry("a", TaskState.FAILED, later))
        .extracting(StoredTask::id, StoredTask::state)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("a", TaskState.QUEUED),
            org.assertj.core.groups.Tuple.tuple("b", TaskState.WAITING),
            org.assertj.core.groups.Tuple.tuple("c", TaskState.WAITING),
            org.assertj.core.groups.Tuple.tuple("d", TaskState.WAITING));
    // f still has a cancelled dependency: it stays doomed.
    assertThat(states(s, "f")).containsExactly(TaskState.UPSTREAM_FAILED);
    StoredTask a = s.get("a").orElseThrow();
    assertThat(a.attemptsCounted()).as("a fresh set of attempts").isZero();
    assertThat(a.attempt()).isEqualTo(1);
    assertThat(a.notBefore()).isEqualTo(later);
    assertThat(s.get("b").orElseThrow().pendingDependencies()).isEqualTo(1);
    assertThat(s.processable(10, later)).extracting(StoredTask::id).containsExactly("a");
    // Again: it is not failed any more, so nothing moves.
    assertThat(s.retry("a", TaskState.FAILED, later)).isEmpty();
    assertThatThrownBy(() -> s.retry("b", TaskState.WAITING, later))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("only a failed or cancelled task is retried");

    // The cancelled dependency retried: f waits again, on b and e.
    assertThat(s.retry("e", TaskState.CANCELLED, later))
        .extracting(StoredTask::id, StoredTask::state)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("e", TaskState.QUEUED),
            org.assertj.core.groups.Tuple.tuple("f", TaskState.WAITING));
    assertThat(s.get("f").orElseThrow().pendingDependencies()).isEqualTo(2);
    // A cancelled task whose dependency has failed since is doomed at once.
    assertThat(s.retry("x", TaskState.CANCELLED, later))
        .extracting(StoredTask::id, StoredTask::state)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("x", TaskState.UPSTREAM_FAILED));

    // The retried task's new attempt is its first of one: it succeeds and releases the rest.
    assertThat(s.assign("a", "n1", later)).isEqualTo(2);
    assertThat(s.get("a").orElseThrow().attemptsCounted()).isEqualTo(1);
    assertThat(s.transition("a", TaskState.ASSIGNED, TaskState.LAUNCHED, later)).isTrue();
    assertThat(s.succeedAll(List.of(new AttemptId("a", 2)), TaskState.LAUNCHED, later))
        .containsExactly("a");
    assertThat(states(s, "b", "d")).containsOnly(TaskState.QUEUED);
    assertThat(states(s, "c", "f")).containsOnly(TaskState.WAITING);
    assertThat(s.countByState())
        .isEqualTo(
            Map.of(
                TaskState.SUCCEEDED, 1L,
                TaskState.QUEUED, 3L,
                TaskState.WAITING, 2L,
                TaskState.FAILED, 1L,
                TaskState.UPSTREAM_FAILED, 1L));
  }

  private static List<TaskState> states(dev.stowage.scheduler.TaskStore s, String... ids) {
    return java.util.Arrays.stream(ids).map(id -> s.get(id).orElseThrow().state()).toList();
  }

  @Test
  void aTaskDependingOnAFailedTaskIsUpstreamFailedAtSubmit() {
    store.submit(List.of(TaskSpec.of("broken", "false")), T0);
    runToEnd("broken", TaskState.FAILED);

    store.submit(
        List.of(
            TaskSpec.of("after", "true").withDependsOn("broken"),
            TaskSpec.of("after-after", "true").withDependsOn("after")),
        T0.plusSeconds(5));

    assertThat(state("after")).isEqualTo(TaskState.UPSTREAM_FAILED);
    assertThat(state("after-after")).isEqualTo(TaskState.UPSTREAM_FAILED);
  }

  @Test
  void aBadBatchStoresNothingAndSaysWhy() {
    store.submit(List.of(TaskSpec.of("exists", "true")), T0);

    assertThatThrownBy(
            () ->
                store.submit(
                    List.of(
                        TaskSpec.of("fine", "true"),
                        TaskSpec.of("exists", "true"),
                        TaskSpec.of("x", "true").withDependsOn("y"),
                        TaskSpec.of("y", "true").withDependsOn("x")),
                    T0))
        .isInstanceOf(InvalidSubmissionException.class)
        .hasMessageContaining("dependency cycle: ");
    assertThat(store.get("fine")).isEmpty();

    // Well formed, but naming a stored id: a conflict, naming it.
    assertThatThrownBy(
            () ->
                store.submit(
                    List.of(TaskSpec.of("fine", "true"), TaskSpec.of("exists", "true")), T0))
        .isInstanceOf(dev.stowage.scheduler.DuplicateTaskException.class)
        .hasMessage("a task with id 'exists' exists already");
    assertThat(store.get("fine")).isEmpty();
  }

  @Test
  void concurrentSubmitsOfOneIdStoreItOnceAndTheRestAreConflicts() throws Exception {
    int clients = 12;
    var start = new java.util.concurrent.CountDownLatch(1);
    var outcomes = new java.util.concurrent.ConcurrentLinkedQueue<String>();
    try (var pool = java.util.concurrent.Executors.newFixedThreadPool(clients)) {
      for (int i = 0; i < clients; i++) {
        pool.submit(
            () -> {
              start.await();
              try {
                store.submit(List.of(TaskSpec.of("raced", "true")), T0);
                outcomes.add("stored");
              } catch (dev.stowage.scheduler.DuplicateTaskException e) {
                outcomes.add("conflict " + e.ids());
              } catch (RuntimeException e) {
                outcomes.add("other " + e);
              }
              return null;
            });
      }
      start.countDown();
    }
    assertThat(outcomes).hasSize(clients);
    assertThat(outcomes.stream().filter("stored"::equals)).hasSize(1);
    assertThat(outcomes.stream().filter(o -> !o.equals("stored")))
        .allMatch(o -> o.equals("conflict [raced]"));
  }

  @Test
  void transitionsMoveOnlyFromTheExpectedStateAndOnlyAlongTheLifecycle() {
    store.submit(List.of(TaskSpec.of("t", "true")), T0);

    assertThat(store.assign("t", "node-1", T0)).isEqualTo(1);
    assertThat(store.assign("t", "node-1", T0)).as("no longer queued").isZero();
    assertThat(store.get("t").orElseThrow().offer()).isEqualTo("node-1");
    assertThatThrownBy(() -> store.transition("t", TaskState.ASSIGNED, TaskState.SUCCEEDED, T0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("illegal task transition assigned -> succeeded for task t");
    assertThat(store.get("t").orElseThrow().updatedAt()).isEqualTo(T0);
  }

  @Test
  void aWriteTheDatabaseRefusesSaysNothingOfTheTasksValues() {
    var spec =
        TaskSpec.of("leaky", "true")
            .withEnv(Map.of("API_KEY", "hunter2-secret", "BAD", "a\u0000b"));

    assertThatThrownBy(() -> store.submit(List.of(spec), T0))
        .isInstanceOf(StoreException.class)
        .satisfies(
            e -> {
              var all = new StringBuilder();
              for (Throwable t = e; t != null; t = t.getCause()) {
                all.append(t).append('\n');
                if (t instanceof java.sql.SQLException sql && sql.getNextException() != null) {
                  all.append(sql.getNextException()).append('\n');
                }
              }
              assertThat(all.toString()).doesNotContain("hunter2");
            });
  }

  @Test
  void theNewestTasksAreFilteredByStateQueueLabelAndIdPrefixAsTheInMemoryTwinFiltersThem() {
    var memory = new dev.stowage.scheduler.InMemoryTaskStore();
    var batch =
        List.of(
            TaskSpec.of("etl/a", "true").withLabels(Map.of("team", "x")),
            TaskSpec.of("etl/b", "true").withQueue("default").withDependsOn("etl/a"),
            TaskSpec.of("etl_c", "true").withLabels(Map.of("team", "y")).withDependsOn("etl/a"),
            TaskSpec.of("ml/d", "true").withLabels(Map.of("team", "x")),
            TaskSpec.of("ml/e", "true").withDependsOn("etl/b"));
    for (var s : List.<dev.stowage.scheduler.TaskStore>of(store, memory)) {
      s.submit(batch, T0);
      s.transition("ml/d", TaskState.QUEUED, TaskState.CANCELLED, T0);
      var all = dev.stowage.scheduler.TaskFilter.ALL;
      assertThat(s.newest(all, null, 10).tasks())
          .extracting(StoredTask::id)
          .as(s.getClass().getSimpleName())
          .containsExactly("ml/e", "ml/d", "etl_c", "etl/b", "etl/a");
      assertThat(s.newest(all, null, 2).tasks())
          .extracting(StoredTask::id)
          .containsExactly("ml/e", "ml/d");
      assertThat(s.newest(all, "ml/d", 2).tasks())
          .extracting(StoredTask::id)
          .containsExactly("etl_c", "etl/b");
      assertThat(s.newest(all, "no-such-id", 2).tasks()).isEmpty();
      assertThat(
              s.newest(
                      new dev.stowage.scheduler.TaskFilter(
                          TaskState.WAITING, null, null, null, null),
                      null,
                      10)
                  .tasks())
          .extracting(StoredTask::id)
          .containsExactly("ml/e", "etl_c", "etl/b");
      assertThat(
              s.newest(
                      new dev.stowage.scheduler.TaskFilter(null, null, "team", "x", null), null, 10)
                  .tasks())
          .extracting(StoredTask::id)
          .containsExactly("ml/d", "etl/a");
      // The prefix is literal: its '_' matches only '_', not any character.
      assertThat(
              s.newest(
                      new dev.stowage.scheduler.TaskFilter(null, null, null, null, "etl_"),
                      null,
                      10)
                  .tasks())
          .extracting(StoredTask::id)
          .containsExactly("etl_c");
      assertThat(
              s.newest(
                      new dev.stowage.scheduler.TaskFilter(
                          TaskState.WAITING, "default", null, null, "etl/"),
                      null,
                      10)
                  .tasks())
          .extracting(StoredTask::id)
          .containsExactly("etl/b");
      assertThat(
              s.newest(
                      new dev.stowage.scheduler.TaskFilter(null, "q-9", null, null, null), null, 10)
                  .tasks())
          .isEmpty();
      assertThat(s.dependantsOf(List.of("etl/a"))).containsExactly("etl/b", "etl_c");
      assertThat(s.dependantsOf(List.of("etl/b", "ml/e"))).containsExactly("ml/e");
    }
  }

  @Test
  void pagesThatStopAtTheSearchLimitGoOnWhereTheyStoppedAndTogetherListEveryMatchOnce() {
    var memory = new dev.stowage.scheduler.InMemoryTaskStore();
    int n = dev.stowage.scheduler.TaskFilter.SEARCHED_MAX + 50;
    var batch = new java.util.ArrayList<TaskSpec>();
    for (int i = 0; i < n; i++) {
      // The oldest ten carry team=z: far beyond one search from the newest.
      batch.add(
          TaskSpec.of("big/" + i, "true").withLabels(Map.of("team", i < 10 ? "z" : "t" + i % 3)));
    }
    var filters =
        List.of(
            new dev.stowage.scheduler.TaskFilter(TaskState.QUEUED, null, "team", "z", null),
            new dev.stowage.scheduler.TaskFilter(null, null, "team", "z", null),
            new dev.stowage.scheduler.TaskFilter(null, "default", "team", "t1", "big/1"),
            new dev.stowage.scheduler.TaskFilter(TaskState.QUEUED, null, null, null, "big/2000"));
    for (var s : List.<dev.stowage.scheduler.TaskStore>of(store, memory)) {
      for (int from = 0; from < n; from += 5000) {
        s.submit(batch.subList(from, Math.min(n, from + 5000)), T0);
      }
      for (var f : filters) {
        var want = new java.util.ArrayList<String>();
        for (int i = n - 1; i >= 0; i--) {
          var t = batch.get(i);
          if ((f.labelKey() == null || f.labelValue().equals(t.labels().get(f.labelKey())))
              && (f.idPrefix() == null || t.id().startsWith(f.idPrefix()))) {
            want.add(t.id());
          }
        }
        var got = new java.util.ArrayList<String>();
        String before = null;
        int pages = 0;
        while (true) {
          var page = s.newest(f, before, 50);
          page.tasks().forEach(t -> got.add(t.id()));
          pages++;
          assertThat(pages).as("pages of " + f).isLessThan(1000);
          if (page.searchedTo() != null) {
            assertThat(page.tasks().size()).isLessThan(50);
            before = page.searchedTo();
          } else if (page.tasks().size() == 50) {
            before = page.tasks().getLast().id();
          } else {
            break;
          }
        }
        assertThat(got).as(s.getClass().getSimpleName() + " " + f).isEqualTo(want);
      }
    }
  }

  @Test
  void aPageAfterAnIdThatIsNotStoredIsEmptyRatherThanTheFirstAgain() {
    store.submit(List.of(TaskSpec.of("p1", "true"), TaskSpec.of("p2", "true")), T0);

    assertThat(store.list(null, null, 10)).extracting(StoredTask::id).containsExactly("p1", "p2");
    assertThat(store.list(null, "p1", 10)).extracting(StoredTask::id).containsExactly("p2");
    assertThat(store.list(null, "no-such-id", 10)).isEmpty();
  }

  @Test
  void aTaskComesBackAsItWasSubmitted() {
    var spec =
        new TaskSpec(
            "train/model_7",
            "train model 7",
            List.of("python3", "train.py", "--epochs", "3"),
            Map.of("SEED", "7"),
            new Resources(4000, 16384, 20000, 1),
            Map.of("zone", "a"),
            3,
            List.of(),
            new RetryPolicy(3, Duration.ofSeconds(5), Duration.ofMinutes(1)),
            Duration.ofHours(2),
            Map.of("team", "ml"),
            new TraceContext(
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "vendor=abc,other=1"),
            List.of(
                new dev.stowage.scheduler.StagedInput("file:///data/train.csv", "in/train.csv"),
                new dev.stowage.scheduler.StagedInput("s3://models/base/", "base")),
            List.of(new dev.stowage.scheduler.StagedOutput("out/model.bin", "s3://models/run-7/")),
            "ml-team-ci",
            "registry.example/ml/train:2.1",
            List.of(
                new dev.stowage.engine.Toleration("nvidia.com/gpu", true, "", "NoSchedule"),
                new dev.stowage.engine.Toleration("dedicated", false, "ml", "")),
            "team-ml",
            new dev.stowage.scheduler.ArrayMember("train/model", 7, 10),
            new dev.stowage.scheduler.Gang("train-7", 1),
            "batch-high");
    store.submit(List.of(spec), T0);

    StoredTask got = store.get("train/model_7").orElseThrow();

    assertThat(got.spec()).isEqualTo(spec);
    assertThat(got.state()).isEqualTo(TaskState.QUEUED);
    assertThat(got.submittedAt()).isEqualTo(T0);
  }

  @Test
  void successesInOneWriteReleaseEachDependantOncePerDependency() {
    store.submit(
        List.of(
            TaskSpec.of("a", "true"),
            TaskSpec.of("b", "true"),
            TaskSpec.of("c", "true"),
            TaskSpec.of("after-a-and-b", "true").withDependsOn("a", "b"),
            TaskSpec.of("after-a-and-c", "true").withDependsOn("a", "c")),
        T0);
    for (String id : List.of("a", "b", "c")) {
      assertThat(store.assign(id, "n", T0)).isEqualTo(1);
      assertThat(store.transition(id, TaskState.ASSIGNED, TaskState.LAUNCHED, T0)).isTrue();
    }
    assertThat(store.transition("c", TaskState.LAUNCHED, TaskState.RUNNING, T0)).isTrue();

    var succeeded =
        store.succeedAll(
            List.of(
                new AttemptId("a", 1),
                new AttemptId("b", 1),
                new AttemptId("c", 1), // running, not launched: left for its own write
                new AttemptId("ghost", 1)),
            TaskState.LAUNCHED,
            T0.plusSeconds(1));

    assertThat(succeeded).containsExactlyInAnyOrder("a", "b");
    assertThat(store.get("a").orElseThrow().state()).isEqualTo(TaskState.SUCCEEDED);
    StoredTask both = store.get("after-a-and-b").orElseThrow();
    assertThat(both.state()).isEqualTo(TaskState.QUEUED);
    assertThat(both.pendingDependencies()).isZero();
    StoredTask half = store.get("after-a-and-c").orElseThrow();
    assertThat(half.state()).isEqualTo(TaskState.WAITING);
    assertThat(half.pendingDependencies()).isEqualTo(1);

    assertThat(store.succeedAll(List.of(new AttemptId("c", 2)), TaskState.RUNNING, T0))
        .as("an older attempt's news")
        .isEmpty();
    assertThat(store.succeedAll(List.of(new AttemptId("c", 1)), TaskState.RUNNING, T0))
        .containsExactly("c");
    assertThat(store.get("after-a-and-c").orElseThrow().state()).isEqualTo(TaskState.QUEUED);
  }

  @Test
  void aRequeuedTaskWaitsOutItsBackoffAndCountsItsAttempts() {
    store.submit(List.of(TaskSpec.of("flaky", "true")), T0);
    assertThat(store.assign("flaky", "n", T0)).isEqualTo(1);
    assertThat(store.transition("flaky", TaskState.ASSIGNED, TaskState.LAUNCHED, T0)).isTrue();

    assertThat(store.requeue("flaky", TaskState.LAUNCHED, T0.plusSeconds(30), T0)).isTrue();

    assertThat(store.processable(10, T0.plusSeconds(29))).isEmpty();
    assertThat(store.processable(10, T0.plusSeconds(30)))
        .extracting(StoredTask::id)
        .containsExactly("flaky");
    assertThat(store.assign("flaky", "n", T0.plusSeconds(31))).isEqualTo(2);
  }

  @Test
  void batchAssignAndTransitionMoveOnlyTasksStillInTheExpectedState() {
    store.submit(
        List.of(TaskSpec.of("p", "true"), TaskSpec.of("q", "true"), TaskSpec.of("r", "true")), T0);
    assertThat(store.transition("r", TaskState.QUEUED, TaskState.CANCELLED, T0)).isTrue();

    var attempts = store.assignAll(Map.of("p", "n1", "q", "n2", "r", "n3"), T0);

    assertThat(attempts).isEqualTo(Map.of("p", 1, "q", 1));
    assertThat(store.get("q").orElseThrow().offer()).isEqualTo("n2");
    assertThat(
            store.transitionAll(
                List.of(
                    new AttemptId("p", 1),
                    new AttemptId("q", 2), // not q's current attempt: q stays assigned
                    new AttemptId("r", 1)),
                TaskState.ASSIGNED,
                TaskState.LAUNCHED,
                T0))
        .containsExactly("p");
    assertThat(store.get("q").orElseThrow().state()).isEqualTo(TaskState.ASSIGNED);
    assertThatThrownBy(
            () ->
                store.transitionAll(
                    List.of(new AttemptId("p", 1)), TaskState.LAUNCHED, TaskState.SUCCEEDED, T0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("use transition() for each task");
  }

  @Test
  void aBatchWriteSplitAcrossWritersMovesExactlyWhatOneStatementWould() {
    var split = new PostgresTaskStore(db.dataSource(), 3, 10);
    var batch = new ArrayList<TaskSpec>();
    var offers = new java.util.LinkedHashMap<String, String>();
    for (int i = 0; i < 100; i++) {
      batch.add(TaskSpec.of("t" + i, "true"));
      offers.put("t" + i, "node-" + (i % 7));
    }
    split.submit(batch, T0);
    for (int i = 0; i < 100; i += 10) {
      assertThat(split.transition("t" + i, TaskState.QUEUED, TaskState.CANCELLED, T0)).isTrue();
    }

    Map<String, Integer> attempts = split.assignAll(offers, T0);

    assertThat(attempts).hasSize(90).doesNotContainKeys("t0", "t10", "t90").containsEntry("t1", 1);
    assertThat(split.get("t15").orElseThrow().offer()).isEqualTo("node-1");
    // Every other task's news names a later attempt than its current one: those stay assigned.
    var news = new ArrayList<AttemptId>();
    attempts.forEach(
        (id, n) ->
            news.add(new AttemptId(id, Integer.parseInt(id.substring(1)) % 2 == 0 ? n : n + 1)));
    Set<String> launched = split.transitionAll(news, TaskState.ASSIGNED, TaskState.LAUNCHED, T0);

    assertThat(launched)
        .hasSize(40) // the 50 even ones less the 10 cancelled
        .allSatisfy(id -> assertThat(Integer.parseInt(id.substring(1)) % 2).isZero());
    assertThat(split.get("t3").orElseThrow().state()).isEqualTo(TaskState.ASSIGNED);
    assertThat(split.get("t4").orElseThrow().state()).isEqualTo(TaskState.LAUNCHED);
  }

  @Test
  void flaggedTasksAreStoredButNotProcessableUntilCleared() {
    store.submit(
        List.of(TaskSpec.of("huge", "true"), TaskSpec.of("ok", "true")),
        Map.of("huge", "never schedulable: 0/1 nodes fit it empty: 1 insufficient memoryMiB"),
        T0);

    assertThat(store.processable(10, T0)).extracting(StoredTask::id).containsExactly("ok");
    assertThat(store.neverSchedulable())
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.id()).isEqualTo("huge");
              assertThat(t.state()).isEqualTo(TaskState.QUEUED);
              assertThat(t.neverSchedulable()).endsWith("1 insufficient memoryMiB");
            });

    store.clearNeverSchedulable(List.of("huge"));

    assertThat(store.neverSchedulable()).isEmpty();
    assertThat(store.processable(10, T0)).extracting(StoredTask::id).containsExactly("huge", "ok");
  }

  @Test
  void inputsAndTheLastErrorAreKept() {
    var inputs =
        List.of(
            new StagedInput("file:///data/a.csv", "in/a.csv"),
            new StagedInput("file:///data/dir", "dir"));
    store.submit(List.of(TaskSpec.of("in", "true").withInputs(inputs)), T0);
    assertThat(store.assign("in", "n", T0)).isEqualTo(1);

    store.recordError("in", 1, "staging failed: source file:///data/a.csv: gone");
    store.recordError("in", 2, "not this attempt: ignored");

    StoredTask t = store.get("in").orElseThrow();
    assertThat(t.spec().inputs()).isEqualTo(inputs);
    assertThat(t.lastError()).isEqualTo("staging failed: source file:///data/a.csv: gone");
  }

  @Test
  void theDatabaseKnowsExactlyTheStatesTheCodeKnows() throws Exception {
    try (var c = db.dataSource().getConnection();
        var q =
            c.prepareStatement(
                "insert into tasks (id, name, state, command, submitted_at, updated_at)"
                    + " values (?, 'n', ?, '[\"true\"]', now(), now())")) {
      c.setAutoCommit(false);
      for (TaskState state : TaskState.values()) {
        q.setString(1, "row-" + state.label());
        q.setString(2, state.label());
        assertThat(q.executeUpdate()).isEqualTo(1);
      }
      q.setString(1, "row-paused");
      q.setString(2, "paused");
      assertThatThrownBy(q::executeUpdate).hasMessageContaining("tasks_state_known");
      c.rollback();
    }
  }

  @Test
  void theDatabaseAndTheCodeAgreeOnEveryEdgeOfTheLifecycle() throws Exception {
    try (var c = db.dataSource().getConnection();
        var q = c.prepareStatement("select legal_task_transition(?, ?)")) {
      for (TaskState from : TaskState.values()) {
        for (TaskState to : TaskState.values()) {
          q.setString(1, from.label());
          q.setString(2, to.label());
          try (var rs = q.executeQuery()) {
            rs.next();
            assertThat(rs.getBoolean(1))
                .as(from.label() + " -> " + to.label())
                .isEqualTo(from.canMoveTo(to) || from.canReopenTo(to));
          }
        }
      }
    }
  }

  private TaskState state(String id) {
    return store.get(id).orElseThrow().state();
  }

  private void runToEnd(String id, TaskState end) {
    var path =
        List.of(TaskState.QUEUED, TaskState.ASSIGNED, TaskState.LAUNCHED, TaskState.RUNNING, end);
    for (int i = 0; i + 1 < path.size(); i++) {
      assertThat(store.transition(id, path.get(i), path.get(i + 1), T0)).isTrue();
    }
  }
}
