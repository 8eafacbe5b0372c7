package dev.stowage.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
    name = "purge",
    mixinStandardHelpOptions = true,
    description = {
      "Remove the work directories (inputs, outputs, logs) of finished tasks now, rather than"
          + " when 'up --keep-work-dirs' would. The tasks themselves stay. An admin token is"
          + " needed."
    })
final class PurgeCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--older-than",
      defaultValue = "0s",
      description = "Only tasks that finished at least this long ago: 1h, 7d. Default: all.")
  String olderThan;

  @Mixin ServiceUrl service;

  @Override
  public Integer call() throws Exception {
    long seconds;
    try {
      seconds = Durations.parse("--older-than", olderThan, true).toSeconds();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    HttpResponse<String> response =
        service
            .client()
            .post("/api/purge", JSON.writeValueAsString(Map.of("olderThanSeconds", seconds)));
    if (response.statusCode() != 200) {
      return TaskCommands.failed(spec, response);
    }
    int removed = JSON.readTree(response.body()).get("removed").asInt();
    spec.commandLine()
        .getOut()
        .printf(
            "removed the work directories of %d finished task%s%n",
            removed, removed == 1 ? "" : "s");
    return 0;
  }
}
