package dev.stowage.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * What the scheduling state does when its durable store refuses or fails a write: the write it had
 * answered is not lost silently; memory is loaded again and the cycle told to reconcile.
 */
class SchedulingStateTest {
  static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");

  /** A durable store that fails its writes while told to, and can hold them back. */
  static final class FlakyStore implements TaskStore {
    final InMemoryTaskStore real = new InMemoryTaskStore();
    final AtomicBoolean failing = new AtomicBoolean();
    volatile CountDownLatch held = new CountDownLatch(0);

    private void write() {
      try {
        held.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (failing.get()) {
        throw new IllegalStateException("the database is unreachable");
      }
    }

    @Override
    public void submit(List<TaskSpec> batch, Map<String, String> flagged, Instant now) {
      write();
      real.submit(batch, flagged, now);
    }

    @Override
    public Map<TaskState, Long> countByState() {
      return real.countByState();
    }

    @Override
    public List<StoredTask> neverSchedulable() {
      return real.neverSchedulable();
    }

    @Override
    public List<AttemptRecord> attempts(String id) {
      return real.attempts(id);
    }

    @Override
    public void recordError(String id, int attempt, String error) {
      write();
      real.recordError(id, attempt, error);
    }

    @Override
    public void clearNeverSchedulable(java.util.Collection<String> ids) {
      write();
      real.clearNeverSchedulable(ids);
    }

    @Override
    public java.util.Optional<StoredTask> get(String id) {
      return real.get(id);
    }

    @Override
    public Map<String, StoredTask> getAll(java.util.Collection<String> ids) {
      return real.getAll(ids);
    }

    @Override
    public java.util.Set<String> existing(java.util.Collection<String> ids) {
      return real.existing(ids);
    }

    @Override
    public List<StoredTask> list(TaskState state, String afterId, int limit) {
      return real.list(state, afterId, limit);
    }

    @Override
    public TaskFilter.Page newest(TaskFilter filter, String beforeId, int limit) {
      return real.newest(filter, beforeId, limit);
    }

    @Override
    public java.util.Set<String> dependantsOf(java.util.Collection<String> ids) {
      return real.dependantsOf(ids);
    }

    @Override
    public List<StoredTask> inFlight() {
      return real.inFlight();
    }

    @Override
    public List<StoredTask> unfinished() {
      return real.unfinished();
    }

    @Override
    public List<StoredTask> processable(int limit, Instant now) {
      return real.processable(limit, now);
    }

    @Override
    public int assign(String id, String offer, Instant now) {
      write();
      return real.assign(id, offer, now);
    }

    @Override
    public Map<String, Integer> assignAll(Map<String, String> offerByTask, Instant now) {
      write();
      return real.assignAll(offerByTask, now);
    }

    @Override
    public java.util.Set<String> transitionAll(
        java.util.Collection<AttemptId> attempts, TaskState from, TaskState to, Instant now) {
      write();
      return real.transitionAll(attempts, from, to, now);
    }

    @Override
    public java.util.Set<String> succeedAll(
        java.util.Collection<AttemptId> attempts, TaskState from, Instant now) {
      write();
      return real.succeedAll(attempts, from, now);
    }

    @Override
    public boolean requeue(String id, TaskState from, Instant notBefore, Instant now) {
      write();
      return real.requeue(id, from, notBefore, now);
    }

    @Override
    public boolean unassign(String id, TaskState from, Instant now) {
      write();
      return real.unassign(id, from, now);
    }

    @Override
    public boolean preempt(AttemptId attempt, TaskState from, String by, Instant now) {
      write();
      return real.preempt(attempt, from, by, now);
    }

    @Override
    public boolean transition(String id, TaskState from, TaskState to, Instant now) {
      write();
      return real.transition(id, from, to, now);
    }

    @Override
    public List<StoredTask> retry(String id, TaskState from, Instant now) {
      write();
      return real.retry(id, from, now);
    }
  }

