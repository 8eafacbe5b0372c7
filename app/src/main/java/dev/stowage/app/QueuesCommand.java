package dev.stowage.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
    name = "queues",
    mixinStandardHelpOptions = true,
    description = {
      "List, create, change and delete queues (changes need an admin token).",
      "Queues share the cluster by weight (dominant resource fairness); a limit caps what one"
          + " queue's running tasks may hold."
    },
    subcommands = {
      QueuesCommand.ListQueues.class,
      QueuesCommand.Create.class,
      QueuesCommand.Set.class,
      QueuesCommand.Delete.class
    })
final class QueuesCommand implements Runnable {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** The options a queue is made of, shared by create and set. */
  static final class Fields {
    @Option(names = "--weight", description = "Its share against the others' weights. Default 1.")
    Double weight;

    @Option(
        names = "--limit",
        description =
            "RESOURCE=AMOUNT, the most its running tasks may hold (cpuMillis, memoryMiB, diskMiB,"
                + " gpus); repeat for several.")
    Map<String, Long> limits;

    String body(String name) throws Exception {
      var body = new LinkedHashMap<String, Object>();
      body.put("name", name);
      if (weight != null) {
        body.put("weight", weight);
      }
      if (limits != null) {
        body.put("limits", limits);
      }
      return JSON.writeValueAsString(body);
    }
  }

  /** The service's answer to a change: one line saying what was done, or its error. */
  private static int said(
      picocli.CommandLine.Model.CommandSpec spec,
      HttpResponse<String> response,
      int expected,
      String done,
      String name)
      throws Exception {
    if (response.statusCode() != expected) {
      return TaskCommands.failed(spec, response);
    }
    spec.commandLine().getOut().printf("%s queue '%s'%n", done, name);
    return 0;
  }

  private static String path(String name) {
    return "/api/queues/" + URLEncoder.encode(name, StandardCharsets.UTF_8);
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "Each queue: weight, limits, what it holds against its share, what waits.")
  static final class ListQueues implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      HttpResponse<String> response = service.client().get("/api/queues");
      if (response.statusCode() != 200) {
        return TaskCommands.failed(spec, response);
      }
      var out = spec.commandLine().getOut();
      String row = "%-24s %7s %8s %6s %8s %7s %s%n";
      out.printf(row, "NAME", "WEIGHT", "RUNNING", "SHARE", "FAIR", "QUEUED", "LIMITS");
      for (JsonNode q : JSON.readTree(response.body()).get("queues")) {
        var limits = new java.util.ArrayList<String>();
        q.get("limits").fields().forEachRemaining(e -> limits.add(e.getKey() + "=" + e.getValue()));
        out.printf(
            row,
            q.get("name").asText(),
            q.get("weight").asText(),
            q.get("runningTasks").asText(),
            String.format("%.1f%%", 100 * q.get("dominantShare").asDouble()),
            String.format("%.1f%%", 100 * q.get("fairShare").asDouble()),
            q.get("queued").asText(),
            (limits.isEmpty() ? "-" : String.join(",", limits))
                + (q.has("atLimit") ? "  (" + q.get("atLimit").get("reason").asText() + ")" : ""));
      }
      return 0;
    }
  }

  @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a queue.")
  static final class Create implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "Its name: lowercase letters, digits and '-'.")
    String name;

    @picocli.CommandLine.ArgGroup(exclusive = false)
    Fields fields = new Fields();

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      return said(
          spec, service.client().post("/api/queues", fields.body(name)), 201, "created", name);
    }
  }

  @Command(
      name = "set",
      mixinStandardHelpOptions = true,
      description = "Replace a queue's weight and limits (what is not given goes back to default).")
  static final class Set implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The queue's name.")
    String name;

    @picocli.CommandLine.ArgGroup(exclusive = false)
    Fields fields = new Fields();

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      return said(spec, service.client().put(path(name), fields.body(name)), 200, "changed", name);
    }
  }

  @Command(
      name = "delete",
      mixinStandardHelpOptions = true,
      description = "Delete a queue that holds no queued or running task.")
  static final class Delete implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The queue's name.")
    String name;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      return said(spec, service.client().delete(path(name)), 200, "deleted", name);
    }
  }
}
