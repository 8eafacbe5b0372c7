package dev.stowage.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "status", mixinStandardHelpOptions = true, description = "Show one task.")
final class StatusCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", description = "The task id.")
  String id;

  @Mixin ServiceUrl service;

  @Override
  public Integer call() throws Exception {
    HttpResponse<String> response =
        service.client().get("/api/tasks/" + URLEncoder.encode(id, StandardCharsets.UTF_8));
    JsonNode body = new ObjectMapper().readTree(response.body());
    if (response.statusCode() == 404) {
      spec.commandLine().getErr().printf("stowage: %s%n", body.path("error").asText());
      return Main.BAD_INPUT;
    }
    var out = spec.commandLine().getOut();
    int attempt = body.get("attempt").asInt();
    int max = body.get("maxAttempts").asInt();
    // After a retry by hand its attempts go on counting, and its retries start again.
    int before = body.path("attemptsBeforeRetry").asInt(0);
    out.printf(
        "%s: %s (%s)%n",
        body.get("id").asText(),
        body.get("state").asText(),
        before == 0
            ? "attempt " + attempt + " of " + max
            : "attempt "
                + attempt
                + "; "
                + (attempt - body.path("preemptions").asInt(0) - before)
                + " of "
                + max
                + " since it was retried by hand");
    HttpResponse<String> tried =
        service
            .client()
            .get("/api/tasks/" + URLEncoder.encode(id, StandardCharsets.UTF_8) + "/attempts");
    if (tried.statusCode() == 200) {
      for (JsonNode a : new ObjectMapper().readTree(tried.body()).path("attempts")) {
        out.println("  " + line(a, body.get("state").asText()));
      }
    }
    out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(body));
    return 0;
  }

  /**
   * An attempt in one line, each step after the first as the time since it: {@code attempt 2 on
   * local: placed 2026-12-03T10:00:00Z, launched +4 ms, started +9 ms, failed +2.1 s (exited with
   * code 3)}; the current one ends with the task's state.
   */
  static String line(JsonNode a, String state) {
    var out = new StringBuilder("attempt ").append(a.path("attempt").asInt());
    if (a.hasNonNull("node")) {
      out.append(" on ").append(a.get("node").asText());
    }
    out.append(':');
    java.time.Instant first = null;
    String[][] steps = {
      {"placedAt", "placed"},
      {"stagedAt", "staged"},
      {"launchedAt", "launched"},
      {"startedAt", "started"},
      {"endedAt", a.path("outcome").asText("ended")}
    };
    String sep = " ";
    for (String[] step : steps) {
      if (!a.hasNonNull(step[0])) {
        continue;
      }
      var at = java.time.Instant.parse(a.get(step[0]).asText());
      out.append(sep).append(step[1]).append(' ');
      out.append(first == null ? at.toString() : "+" + since(first, at));
      first = first == null ? at : first;
      sep = ", ";
    }
    if (a.hasNonNull("error")) {
      out.append(" (").append(a.get("error").asText()).append(')');
    }
    if (!a.hasNonNull("outcome")) {
      out.append("; ").append(state).append(" now");
    }
    return out.toString();
  }

  private static String since(java.time.Instant from, java.time.Instant to) {
    long ms = java.time.Duration.between(from, to).toMillis();
    if (ms < 10_000) {
      return ms + " ms";
    }
    return ms < 600_000 ? ms / 1000 + " s" : ms / 60_000 + " min";
  }
}
