package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Submissions read by their fields' types, every problem named, in JSON and in YAML. */
class SubmissionReaderTest {
  static final AllowedSources INPUTS = AllowedSources.of(List.of("file:///data"));
  static final AllowedSources OUTPUTS = AllowedSources.forOutputs(List.of("file:///results"));

  static TaskJson.Parsed json(String body) {
    return SubmissionReader.read(body, false, null, INPUTS, OUTPUTS);
  }

  static TaskJson.Parsed yaml(String body) {
    return SubmissionReader.read(body, true, null, INPUTS, OUTPUTS);
  }

  static Map<String, String> errors(TaskJson.Parsed parsed) {
    var out = new java.util.LinkedHashMap<String, String>();
    parsed.errors().forEach(e -> out.put(e.field(), e.message()));
    return out;
  }

  @Test
  void yamlScalarsInStringFieldsStayAsWrittenAndResourcesMustBeIntegers() {
    var parsed =
        yaml(
            """
            id: coerced
            command: [echo, yes, no, on, 0x10, 1e3, 010, "quoted"]
            labels: {answer: NO, n: 1.50}
            env: {FLAG: off}
            cpuMillis: 250
            """);
    assertThat(parsed.errors()).isEmpty();
    var spec = parsed.specs().getFirst();
    assertThat(spec.command())
        .containsExactly("echo", "yes", "no", "on", "0x10", "1e3", "010", "quoted");
    assertThat(spec.labels()).containsOnly(Map.entry("answer", "NO"), Map.entry("n", "1.50"));
    assertThat(spec.env()).containsEntry("FLAG", "off");
    assertThat(spec.resources().cpuMillis()).isEqualTo(250);

    var strict =
        yaml(
            """
            id: strict
            command: [true]
            cpuMillis: "100"
            memoryMiB: 0x10
            diskMiB: 1e3
            gpus: 1.0
            """);
    assertThat(errors(strict))
        .containsExactly(
            Map.entry(
                "cpuMillis", "must be an integer in [0, 2^53], got the string \"100\" (line 3)"),
            Map.entry("memoryMiB", "must be an integer in [0, 2^53], got 0x10 (line 4)"),
            Map.entry("diskMiB", "must be an integer in [0, 2^53], got 1e3 (line 5)"),
            Map.entry("gpus", "must be an integer in [0, 2^53], got 1.0 (line 6)"));
    assertThat(errors(json("{\"id\": \"j\", \"command\": [\"true\"], \"cpuMillis\": \"100\"}")))
        .containsExactly(
            Map.entry("cpuMillis", "must be an integer in [0, 2^53], got the string \"100\""));
  }

  @Test
  void aTaskNamingNoCpuOrMemoryRequestsTheDefaultAndAnExplicitAmountStays() {
    var parsed =
        SubmissionReader.read(
            "{\"tasks\": [{\"id\": \"bare\", \"command\": [\"true\"]},"
                + " {\"id\": \"small\", \"command\": [\"true\"], \"cpuMillis\": 100,"
                + " \"memoryMiB\": 0}]}",
            false,
            null,
            INPUTS,
            OUTPUTS,
            StowageService.Builder.DEFAULT_REQUEST);
    assertThat(parsed.errors()).isEmpty();
    assertThat(parsed.specs().get(0).resources())
        .isEqualTo(new dev.stowage.engine.Resources(1000, 1024, 0, 0));
    assertThat(parsed.specs().get(1).resources())
        .isEqualTo(new dev.stowage.engine.Resources(100, 0, 0, 0));
  }

  @Test
  void nullIsNeverAValueAndEachOneIsNamed() {
    assertThat(errors(json("{\"tasks\": null}")))
        .containsExactly(Map.entry("tasks", "must be a list of tasks, got null"));
    assertThat(
            errors(
                json(
                    "{\"id\": \"n\", \"command\": [\"true\", null], \"dependsOn\": [null],"
                        + " \"env\": {\"X\": null}, \"name\": null}")))
        .containsOnly(
            Map.entry("name", "must be a string, got null"),
            Map.entry("command[1]", "must be a string, got null"),
            Map.entry(
                "env.X",
                "must be a string, got null (its value is not shown: env may hold secrets)"),
            Map.entry("dependsOn[0]", "must be a string, got null"));
    assertThat(
            errors(
                json("{\"id\": \"s\", \"command\": [\"true\"], \"env\": {\"API_KEY\": 81726354}}")))
        .containsExactly(
            Map.entry(
                "env.API_KEY",
                "must be a string, got a number (its value is not shown: env may hold secrets)"));
    assertThat(errors(json("{\"tasks\": [null]}")))
        .containsExactly(Map.entry("tasks[0]", "must be a task object, got null"));
    assertThatThrownBy(() -> yaml("~"))
        .isInstanceOf(InvalidSubmissionException.class)
        .extracting(e -> ((InvalidSubmissionException) e).errors())
        .isEqualTo(
            List.of(
                new FieldError(
                    "body",
                    "expected a task object, or {\"tasks\": [...]} for a batch, got null")));
    assertThat(errors(yaml("id: y\ncommand: [echo, ~]\nenv:\n  X:\n")))
        .containsExactly(
            Map.entry("command[1]", "must be a string, got null (line 2)"),
            Map.entry(
                "env.X",
                "must be a string, got null (its value is not shown: env may hold secrets) (line"
                    + " 4)"));
  }

