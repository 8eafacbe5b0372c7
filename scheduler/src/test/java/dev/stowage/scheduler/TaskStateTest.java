package dev.stowage.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class TaskStateTest {

  @Test
  void theLifecycleHasItsEdgesAndNoOthers() {
    assertThat(TaskState.WAITING.canMoveTo(TaskState.QUEUED)).isTrue();
    assertThat(TaskState.QUEUED.canMoveTo(TaskState.RUNNING)).isFalse();
    assertThat(TaskState.RUNNING.canMoveTo(TaskState.QUEUED)).as("retry").isTrue();
    assertThat(TaskState.SUCCEEDED.isTerminal()).isTrue();
    for (TaskState s : TaskState.values()) {
      assertThat(s.canMoveTo(s)).as(s.label()).isFalse();
      assertThat(TaskState.parse(s.label())).isEqualTo(s);
    }
    assertThat(TaskState.UPSTREAM_FAILED.label()).isEqualTo("upstream_failed");
  }

  @Test
  void aRetryByHandReopensOnlyWhatEndedWithoutSuccess() {
    assertThat(TaskState.FAILED.canReopenTo(TaskState.QUEUED)).isTrue();
    assertThat(TaskState.CANCELLED.canReopenTo(TaskState.WAITING)).isTrue();
    assertThat(TaskState.UPSTREAM_FAILED.canReopenTo(TaskState.WAITING)).isTrue();
    assertThat(TaskState.UPSTREAM_FAILED.canReopenTo(TaskState.QUEUED)).isFalse();
    assertThat(TaskState.SUCCEEDED.canReopenTo(TaskState.QUEUED)).isFalse();
    for (TaskState s : TaskState.values()) {
      assertThat(s.isRetryable()).as(s.label()).isEqualTo(s.canReopenTo(TaskState.QUEUED));
      assertThat(s.canMoveTo(TaskState.WAITING) && s.canReopenTo(TaskState.WAITING))
          .as("the two kinds of edge are apart, from " + s.label())
          .isFalse();
      if (!s.isTerminal()) {
        assertThat(TaskState.values()).noneMatch(s::canReopenTo);
      }
    }
  }

  @Test
  void backoffDoublesUpToItsCap() {
    var retry = new RetryPolicy(5, Duration.ofSeconds(10), Duration.ofSeconds(30));
    assertThat(retry.delayBefore(1)).isZero();
    assertThat(retry.delayBefore(2)).hasSeconds(10);
    assertThat(retry.delayBefore(3)).hasSeconds(20);
    assertThat(retry.delayBefore(4)).hasSeconds(30);
    assertThat(retry.delayBefore(9)).hasSeconds(30);
  }
}
