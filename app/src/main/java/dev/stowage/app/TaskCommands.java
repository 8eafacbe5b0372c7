package dev.stowage.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** The small commands that read or change one task, or list tasks, through the HTTP API. */
final class TaskCommands {
  private TaskCommands() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  static String path(String id) {
    return "/api/tasks/" + URLEncoder.encode(id, StandardCharsets.UTF_8);
  }

  /** Prints the service's error line and returns the exit code for it. */
  static int failed(picocli.CommandLine.Model.CommandSpec spec, HttpResponse<String> response)
      throws Exception {
    JsonNode body = JSON.readTree(response.body());
    if (body.has("fields")) {
      for (JsonNode f : body.get("fields")) {
        spec.commandLine()
            .getErr()
            .printf("stowage: %s: %s%n", f.get("field").asText(), f.get("message").asText());
      }
    } else {
      spec.commandLine()
          .getErr()
          .printf("stowage: %s%n", body.path("error").asText(response.body()));
    }
    return Main.BAD_INPUT;
  }

  @Command(
      name = "tasks",
      mixinStandardHelpOptions = true,
      description = "List tasks in submit order.")
  static final class List implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--state", description = "Only tasks in this state (queued, running, ...).")
    String state;

    @Option(names = "--after", description = "Start after this task id (the previous page's last).")
    String after;

    @Option(names = "--limit", defaultValue = "100", description = "Default: ${DEFAULT-VALUE}.")
    int limit;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      var query = new StringBuilder("/api/tasks?limit=").append(limit);
      if (state != null) {
        query.append("&state=").append(URLEncoder.encode(state, StandardCharsets.UTF_8));
      }
      if (after != null) {
        query.append("&after=").append(URLEncoder.encode(after, StandardCharsets.UTF_8));
      }
      HttpResponse<String> response = service.client().get(query.toString());
      if (response.statusCode() != 200) {
        return failed(spec, response);
      }
      JsonNode body = JSON.readTree(response.body());
      var out = spec.commandLine().getOut();
      out.printf("%-40s %-16s %7s  %s%n", "ID", "STATE", "ATTEMPT", "SUBMITTED");
      for (JsonNode t : body.get("tasks")) {
        out.printf(
            "%-40s %-16s %7d  %s%n",
            t.get("id").asText(),
            t.get("state").asText(),
            t.get("attempt").asInt(),
            t.get("submittedAt").asText());
      }
      if (!body.path("next").isNull() && !body.path("next").isMissingNode()) {
        out.printf("more: --after %s%n", body.get("next").asText());
      }
      return 0;
    }
  }

  @Command(name = "logs", mixinStandardHelpOptions = true, description = "Print a task's output.")
  static final class Logs implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The task id.")
    String id;

    @Option(names = "--stderr", description = "Standard error instead of standard output.")
    boolean stderr;

    @Option(names = "--attempt", description = "Which attempt (default: the latest).")
    Integer attempt;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      String query = path(id) + "/logs?stream=" + (stderr ? "stderr" : "stdout");
      if (attempt != null) {
        query += "&attempt=" + attempt;
      }
      HttpResponse<String> response = service.client().get(query);
      if (response.statusCode() != 200) {
        return failed(spec, response);
      }
      spec.commandLine().getOut().print(response.body());
      spec.commandLine().getOut().flush();
      return 0;
    }
  }

  @Command(name = "cancel", mixinStandardHelpOptions = true, description = "Cancel a task.")
  static final class Cancel implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The task id.")
    String id;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      HttpResponse<String> response = service.client().post(path(id) + "/cancel", "");
      if (response.statusCode() >= 300) {
        return failed(spec, response);
      }
      JsonNode body = JSON.readTree(response.body());
      spec.commandLine().getOut().printf("%s: %s%n", id, body.get("state").asText());
      return 0;
    }
  }

  @Command(
      name = "why",
      mixinStandardHelpOptions = true,
      description = "Say why a task is where it is (for a queued task: why no offer fits it).")
  static final class Why implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The task id.")
    String id;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      HttpResponse<String> response = service.client().get(path(id) + "/why");
      if (response.statusCode() != 200) {
        return failed(spec, response);
      }
      JsonNode body = JSON.readTree(response.body());
      spec.commandLine()
          .getOut()
          .printf("%s (%s): %s%n", id, body.get("state").asText(), body.get("why").asText());
      return 0;
    }
  }
}
