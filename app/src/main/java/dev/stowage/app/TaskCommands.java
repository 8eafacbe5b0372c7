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
    return failed(spec, response.body());
  }

  /** As above, for an answer's body as text: each field error on its own line, or the error. */
  static int failed(picocli.CommandLine.Model.CommandSpec spec, String text) throws Exception {
    JsonNode body = JSON.readTree(text);
    if (body.has("fields")) {
      for (JsonNode f : body.get("fields")) {
        spec.commandLine()
            .getErr()
            .printf("stowage: %s: %s%n", f.get("field").asText(), f.get("message").asText());
      }
    } else {
      spec.commandLine().getErr().printf("stowage: %s%n", body.path("error").asText(text));
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

    @Option(
        names = "--array",
        description = "Only the tasks of this array, in index order, with their states counted.")
    String array;

    @Option(
        names = "--from",
        description = "With --array: start at this index (the previous page's 'more').")
    Integer from;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      if (array != null) {
        if (state != null || after != null) {
          spec.commandLine().getErr().println("stowage: --array lists by index: use --from");
          return Main.BAD_INPUT;
        }
        return arrayPage();
      }
      if (from != null) {
        spec.commandLine().getErr().println("stowage: --from goes with --array");
        return Main.BAD_INPUT;
      }
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
      printTasks(out, body);
      if (!body.path("next").isNull() && !body.path("next").isMissingNode()) {
        out.printf("more: --after %s%n", body.get("next").asText());
      }
      return 0;
    }

    private int arrayPage() throws Exception {
      HttpResponse<String> response =
          service
              .client()
              .get(
                  "/api/arrays/"
                      + URLEncoder.encode(array, StandardCharsets.UTF_8)
                      + "?limit="
                      + limit
                      + (from == null ? "" : "&from=" + from));
      if (response.statusCode() != 200) {
        return failed(spec, response);
      }
      JsonNode body = JSON.readTree(response.body());
      var out = spec.commandLine().getOut();
      var counts = new java.util.ArrayList<String>();
      body.get("states")
          .properties()
          .forEach(e -> counts.add(e.getValue().asInt() + " " + e.getKey()));
      out.printf(
          "array %s: %d tasks: %s%n", array, body.get("size").asInt(), String.join(", ", counts));
      printTasks(out, body);
      if (body.path("next").isNumber()) {
        out.printf("more: --array %s --from %d%n", array, body.get("next").asInt());
      }
      return 0;
    }
  }

  private static void printTasks(java.io.PrintWriter out, JsonNode body) {
    out.printf("%-40s %-16s %7s  %s%n", "ID", "STATE", "ATTEMPT", "SUBMITTED");
    for (JsonNode t : body.get("tasks")) {
      out.printf(
          "%-40s %-16s %7d  %s%n",
          t.get("id").asText(),
          t.get("state").asText(),
          t.get("attempt").asInt(),
          t.get("submittedAt").asText());
    }
  }

  @Command(
      name = "logs",
      mixinStandardHelpOptions = true,
      description = {
        "Print a task's output: its last MiB, saying so when there is more (--full for all of"
            + " it), or follow it as it grows (-f) until the task ends."
      })
  static final class Logs implements Callable<Integer> {
    /** Bytes per request when reading a log whole or following it. */
    static final int CHUNK = 4 << 20;

    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The task id.")
    String id;

    @Option(names = "--stderr", description = "Standard error instead of standard output.")
    boolean stderr;

    @Option(names = "--attempt", description = "Which attempt (default: the latest).")
    Integer attempt;

    @Option(names = "--full", description = "All of the log, however large.")
    boolean full;

    @Option(
        names = {"-f", "--follow"},
        description = "Keep printing what the task writes until it has ended.")
    boolean follow;

    @Option(
        names = "--poll-ms",
        defaultValue = "500",
        hidden = true,
        description = "How often -f asks for more.")
    long pollMillis;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      ServiceClient client = service.client();
      String query = path(id) + "/logs?stream=" + (stderr ? "stderr" : "stdout");
      if (attempt != null) {
        query += "&attempt=" + attempt;
      }
      var out = new Utf8Out(spec.commandLine().getOut());
      HttpResponse<byte[]> first =
          client.getBytes(query + (full ? "&from=0&maxBytes=" + CHUNK : ""));
      if (first.statusCode() != 200) {
        return failedBytes(first);
      }
      out.write(first.body());
      long size = header(first, "Stowage-Log-Size");
      long next = header(first, "Stowage-Log-From") + first.body().length;
      if (!full && !follow && next - first.body().length > 0) {
        spec.commandLine()
            .getErr()
            .printf(
                "stowage: the last %s of %s shown; --full prints all of it%n",
                mib(first.body().length), mib(size));
      }
      while (full && next < size) {
        HttpResponse<byte[]> more = client.getBytes(query + "&from=" + next + "&maxBytes=" + CHUNK);
        if (more.statusCode() != 200) {
          return failedBytes(more);
        }
        out.write(more.body());
        next += more.body().length;
        if (more.body().length == 0) {
          break;
        }
      }
      // Following: what is new at each poll; done once the task has ended and nothing more came.
      boolean ended = false;
      while (follow) {
        HttpResponse<byte[]> more = client.getBytes(query + "&from=" + next + "&maxBytes=" + CHUNK);
        if (more.statusCode() != 200) {
          return failedBytes(more);
        }
        out.write(more.body());
        next += more.body().length;
        if (more.body().length > 0) {
          continue;
        }
        if (ended) {
          break;
        }
        HttpResponse<String> task = client.get(path(id));
        if (task.statusCode() != 200) {
          return failed(spec, task);
        }
        JsonNode view = JSON.readTree(task.body());
        // Ended, or moved on past the attempt asked for: one more read takes its last bytes.
        ended =
            ENDED.contains(view.path("state").asText())
                || (attempt != null && view.path("attempt").asInt() > attempt);
        if (!ended) {
          Thread.sleep(pollMillis);
        }
      }
      out.flush();
      return 0;
    }

    private static final java.util.Set<String> ENDED =
        java.util.Set.of("succeeded", "failed", "cancelled", "upstream_failed");

    private int failedBytes(HttpResponse<byte[]> response) throws Exception {
      return failed(spec, new String(response.body(), StandardCharsets.UTF_8));
    }

    private static long header(HttpResponse<?> response, String name) {
      return response.headers().firstValue(name).map(Long::parseLong).orElse(0L);
    }

    private static String mib(long bytes) {
      return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
  }

  /** Bytes printed as UTF-8 text, a character split between two reads kept for the next. */
  static final class Utf8Out {
    private final java.io.PrintWriter out;
    private final java.nio.charset.CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(java.nio.charset.CodingErrorAction.REPLACE)
            .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPLACE);
    private java.nio.ByteBuffer pending = java.nio.ByteBuffer.allocate(0);

    Utf8Out(java.io.PrintWriter out) {
      this.out = out;
    }

    void write(byte[] bytes) {
      var in = java.nio.ByteBuffer.allocate(pending.remaining() + bytes.length);
      in.put(pending).put(bytes).flip();
      var chars = java.nio.CharBuffer.allocate(in.remaining() + 1);
      decoder.decode(in, chars, false);
      chars.flip();
      out.append(chars);
      out.flush();
      pending = in.slice();
    }

    void flush() {
      out.flush();
    }
  }

  @Command(
      name = "cancel",
      mixinStandardHelpOptions = true,
      description = "Cancel a task, or every task of an array.")
  static final class Cancel implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The task id (with --array: the array's id).")
    String id;

    @Option(
        names = "--array",
        description = "Cancel every task of the array of that id that has not finished.")
    boolean array;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      HttpResponse<String> response =
          service
              .client()
              .post(
                  array
                      ? "/api/arrays/" + URLEncoder.encode(id, StandardCharsets.UTF_8) + "/cancel"
                      : path(id) + "/cancel",
                  "");
      if (response.statusCode() >= 300) {
        return failed(spec, response);
      }
      JsonNode body = JSON.readTree(response.body());
      if (array) {
        spec.commandLine()
            .getOut()
            .printf(
                "%s: %d cancelled, %d cancelling, %d already finished%n",
                id,
                body.get("cancelled").asInt(),
                body.get("cancelling").asInt(),
                body.get("alreadyFinished").asInt());
      } else {
        spec.commandLine().getOut().printf("%s: %s%n", id, body.get("state").asText());
      }
      return 0;
    }
  }

  @Command(
      name = "retry",
      mixinStandardHelpOptions = true,
      description = {
        "Retry a failed or cancelled task: queued again with a fresh set of attempts; the tasks"
            + " its end made upstream_failed wait again."
      })
  static final class Retry implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The task id.")
    String id;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      HttpResponse<String> response = service.client().post(path(id) + "/retry", "");
      if (response.statusCode() >= 300) {
        return failed(spec, response);
      }
      JsonNode body = JSON.readTree(response.body());
      int below = body.get("reopened").size();
      spec.commandLine()
          .getOut()
          .printf(
              "%s: %s%s%n",
              id,
              body.get("state").asText(),
              below == 0 ? "" : "; " + below + " task(s) below wait again");
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