  @Test
  void nulCharactersBadVariableNamesAndSharedDestinationsAreRefused() {
    var parsed =
        json(
            """
            {"id": "a\\u0000b", "command": ["true"],
             "env": {"A=B": "x", "": "y", "OK": "z\\u0000"},
             "inputs": [{"source": "file:///data/a", "destination": "in/x"},
                        {"source": "file:///data/b", "destination": "in/./x"}]}
            """);
    assertThat(errors(parsed))
        .containsOnly(
            Map.entry("id", "contains a NUL character"),
            Map.entry(
                "env",
                "'' is not a variable name: letters, digits and '_', not starting with a digit"),
            Map.entry("env.OK", "contains a NUL character"),
            Map.entry("inputs[1].destination", "the same destination as inputs[0] ('in/./x')"));
    assertThat(parsed.errors()).hasSize(5);
    assertThat(parsed.errors().stream().map(FieldError::message))
        .contains(
            "'A=B' is not a variable name: letters, digits and '_', not starting with a digit");
  }

  @Test
  void duplicateKeysAreErrorsInBothFormats() {
    assertThat(
            errors(
                json(
                    "{\"id\": \"d\", \"command\": [\"true\"], \"cpuMillis\": 1, \"cpuMillis\": 2}")))
        .containsExactly(
            Map.entry("cpuMillis", "duplicate key 'cpuMillis' (line 1; first at line 1)"));
    assertThat(errors(yaml("id: d\ncommand: [true]\nlabels:\n  team: a\n  team: b\n")))
        .containsExactly(
            Map.entry("labels.team", "duplicate key 'team' (line 5; first at line 4)"));
  }

  @Test
  void everyErrorOfAFileIsListedInTheUsersWordsAndSyntaxErrorsNameTheirLine() {
    var parsed =
        yaml(
            """
            tasks:
              - id: one
                command: echo
                cpuMillis: -5
                colour: blue
              - id: two
                command: [true]
                retry: {maxAttempts: 0, backoffSeconds: soon}
            """);
    assertThat(errors(parsed))
        .containsOnly(
            Map.entry(
                "tasks[0].colour",
                "unknown field of a task (expected one of array, command, constraints, cpuMillis,"
                    + " dependsOn, diskMiB, env, gang, gpus, id, image, inputs, labels, memoryMiB,"
                    + " name, outputs, priority, priorityClass, queue, retry, timeoutSeconds,"
                    + " tolerations) (line 5)"),
            Map.entry(
                "tasks[0].command", "must be a list of strings, got the string \"echo\" (line 3)"),
            Map.entry("tasks[0].cpuMillis", "must be an integer in [0, 2^53], got -5 (line 4)"),
            Map.entry(
                "tasks[1].retry.maxAttempts", "must be an integer in [1, 2^31-1], got 0 (line 8)"),
            Map.entry(
                "tasks[1].retry.backoffSeconds",
                "must be a number of seconds in [0, 1e9], got the string \"soon\" (line 8)"));
    assertThat(parsed.errors().toString()).doesNotContain("TaskRequest", "$", "Exception");

    assertThatThrownBy(() -> yaml("id: x\ncommand: [true\ncpuMillis: 1\n"))
        .isInstanceOf(InvalidSubmissionException.class)
        .hasMessageStartingWith("body: not YAML: ")
        .hasMessageContaining("(line ");
    assertThatThrownBy(() -> json("{\"id\": \"x\",\n \"command\": [true}"))
        .hasMessageStartingWith("body: not JSON: ")
        .hasMessageContaining("(line 2, column");
  }

