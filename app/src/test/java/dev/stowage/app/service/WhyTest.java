package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.Stager;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class WhyTest {
  static final Instant T0 = Instant.parse("2026-11-26T10:00:00Z");

  @Test
  void aStagingTaskSaysHowFarItsInputsHaveCome() {
    var task =
        new StoredTask(
            TaskSpec.of("big-input", "true"),
            TaskState.STAGING,
            2,
            "node-7",
            0,
            null,
            T0,
            T0,
            null,
            null);
    var progress = new Stager.Progress(3L << 30, 8L << 30, 3, 10);

    var why =
        Why.of(
            task,
            new InMemoryTaskStore(),
            null,
            t -> Optional.empty(),
            at -> 0,
            a -> a.equals(new AttemptId("big-input", 2)) ? Optional.of(progress) : Optional.empty(),
            q -> Optional.empty(),
            g -> Optional.empty(),
            p -> Optional.empty(),
            T0);

    assertThat(why.get("why"))
        .isEqualTo(
            "staging its inputs for attempt 2 on node-7: 3.0 GiB of 8.0 GiB, 3 of 10 file(s)");
    assertThat(why.get("staging")).isEqualTo(progress);
  }
}
