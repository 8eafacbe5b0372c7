package dev.stowage.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.AttemptRecord;
import dev.stowage.scheduler.AttemptRecord.Outcome;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.RetryPolicy;
import dev.stowage.scheduler.SchedulingState;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TaskStore;
import dev.stowage.testing.Draw;
import dev.stowage.testing.PropertyCheck;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The scheduling state answers every call as PostgreSQL does, and so does the in-memory twin:
 * random histories of submits, placements, events, preemptions, retries (the cycle's and by hand)
 * and cancels are applied to all three, each answer compared, and then everything each holds, and a
 * state loaded afresh from the store.
 */
class SchedulingStateTest {
  @RegisterExtension static final TestPostgres db = new TestPostgres();
  static Database behindState; // a second database: the state writes its own record
  static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");

  @BeforeAll
  static void start() throws Exception {
    try (var c = db.dataSource().getConnection()) {
      c.createStatement().execute("create database behind_state");
    }
    var pg = db.server();
    behindState =
        Database.open(
            pg.jdbcUrl().replace("/postgres?", "/behind_state?"), pg.user(), pg.password());
  }

  @AfterAll
  static void stop() {
    behindState.close();
  }

  /** One step of a history; picks are indices into the tasks submitted so far, wrapped. */
  sealed interface Step {}

  record Submit(int size, List<Integer> dependencyPicks, int priority, boolean flagged, int retries)
      implements Step {}

  record SubmitTaken(int pick) implements Step {}

  record Place(int limit) implements Step {}

  record Later(int millis) implements Step {}

  record Move(Kind kind, int pick, int millis) implements Step {}

  record Clear(int pick) implements Step {}

  /** A retry by hand of one of the tasks that failed or were cancelled, picked among those. */
  record RetryEnded(int pick) implements Step {}

  enum Kind {
    STAGE,
    LAUNCH,
    START,
    SUCCEED,
    FAIL,
    CANCEL,
    REQUEUE,
    UNASSIGN,
    PREEMPT,
    ERROR,
    RETRY
  }

  static Step step(Draw d) {
    return d.weighted(
        Draw.weight(
            4,
            x ->
                new Submit(
                    x.between(1, 4),
                    x.list(0, 3, y -> y.between(0, 40)),
                    x.between(0, 2),
                    x.chance(0.15),
                    x.between(1, 3))),
        Draw.weight(1, x -> new SubmitTaken(x.between(0, 40))),
        Draw.weight(3, x -> new Place(x.between(0, 6))),
        Draw.weight(1, x -> new Later(x.between(1, 3) * 500)),
        Draw.weight(
            8, x -> new Move(x.oneOf(Kind.values()), x.between(0, 40), x.between(0, 2) * 1000)),
        Draw.weight(1, x -> new Clear(x.between(0, 40))),
        Draw.weight(2, x -> new RetryEnded(x.between(0, 40))));
  }

  @Test
  void theStateAndTheTwinAnswerEveryCallAsTheStoreDoes() {
    PropertyCheck.forAll(40, d -> d.list(1, 40, SchedulingStateTest::step), this::replay);
  }

  /**
   * A history the property found: a task queued by a requeue while its dependency was waiting, then
   * that dependency cancelled and forgotten, then a task submitted below the queued one, then the
   * top task failed. The failure's walk must not go through the cancelled task (memory no longer
   * holds it): the waiting task below the queued one stays waiting in every store.
   */
  @Test
  void aFailureDoomsWaitingTasksThroughWaitingTasksOnly() {
    replay(
        List.of(
            new Submit(4, List.of(0), 0, false, 1),
            new Submit(2, List.of(7), 0, false, 1),
            new Submit(2, List.of(), 0, false, 1),
            new Move(Kind.REQUEUE, 21, 0),
            new Move(Kind.CANCEL, 26, 0),
            new Submit(1, List.of(13), 0, false, 1),
            new Move(Kind.FAIL, 0, 0)));
    var durable = new PostgresTaskStore(db.dataSource());
    assertThat(durable.get("t8")).get().extracting(StoredTask::state).isEqualTo(TaskState.WAITING);
    assertThat(durable.get("t4"))
        .get()
        .extracting(StoredTask::state)
        .isEqualTo(TaskState.UPSTREAM_FAILED);
  }

  private static void empty(javax.sql.DataSource database) {
    try (var c = database.getConnection()) {
      c.createStatement().execute("truncate tasks, task_attempts cascade");
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private void replay(List<Step> history) {
    empty(db.dataSource());
    empty(behindState.dataSource());
    var durable = new PostgresTaskStore(db.dataSource());
    var record = new PostgresTaskStore(behindState.dataSource());
    var stores = new TreeMap<String, TaskStore>();
    stores.put("postgres", durable);
    var state = SchedulingState.load(record);
    stores.put("state", state);
    stores.put("twin", new InMemoryTaskStore());
    var ids = new ArrayList<String>();
    Instant now = T0;
    int n = 0;
    for (Step step : history) {
      Instant at = now;
      switch (step) {
        case Submit s -> {
          var batch = new ArrayList<TaskSpec>();
          var flags = new HashMap<String, String>();
          for (int i = 0; i < s.size(); i++) {
            String id = "t" + n++;
            var deps = new java.util.LinkedHashSet<String>();
            for (int p : s.dependencyPicks()) {
              if (!ids.isEmpty()) {
                deps.add(ids.get(p % ids.size()));
              }
            }
            batch.add(
                TaskSpec.of(id, "true")
                    .withPriority(s.priority())
                    .withRetry(
                        new RetryPolicy(
                            s.retries(), Duration.ofMillis(500), Duration.ofMillis(2000)))
                    .withDependsOn(deps.toArray(String[]::new)));
            if (s.flagged() && i == 0) {
              flags.put(id, "needs 99 gpus, no node has more than 0");
            }
            ids.add(id);
          }
          same(step, stores, st -> run(() -> st.submit(batch, flags, at)));
        }
        case SubmitTaken s -> {
          if (!ids.isEmpty()) {
            var again = List.of(TaskSpec.of(ids.get(s.pick() % ids.size()), "true"));
            same(step, stores, st -> run(() -> st.submit(again, Map.of(), at)));
          }
        }
        case Place p -> {
          List<String> picked =
              same(
                  step,
                  stores,
                  st -> st.processable(p.limit(), at).stream().map(StoredTask::id).toList());
          var offers = new java.util.LinkedHashMap<String, String>();
          for (String id : picked) {
            offers.put(id, "node-" + (id.hashCode() & 3));
          }
          same(step, stores, st -> st.assignAll(offers, at));
        }
        case Later l -> now = now.plusMillis(l.millis());
        case Clear c -> {
          if (!ids.isEmpty()) {
            var one = List.of(ids.get(c.pick() % ids.size()));
            same(step, stores, st -> run(() -> st.clearNeverSchedulable(one)));
          }
        }
        case RetryEnded r -> {
          var ended =
              ids.stream()
                  .filter(id -> durable.get(id).orElseThrow().state().isRetryable())
                  .toList();
          if (!ended.isEmpty()) {
            String id = ended.get(r.pick() % ended.size());
            TaskState from = durable.get(id).orElseThrow().state();
            same(step, stores, st -> st.retry(id, from, at));
          }
        }
        case Move m -> {
          if (ids.isEmpty()) {
            continue;
          }
          String id = ids.get(m.pick() % ids.size());
          StoredTask t = durable.get(id).orElseThrow();
          var attempt = new AttemptId(id, Math.max(1, t.attempt()));
          TaskState from = t.state();
          Function<TaskStore, Object> move =
              switch (m.kind()) {
                case STAGE ->
                    st ->
                        attempt(
                            () -> st.transitionAll(List.of(attempt), from, TaskState.STAGING, at));
                case LAUNCH ->
                    st ->
                        attempt(
                            () -> st.transitionAll(List.of(attempt), from, TaskState.LAUNCHED, at));
                case START ->
                    st ->
                        attempt(
                            () ->
                                st.transitionAll(
                                    List.of(attempt), TaskState.LAUNCHED, TaskState.RUNNING, at));
                case SUCCEED -> st -> attempt(() -> st.succeedAll(List.of(attempt), from, at));
                case FAIL -> st -> attempt(() -> st.transition(id, from, TaskState.FAILED, at));
                case CANCEL ->
                    st -> attempt(() -> st.transition(id, from, TaskState.CANCELLED, at));
                case REQUEUE ->
                    st -> attempt(() -> st.requeue(id, from, at.plusMillis(m.millis()), at));
                case UNASSIGN -> st -> attempt(() -> st.unassign(id, from, at));
                case PREEMPT -> st -> attempt(() -> st.preempt(attempt, from, "urgent", at));
                case RETRY -> st -> attempt(() -> st.retry(id, from, at));
                case ERROR ->
                    st -> run(() -> st.recordError(id, attempt.attempt(), "exited with code 3"));
              };
          same(step, stores, move);
        }
      }
      sameHoldings(step, stores, ids, now);
      // Memory never had to be loaded again to agree.
      state.flush();
      assertThat(state.divergences()).as("divergences after %s", step).isZero();
    }
    // The state's own record holds the same, and so does a state loaded afresh from it.
    state.flush();
    stores.put("record", record);
    try (var reloaded = SchedulingState.load(record)) {
      stores.put("reloaded", reloaded);
      sameHoldings("a fresh load", stores, ids, now);
    }
    state.close();
  }

  /** Every store's answer to the same call, which must all be equal; returns it. */
  @SuppressWarnings("unchecked")
  private static <T> T same(
      Object step, Map<String, TaskStore> stores, Function<TaskStore, T> call) {
    var answers = new TreeMap<String, Object>();
    stores.forEach((name, store) -> answers.put(name, answer(() -> call.apply(store))));
    Object first = answers.firstEntry().getValue();
    assertThat(answers.values())
        .as("answers to %s", step)
        .allSatisfy(a -> assertThat(a).isEqualTo(first));
    return first instanceof Refused ? null : (T) first;
  }

  /** What each store holds, compared: every task, the queue, counts, flagged, in flight. */
  private static void sameHoldings(
      Object step, Map<String, TaskStore> stores, List<String> ids, Instant now) {
    // What the state answers from memory alone, at once.
    same(step + ", then the queue", stores, st -> st.processable(1_000, now));
    same(step + ", then the counts", stores, TaskStore::countByState);
    same(step + ", then the flagged count", stores, TaskStore::countNeverSchedulable);
    same(step + ", then the flagged", stores, TaskStore::neverSchedulable);
    same(step + ", then those in flight", stores, TaskStore::inFlight);
    same(step + ", then the unfinished", stores, TaskStore::unfinished);
    same(step + ", then the ids", stores, st -> st.existing(ids));
    // What it may read from the durable store (pages; finished tasks, once forgotten): the same
    // once it has recorded its writes.
    stores
        .values()
        .forEach(
            st -> {
              if (st instanceof SchedulingState state) {
                state.flush();
              }
            });
    same(step + ", then the tasks", stores, st -> st.getAll(ids));
    for (String id : ids) {
      same(step + ", then task " + id, stores, st -> st.get(id));
      same(step + ", then the attempts of " + id, stores, st -> st.attempts(id));
    }
    same(step + ", then a page", stores, st -> st.list(TaskState.QUEUED, null, 5));
  }

  /** An exception, by its kind: each store must refuse the same calls the same way. */
  record Refused(String kind) {}

  private static Object answer(java.util.function.Supplier<Object> call) {
    try {
      return call.get();
    } catch (RuntimeException e) {
      return new Refused(e.getClass().getSimpleName());
    }
  }

  private static Object run(Runnable r) {
    r.run();
    return "done";
  }

  private static Object attempt(java.util.function.Supplier<Object> call) {
    return call.get();
  }

  @Test
  void finishedTasksLeaveMemoryAndAreStillReadFromTheStore() {
    empty(db.dataSource());
    var durable = new PostgresTaskStore(db.dataSource());
    var state = SchedulingState.load(durable);
    state.submit(List.of(TaskSpec.of("a", "true"), TaskSpec.of("b", "true")), T0);
    state.assignAll(Map.of("a", "n1"), T0);
    state.transitionAll(List.of(new AttemptId("a", 1)), TaskState.ASSIGNED, TaskState.LAUNCHED, T0);
    assertThat(state.succeedAll(List.of(new AttemptId("a", 1)), TaskState.LAUNCHED, T0))
        .containsExactly("a");

    assertThat(state.unfinished()).extracting(StoredTask::id).containsExactly("b");
    assertThat(state.get("a")).get().extracting(StoredTask::state).isEqualTo(TaskState.SUCCEEDED);
    assertThat(state.existing(List.of("a", "b", "c"))).isEqualTo(Set.of("a", "b"));
    assertThat(state.countByState())
        .isEqualTo(Map.of(TaskState.SUCCEEDED, 1L, TaskState.QUEUED, 1L));
    // A task depending on the finished one is queued at once: its dependency is read back.
    state.submit(List.of(TaskSpec.of("c", "true").withDependsOn("a")), T0);
    assertThat(state.get("c")).get().extracting(StoredTask::state).isEqualTo(TaskState.QUEUED);
    state.close();
    // Everything was recorded by then, the finished task's end first.
    assertThat(durable.get("a")).get().extracting(StoredTask::state).isEqualTo(TaskState.SUCCEEDED);
    assertThat(durable.get("c")).get().extracting(StoredTask::state).isEqualTo(TaskState.QUEUED);
  }

  /**
   * Every store keeps each attempt's steps and end: a requeue after an error, a placement taken
   * back (no attempt), a preemption, a success; a cancel while running. The current attempt is
   * listed with the steps it reached.
   */
  @Test
  void everyStoreKeepsEachAttemptsStepsAndEnd() {
    empty(db.dataSource());
    empty(behindState.dataSource());
    var durable = new PostgresTaskStore(db.dataSource());
    var state = SchedulingState.load(new PostgresTaskStore(behindState.dataSource()));
    var stores =
        Map.<String, TaskStore>of(
            "postgres", durable, "state", state, "twin", new InMemoryTaskStore());
    var retried = new RetryPolicy(3, Duration.ZERO, Duration.ZERO);
    stores.forEach(
        (name, st) -> {
          st.submit(
              List.of(TaskSpec.of("a", "true").withRetry(retried), TaskSpec.of("b", "true")), T0);
          var a1 = List.of(new AttemptId("a", 1));
          st.assignAll(Map.of("a", "node-1", "b", "node-2"), at(0));
          st.transitionAll(a1, TaskState.ASSIGNED, TaskState.STAGING, at(1));
          st.transitionAll(a1, TaskState.STAGING, TaskState.LAUNCHED, at(2));
          st.transitionAll(a1, TaskState.LAUNCHED, TaskState.RUNNING, at(3));
          st.recordError("a", 1, "exited with code 3");
          st.requeue("a", TaskState.RUNNING, at(4), at(4));
          st.assign("a", "node-2", at(5));
          st.unassign("a", TaskState.ASSIGNED, at(6));
          st.assign("a", "node-3", at(7));
          var a2 = List.of(new AttemptId("a", 2));
          st.transitionAll(a2, TaskState.ASSIGNED, TaskState.LAUNCHED, at(8));
          st.transitionAll(a2, TaskState.LAUNCHED, TaskState.RUNNING, at(9));
          st.preempt(new AttemptId("a", 2), TaskState.RUNNING, "urgent", at(10));
          st.assign("a", "node-1", at(11));
          var a3 = List.of(new AttemptId("a", 3));
          st.transitionAll(a3, TaskState.ASSIGNED, TaskState.LAUNCHED, at(12));
          var b1 = List.of(new AttemptId("b", 1));
          st.transitionAll(b1, TaskState.ASSIGNED, TaskState.LAUNCHED, at(12));
          st.transitionAll(b1, TaskState.LAUNCHED, TaskState.RUNNING, at(13));
          st.transition("b", TaskState.RUNNING, TaskState.CANCELLED, at(14));
        });
    state.flush();
    var requeued =
        new AttemptRecord(
            1, "node-1", at(0), at(1), at(2), at(3), at(4), Outcome.REQUEUED, "exited with code 3");
    var preempted =
        new AttemptRecord(
            2,
            "node-3",
            at(7),
            null,
            at(8),
            at(9),
            at(10),
            Outcome.PREEMPTED,
            "attempt 2 preempted by urgent");
    var current = new AttemptRecord(3, "node-1", at(11), null, at(12), null, null, null, null);
    var cancelled =
        new AttemptRecord(
            1, "node-2", at(0), null, at(12), at(13), at(14), Outcome.CANCELLED, null);
    stores.forEach(
        (name, st) -> {
          assertThat(st.attempts("a")).as(name).containsExactly(requeued, preempted, current);
          assertThat(st.attempts("b")).as(name).containsExactly(cancelled);
          assertThat(st.attempts("c")).as(name).isEmpty();
          st.succeedAll(List.of(new AttemptId("a", 3)), TaskState.LAUNCHED, at(15));
        });
    state.flush();
    var succeeded =
        new AttemptRecord(3, "node-1", at(11), null, at(12), null, at(15), Outcome.SUCCEEDED, null);
    stores.forEach(
        (name, st) ->
            assertThat(st.attempts("a"))
                .as(name)
                .containsExactly(requeued, preempted, succeeded)
                .allMatch(a -> !a.current()));
    state.close();
  }

  private static Instant at(int seconds) {
    return T0.plusSeconds(seconds);
  }
}
