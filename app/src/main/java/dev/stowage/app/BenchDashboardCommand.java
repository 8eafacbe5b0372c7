package dev.stowage.app;

import dev.stowage.app.service.StowageService;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.store.Database;
import dev.stowage.store.EmbeddedPostgres;
import dev.stowage.store.PostgresTaskStore;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "bench-dashboard",
    mixinStandardHelpOptions = true,
    description = {
      "Store --tasks tasks in embedded PostgreSQL (most of them finished, in every state, over"
          + " 10 teams' labels and id prefixes), start the service on it, sign in to the"
          + " dashboard, and time its Tasks page: the first load, and each filter change, as"
          + " the page's htmx requests them.",
      "Prints, per request, the median and the slowest of --runs round trips on loopback (an"
          + " upper bound of the server's time) and the rows it showed."
    })
final class BenchDashboardCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--tasks", defaultValue = "1000000", description = "Default: ${DEFAULT-VALUE}.")
  int tasks;

  @Option(names = "--runs", defaultValue = "15", description = "Default: ${DEFAULT-VALUE}.")
  int runs;

  @Override
  public Integer call() throws Exception {
    if (tasks < 1000 || runs < 1) {
      throw new IllegalArgumentException("--tasks must be 1000 or more and --runs 1 or more");
    }
    PrintWriter out = spec.commandLine().getOut();
    Path dir = Files.createTempDirectory("stowage-bench-dashboard");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Instant at = Instant.parse("2026-11-25T12:00:00Z");
    try (var pg = EmbeddedPostgres.start(dir.resolve("pgdata"))) {
      long t0 = System.nanoTime();
      try (var db = Database.open(pg)) {
        var store = new PostgresTaskStore(db.dataSource());
        // A gate no node runs keeps the unfinished tasks waiting: the service places nothing.
        store.submit(
            List.of(TaskSpec.of("gate", "true").withConstraints(Map.of("zone", "never"))), at);
        for (int start = 0; start < tasks; start += 10_000) {
          var batch = new ArrayList<TaskSpec>();
          for (int i = start; i < Math.min(tasks, start + 10_000); i++) {
            batch.add(
                TaskSpec.of("team-" + i % 10 + "/job-" + i, "true")
                    .withLabels(Map.of("team", "t" + i % 10))
                    .withDependsOn("gate"));
          }
          store.submit(batch, at);
        }
        try (var c = db.dataSource().getConnection();
            var s = c.createStatement()) {
          // Bench data only: finished states written directly, past the lifecycle's trigger.
          s.execute("set session_replication_role = replica");
          s.execute(
              "update tasks set state = case when seq % 100 < 80 then 'succeeded'"
                  + " when seq % 100 < 85 then 'failed' when seq % 100 < 90 then 'cancelled'"
                  + " else state end, pending_dependencies = case when seq % 100 < 90 then 0"
                  + " else pending_dependencies end where id <> 'gate'");
          s.execute("set session_replication_role = origin");
          s.execute("vacuum analyze tasks");
          s.execute("vacuum analyze task_dependencies");
        }
      }
      out.printf(
          "# stored %d tasks (80%% succeeded, 5%% failed, 5%% cancelled, 10%% waiting) in %.1f s%n",
          tasks, (System.nanoTime() - t0) / 1e9);
      out.flush();
      Path data = dir.resolve("service");
      Files.createDirectories(data);
      long s0 = System.nanoTime();
      try (var service =
          StowageService.builder(data)
              .database(pg.jdbcUrl(), pg.user(), pg.password())
              .cluster(
                  new StowageService.Cluster.Simulated(
                      List.of(
                          new SimulatedCluster.Node(
                              "node-1", new Resources(16_000, 65_536, 100_000, 0), Map.of()))))
              .start()) {
        out.printf("# the service started in %.1f s%n", (System.nanoTime() - s0) / 1e9);
        String admin = Files.readString(service.adminTokenFile()).strip();
        var http = HttpClient.newHttpClient();
        String cookie = signIn(http, service.url(), admin);
        String before = "team-3/job-" + (tasks / 2 + 3);
        String[][] requests = {
          {"first load, newest 50", "/tasks"},
          {"filter state=failed", "/tasks?state=failed"},
          {"filter state=waiting", "/tasks?state=waiting"},
          {"filter label team=t3", "/tasks?label=team%3Dt3"},
          {"filter id prefix team-3/job-12", "/tasks?prefix=team-3%2Fjob-12"},
          {"filter state=failed, label team=t3 (none)", "/tasks?state=failed&label=team%3Dt3"},
          {"filter id prefix matching none", "/tasks?prefix=nobody%2F"},
          {"filter state=failed, prefix team-3/ (none)", "/tasks?state=failed&prefix=team-3%2F"},
          {
            "filter label team=t3, prefix team-4/ (none)", "/tasks?label=team%3Dt3&prefix=team-4%2F"
          },
          {"older page from the middle", "/tasks?before=" + enc(before)},
          {
            "older page, state=cancelled, prefix team-7/",
            "/tasks?state=cancelled&prefix=team-7%2F&before=" + enc(before)
          },
        };
        out.printf(
            "%-44s %10s %10s %6s%n",
            "request (htmx fragment but the first)", "median ms", "max ms", "rows");
        boolean first = true;
        for (String[] r : requests) {
          double[] ms = new double[runs];
          int rows = 0;
          for (int i = 0; i < runs; i++) {
            var request =
                HttpRequest.newBuilder(URI.create(service.url() + r[1])).header("Cookie", cookie);
            if (!first) {
              request.header("HX-Request", "true").header("HX-Target", "tasks-table");
            }
            long q0 = System.nanoTime();
            HttpResponse<String> answer =
                http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            ms[i] = (System.nanoTime() - q0) / 1e6;
            if (answer.statusCode() != 200) {
              throw new IllegalStateException(r[1] + " answered " + answer.statusCode());
            }
            rows = answer.body().split("<tr data-task=", -1).length - 1;
          }
          first = false;
          Arrays.sort(ms);
          out.printf("%-44s %10.1f %10.1f %6d%n", r[0], ms[runs / 2], ms[runs - 1], rows);
          out.flush();
        }
      }
    } finally {
      BenchCycleCommand.deleteTree(dir);
    }
    return 0;
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** Signs in as the page's form does, and returns the session cookie. */
  private static String signIn(HttpClient http, String url, String token) throws Exception {
    var answer =
        http.send(
            HttpRequest.newBuilder(URI.create(url + "/sign-in"))
                .header("Origin", url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("token=" + enc(token)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    return answer.headers().firstValue("Set-Cookie").orElseThrow().split(";", 2)[0];
  }
}
