package dev.stowage.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
    name = "submit",
    mixinStandardHelpOptions = true,
    description = {
      "Submit a task, or a DAG as {\"tasks\": [...]}, from a JSON or YAML file (.yaml, .yml).",
      "The whole file is accepted or refused; a refusal lists every field error."
    })
final class SubmitCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", description = "The task or DAG file.")
  Path file;

  @Mixin ServiceUrl service;

  @Override
  public Integer call() throws Exception {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(file + ": no such file");
    }
    String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    // YAML goes as written: the service reads each value by its field's type, so that a command's
    // 'yes' or '0x10' stays what the file says (a conversion to JSON here would make them true
    // and 16), and its errors name the file's lines.
    boolean yaml = name.endsWith(".yaml") || name.endsWith(".yml");
    HttpResponse<String> response =
        service.client().post("/api/tasks", text, yaml ? "application/yaml" : "application/json");
    JsonNode body = new ObjectMapper().readTree(response.body());
    var out = spec.commandLine().getOut();
    var err = spec.commandLine().getErr();
    if (response.statusCode() == 201) {
      var ids = new java.util.ArrayList<String>();
      body.get("ids").forEach(id -> ids.add(id.asText()));
      out.printf(
          "submitted %d task%s: %s%n",
          ids.size(), ids.size() == 1 ? "" : "s", String.join(", ", ids));
      // Accepted, but no node could ever run them: say so now rather than let them sit.
      body.path("neverSchedulable")
          .properties()
          .forEach(
              e -> err.printf("stowage: warning: %s: %s%n", e.getKey(), e.getValue().asText()));
      return 0;
    }
    if (response.statusCode() == 400 && body.has("fields")) {
      for (JsonNode f : body.get("fields")) {
        err.printf(
            "stowage: %s: %s: %s%n", file, f.get("field").asText(), f.get("message").asText());
      }
      return Main.BAD_INPUT;
    }
    err.printf(
        "stowage: the service answered %d: %s%n",
        response.statusCode(), body.path("error").asText(response.body()));
    return Main.BAD_INPUT;
  }
}