  @Test
  void anArrayIsExpandedInItsPlaceAndADependencyOnItWaitsForAllOfIt() {
    var parsed =
        json(
            """
            {"tasks": [
              {"id": "prep", "command": ["true"]},
              {"id": "sweep", "command": ["run"], "array": 3, "dependsOn": ["prep"],
               "env": {"MODE": "fast"}, "gang": {"name": "sweep-gang", "size": 3}},
              {"id": "report", "command": ["true"], "dependsOn": ["sweep"]}
            ]}
            """);

    assertThat(parsed.errors()).isEmpty();
    assertThat(parsed.specs())
        .extracting(dev.stowage.scheduler.TaskSpec::id)
        .containsExactly("prep", "sweep_0", "sweep_1", "sweep_2", "report");
    assertThat(parsed.at())
        .containsExactly("tasks[0]", "tasks[1]", "tasks[1]", "tasks[1]", "tasks[2]");
    var second = parsed.specs().get(2);
    assertThat(second.env())
        .containsOnly(
            Map.entry("MODE", "fast"),
            Map.entry("STOWAGE_ARRAY_INDEX", "1"),
            Map.entry("STOWAGE_ARRAY_SIZE", "3"));
    assertThat(second.dependsOn()).containsExactly("prep");
    assertThat(second.gang()).isEqualTo(new dev.stowage.scheduler.Gang("sweep-gang", 3));
    assertThat(parsed.specs().getLast().dependsOn())
        .containsExactly("sweep_0", "sweep_1", "sweep_2");
  }

  @Test
  void aBadArrayOrGangIsRefusedNamingEachField() {
    var parsed =
        json(
            """
            {"tasks": [
              {"id": "a", "command": ["true"], "array": 0},
              {"id": "b", "command": ["true"], "array": 100001},
              {"id": "c", "command": ["true"], "array": 2, "env": {"STOWAGE_ARRAY_INDEX": "9"}},
              {"id": "d", "command": ["true"], "gang": {"name": "Big Gang", "size": 0, "x": 1}},
              {"id": "e", "command": ["true"], "gang": "g"},
              {"id": "f", "command": ["true"], "gang": {"name": "g"}},
              {"id": "c", "command": ["true"]}
            ]}
            """);

    assertThat(errors(parsed))
        .containsOnly(
            Map.entry(
                "tasks[0].array",
                "must be an integer in [1, 100000] (how many tasks the" + " array has), got 0"),
            Map.entry(
                "tasks[1].array",
                "must be an integer in [1, 100000] (how many tasks the"
                    + " array has), got 100001"),
            Map.entry(
                "tasks[2].env.STOWAGE_ARRAY_INDEX",
                "is set by Stowage for each task of an" + " array"),
            Map.entry(
                "tasks[3].gang.name",
                "must be 1-63 lowercase letters, digits or '-',"
                    + " starting and ending with a letter or digit, got \"Big Gang\""),
            Map.entry("tasks[3].gang.size", "must be an integer in [1, 10000], got 0"),
            Map.entry("tasks[3].gang.x", "unknown field of a gang (expected one of name, size)"),
            Map.entry("tasks[4].gang", "must be {name, size}, got the string \"g\""),
            Map.entry("tasks[5].gang.size", "required: how many tasks the gang has"),
            Map.entry("tasks[6].id", "'c' names an array and another task (also tasks[2])"));
  }

  @Test
  void arraysThatExpandPastOneSubmissionsLimitAreRefusedBeforeTheyAreExpanded() {
    var parsed =
        json(
            """
            {"tasks": [
              {"id": "a", "command": ["true"], "array": 60000},
              {"id": "b", "command": ["true"], "array": 60000}
            ]}
            """);

    assertThat(parsed.specs()).isEmpty();
    assertThat(errors(parsed))
        .containsOnly(
            Map.entry(
                "tasks",
                "the arrays expand to 120000 tasks, more than the 100000 one"
                    + " submission may hold"));
  }

  @Test
  void dependenciesThatExpandPastOneSubmissionsLimitAreRefusedBeforeTheyAreExpanded() {
    var parsed =
        json(
            """
            {"tasks": [
              {"id": "a", "command": ["true"], "array": 2000},
              {"id": "b", "command": ["true"], "array": 600, "dependsOn": ["a"]}
            ]}
            """);

    assertThat(parsed.specs()).isEmpty();
    assertThat(errors(parsed))
        .containsOnly(
            Map.entry(
                "tasks",
                "the dependencies expand to 1200000 edges once arrays are expanded, more than the"
                    + " 1000000 one submission may hold: let one task depend on the array, and the"
                    + " others on it"));
  }

  @Test
  void anArrayWhoseTasksCouldNotBeNamedIsOneErrorNotOneForEachTask() {
    String longId = "x".repeat(198);
    var parsed =
        json(
            """
            {"tasks": [
              {"id": "%s", "command": ["true"], "array": 100},
              {"id": "bad id!", "command": ["true"], "array": 1000}
            ]}
            """
                .formatted(longId));

    assertThat(errors(parsed))
        .containsOnly(
            Map.entry(
                "tasks[0].id",
                "'"
                    + longId
                    + "_99', the array's last task, is not an id: at most 200 characters"));
    // The other is kept whole, for the batch's check to refuse its id once.
    assertThat(parsed.specs())
        .extracting(dev.stowage.scheduler.TaskSpec::id)
        .containsExactly("bad id!");
  }
}
