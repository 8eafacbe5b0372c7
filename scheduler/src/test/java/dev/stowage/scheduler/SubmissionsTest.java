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

  @Test
  void aGangIsSubmittedWholeInOneQueueUnderANameNoUnfinishedGangHas() {
    var whole =
        List.of(
            TaskSpec.of("w0", "true").withGang(new Gang("whole", 2)),
            TaskSpec.of("w1", "true").withGang(new Gang("whole", 2)));
    assertThatCode(() -> Submissions.check(whole, Set.of(), g -> false)).doesNotThrowAnyException();

    var batch =
        List.of(
            TaskSpec.of("p0", "true").withGang(new Gang("part", 3)),
            TaskSpec.of("p1", "true").withGang(new Gang("part", 3)),
            TaskSpec.of("s0", "true").withGang(new Gang("sizes", 2)),
            TaskSpec.of("s1", "true").withGang(new Gang("sizes", 3)),
            TaskSpec.of("q0", "true").withGang(new Gang("queues", 2)),
            TaskSpec.of("q1", "true").withGang(new Gang("queues", 2)).withQueue("other"),
            TaskSpec.of("t0", "true").withGang(new Gang("taken", 1)));

    var e =
        catchThrowableOfType(
            InvalidSubmissionException.class,
            () -> Submissions.check(batch, Set.of(), g -> g.equals("taken")));

    assertThat(e.errors())
        .extracting(InvalidSubmissionException.FieldError::toString)
        .containsExactly(
            "tasks[0].gang.size: gang part has size 3 but this submission holds 2 of its tasks: a"
                + " gang is submitted whole, in one submission",
            "tasks[3].gang.size: gang sizes has size 2 in tasks[2], 3 here",
            "tasks[5].queue: a gang's tasks wait in one queue: gang queues waits in default (as"
                + " tasks[4] says), not other",
            "tasks[6].gang.name: a gang named taken has tasks in the store that have not"
                + " finished: choose another name");
  }

  @Test
  void anArraysTasksAreNamedByTheirIndexAndAnErrorTheyShareIsReportedOnceForTheirTask() {
    var members = TaskArrays.expand(TaskSpec.of("sweep", "true").withDependsOn("nowhere"), 3);

    assertThat(members).extracting(TaskSpec::id).containsExactly("sweep_0", "sweep_1", "sweep_2");
    assertThat(members.get(2).env())
        .containsEntry(ArrayMember.INDEX_VARIABLE, "2")
        .containsEntry(ArrayMember.SIZE_VARIABLE, "3");
    assertThat(members.get(1).array()).isEqualTo(new ArrayMember("sweep", 1, 3));
    assertThat(TaskArrays.members(List.of("a", "sweep", "a"), id -> id.equals("sweep") ? 2 : null))
        .containsExactly("a", "sweep_0", "sweep_1");

    var e =
        catchThrowableOfType(
            InvalidSubmissionException.class,
            () ->
                Submissions.check(
                    members, List.of("tasks[4]", "tasks[4]", "tasks[4]"), Set.of(), g -> false));
    assertThat(e.errors())
        .extracting(InvalidSubmissionException.FieldError::toString)
        .containsExactly("tasks[4].dependsOn: unknown task id 'nowhere'");
  }
}
