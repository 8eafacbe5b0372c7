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
    out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(body));
    return 0;
  }
}
