package dev.stowage.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SubmissionsTest {

  @Test
  void aWellFormedDagPasses() {
    var batch =
        List.of(
            TaskSpec.of("extract", "true"),
            TaskSpec.of("transform", "true").withDependsOn("extract"),
            TaskSpec.of("load", "true").withDependsOn("transform", "done-yesterday"));
    assertThatCode(() -> Submissions.check(batch, Set.of("done-yesterday")))
        .doesNotThrowAnyException();
  }

  @Test
  void everyProblemIsReportedWithItsField() {
    var batch =
        List.of(
            TaskSpec.of("a", "true"),
            TaskSpec.of("a", "true"),
            TaskSpec.of("bad id!", "true"),
            TaskSpec.of("old", "true"),
            TaskSpec.of("c", "true").withDependsOn("nowhere", "c"),
            TaskSpec.of("d").withTimeout(Duration.ZERO));

    var e =
        catchThrowableOfType(
            InvalidSubmissionException.class, () -> Submissions.check(batch, Set.of("old")));

    assertThat(e.errors())
        .extracting(InvalidSubmissionException.FieldError::toString)
        .containsExactlyInAnyOrder(
            "tasks[1].id: duplicate id 'a' (also tasks[0])",
            "tasks[2].id: 'bad id!' is not an id: use 1 to 200 letters, digits, '.', '_', '-', and"
                + " '/' between non-empty segments other than '.' and '..'",
            "tasks[4].dependsOn[0]: unknown task id 'nowhere'",
            "tasks[4].dependsOn[1]: a task cannot depend on itself",
            "tasks[5].command: must name a program to run",
            "tasks[5].timeout: must be positive, got PT0S");
  }

  @Test
  void storedIdsAreAConflictOfTheirOwnNamingEachId() {
    var batch =
        List.of(
            TaskSpec.of("new", "true"), TaskSpec.of("old", "true"), TaskSpec.of("older", "true"));

    assertThatCode(() -> Submissions.refuseTaken(batch, Set.of("unrelated")))
        .doesNotThrowAnyException();
    var e =
        catchThrowableOfType(
            DuplicateTaskException.class,
            () -> Submissions.refuseTaken(batch, Set.of("old", "older")));
    assertThat(e.ids()).containsExactly("old", "older");
    assertThat(e).hasMessage("tasks exist with ids [old, older] already");
  }

  @Test
  void cyclesAreNamedAlongTheirPath() {
    var batch =
        List.of(
            TaskSpec.of("start", "true"),
            TaskSpec.of("a", "true").withDependsOn("start", "c"),
            TaskSpec.of("b", "true").withDependsOn("a"),
            TaskSpec.of("c", "true").withDependsOn("b"));

    var e =
        catchThrowableOfType(
            InvalidSubmissionException.class, () -> Submissions.check(batch, Set.of()));

    assertThat(e.errors()).hasSize(1);
    assertThat(e.errors().getFirst().field()).isEqualTo("tasks");
    assertThat(e.errors().getFirst().message())
        .startsWith("dependency cycle: ")
        .contains("a -> b -> c -> a");
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {"..", ".", "../etc", "a/../b", "a/./b", "/abs", "a//b", "a/", "a b", ""})
  void idsThatCouldEscapeAWorkDirectoryAreRefused(String id) {
    var e =
        catchThrowableOfType(
            InvalidSubmissionException.class,
            () -> Submissions.check(List.of(TaskSpec.of(id, "true")), Set.of()));
    assertThat(e.errors())
        .extracting(InvalidSubmissionException.FieldError::field)
        .contains("tasks[0].id");
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(
      strings = {"a", "etl/2026-11-25/extract", "v1.2_final", "..a", "a..", "a/.b", "x-y"})
  void ordinaryIdsPass(String id) {
    assertThatCode(() -> Submissions.check(List.of(TaskSpec.of(id, "true")), Set.of()))
        .doesNotThrowAnyException();
  }

  @Test
  void tasksBehindAFailedStoredTaskAreDoomedThroughTheWholeBatch() {
    var batch =
        List.of(
            TaskSpec.of("c", "true").withDependsOn("b"),
            TaskSpec.of("b", "true").withDependsOn("failed-earlier"),
            TaskSpec.of("d", "true").withDependsOn("c", "fine-earlier"),
            TaskSpec.of("e", "true").withDependsOn("fine-earlier"));

    var doomed =
        Submissions.doomed(
            batch,
            java.util.Map.of(
                "failed-earlier", TaskState.FAILED, "fine-earlier", TaskState.SUCCEEDED));

    assertThat(doomed).containsExactlyInAnyOrder("b", "c", "d");
  }

  @Test
  void anEmptyBatchIsRefused() {
    var e =
        catchThrowableOfType(
            InvalidSubmissionException.class, () -> Submissions.check(List.of(), Set.of()));
    assertThat(e).hasMessage("tasks: a submission needs at least one task");
  }
}