  @Test
  void aSubmitIsAnsweredOnlyOnceDurableAndFailsWhenTheStoreFails() {
    var durable = new FlakyStore();
    try (var state = SchedulingState.load(durable)) {
      state.submit(List.of(TaskSpec.of("a", "true")), T0);
      assertThat(durable.get("a")).isPresent(); // durable when submit returned

      durable.failing.set(true);
      assertThatThrownBy(() -> state.submit(List.of(TaskSpec.of("b", "true")), T0))
          .hasMessageContaining("unreachable");
      durable.failing.set(false);
      // Memory took 'b' before the store refused it: it is loaded again, without 'b'.
      state.submit(List.of(TaskSpec.of("c", "true")), T0);
      assertThat(state.get("b")).isEmpty();
      assertThat(state.processable(10, T0)).extracting(StoredTask::id).containsExactly("a", "c");
      assertThat(state.divergences()).isEqualTo(1);
      assertThat(state.generation()).isEqualTo(1);
    }
  }

  @Test
  void theCyclesWritesAreAnsweredAtOnceAndALostOneMakesTheCycleReconcile() throws Exception {
    var durable = new FlakyStore();
    try (var state = SchedulingState.load(durable)) {
      state.submit(List.of(TaskSpec.of("a", "true"), TaskSpec.of("b", "true")), T0);
      durable.held = new CountDownLatch(1);
      // Answered from memory while the store holds its writes back.
      assertThat(state.assignAll(Map.of("a", "n1"), T0)).isEqualTo(Map.of("a", 1));
      assertThat(state.get("a")).get().extracting(StoredTask::state).isEqualTo(TaskState.ASSIGNED);
      assertThat(durable.get("a")).get().extracting(StoredTask::state).isEqualTo(TaskState.QUEUED);

      durable.failing.set(true);
      durable.held.countDown();
      state.flush();
      durable.failing.set(false);
      assertThat(state.generation()).as("not yet loaded again").isZero();
      // The next write loads memory again from the store: 'a' is queued there, as the backend
      // will be asked about.
      state.recordError("b", 0, "nothing");
      assertThat(state.generation()).isEqualTo(1);
      assertThat(state.get("a")).get().extracting(StoredTask::state).isEqualTo(TaskState.QUEUED);
    }
  }

  @Test
  void aCycleReconcilesBeforePlacingWhenItsStoreWasLoadedAgain() {
    var durable = new FlakyStore();
    var backend = new RecordingBackend();
    try (var state = SchedulingState.load(durable)) {
      var cycle =
          new SchedulingCycle(
              state,
              backend,
              dev.stowage.engine.Matcher.fast(),
              dev.stowage.engine.MatchMode.PACK,
              100,
              java.time.Clock.fixed(T0, java.time.ZoneOffset.UTC),
              io.opentelemetry.api.OpenTelemetry.noop().getTracer("test"));
      state.submit(List.of(TaskSpec.of("a", "true")), T0);
      state.reload(); // as when this instance takes over
      cycle.runOnce();
      assertThat(backend.asked).as("status asked before the first placement").isTrue();
    }
  }

  /** One node; says every attempt was never launched, and notes that it was asked. */
  static final class RecordingBackend implements ClusterBackend {
    volatile boolean asked;

    @Override
    public List<dev.stowage.engine.Offer> offers() {
      return List.of(
          new dev.stowage.engine.Offer(
              "n1", "n1", new dev.stowage.engine.Resources(1000, 1000, 1000, 0), Map.of()));
    }

    @Override
    public void launch(Launch launch) {}

    @Override
    public void kill(AttemptId attempt) {}

    @Override
    public List<TaskEvent> drainEvents() {
      return List.of();
    }

    @Override
    public void onEvents(Runnable wakeUp) {}

    @Override
    public java.util.Map<AttemptId, String> knownAttempts() {
      asked = true;
      return Map.of();
    }

    @Override
    public TaskEvent status(AttemptId attempt) {
      return new TaskEvent(attempt, TaskEvent.Kind.NOT_LAUNCHED, null, "", T0);
    }

    @Override
    public LogSlice log(AttemptId attempt, boolean stderr, long from, int maxBytes) {
      return LogSlice.EMPTY;
    }

    @Override
    public void close() {}
  }
}
