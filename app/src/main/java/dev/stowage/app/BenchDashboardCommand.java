package dev.stowage.app;

import dev.stowage.app.service.StowageService;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.history.ClusterHistory;
import dev.stowage.scheduler.history.ClusterSample;
import dev.stowage.store.Database;
import dev.stowage.store.EmbeddedPostgres;
import dev.stowage.store.PostgresClusterHistory;
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
          + " upper bound of the server's time) and the rows it showed.",
      "Then, with a day of the overview's samples stored (one every 10 s, --queues queues in"
          + " flight in each), times the overview and its charts' data: the first request, the"
          + " median and the slowest, the median of three made each just after a new sample"
          + " (new), and the bytes sent, plain and gzipped."
    })
final class BenchDashboardCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--tasks", defaultValue = "1000000", description = "Default: ${DEFAULT-VALUE}.")
  int tasks;

  @Option(names = "--runs", defaultValue = "15", description = "Default: ${DEFAULT-VALUE}.")
  int runs;

  @Option(
      names = "--queues",
      defaultValue = "100",
      description = "Queues in flight in each stored sample. Default: ${DEFAULT-VALUE}.")
  int queues;

  @Override
  public Integer call() throws Exception {
    if (tasks < 1000 || runs < 1 || queues < 0) {
      throw new IllegalArgumentException(
          "--tasks must be 1000 or more, --runs 1 or more and --queues 0 or more");
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
        storeADayOfSamples(new PostgresClusterHistory(db.dataSource()));
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
        out.printf(
            "%n%-44s %10s %10s %10s %10s %10s %10s%n",
            "request (a day of samples, " + queues + " queues)",
            "first ms",
            "median ms",
            "max ms",
            "new ms",
            "KB",
            "KB gzip");
        for (String[] r :
            new String[][] {{"overview, whole page", "/"}, {"charts' data", "/ui/data/history"}}) {
          double[] ms = new double[runs];
          double firstMs = 0;
          int plain = 0;
          for (int i = 0; i < runs; i++) {
            var request =
                HttpRequest.newBuilder(URI.create(service.url() + r[1])).header("Cookie", cookie);
            long q0 = System.nanoTime();
            HttpResponse<byte[]> answer =
                http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            ms[i] = (System.nanoTime() - q0) / 1e6;
            if (answer.statusCode() != 200) {
              throw new IllegalStateException(r[1] + " answered " + answer.statusCode());
            }
            firstMs = i == 0 ? ms[0] : firstMs;
            plain = answer.body().length;
          }
          // The charts' data is built once per sample: time it again just after new ones.
          double[] fresh = new double[3];
          for (int i = 0; i < fresh.length; i++) {
            Thread.sleep(10_500);
            long q0 = System.nanoTime();
            http.send(
                HttpRequest.newBuilder(URI.create(service.url() + r[1]))
                    .header("Cookie", cookie)
                    .build(),
                HttpResponse.BodyHandlers.ofByteArray());
            fresh[i] = (System.nanoTime() - q0) / 1e6;
          }
          Arrays.sort(fresh);
          var zipped =
              http.send(
                  HttpRequest.newBuilder(URI.create(service.url() + r[1]))
                      .header("Cookie", cookie)
                      .header("Accept-Encoding", "gzip")
                      .build(),
                  HttpResponse.BodyHandlers.ofByteArray());
          boolean gzipped =
              zipped.headers().firstValue("Content-Encoding").orElse("").equals("gzip");
          Arrays.sort(ms);
          out.printf(
              "%-44s %10.1f %10.1f %10.1f %10.1f %10.1f %10s%n",
              r[0],
              firstMs,
              ms[runs / 2],
              ms[runs - 1],
              fresh[1],
              plain / 1e3,
              gzipped ? String.format("%.1f", zipped.body().length / 1e3) : "not sent");
          out.flush();
        }
      }
    } finally {
      BenchCycleCommand.deleteTree(dir);
    }
    return 0;
  }

  /** A day of samples up to now, one every 10 s, each with {@link #queues} queues in flight. */
  private void storeADayOfSamples(ClusterHistory history) {
    Instant now = Instant.now();
    int samples = 8_640;
    var phases = new java.util.LinkedHashMap<String, Double>();
    var shares = new java.util.TreeMap<String, Double>();
    var random = new java.util.Random(7);
    for (int i = 0; i < samples; i++) {
      Instant sampled = now.minusSeconds(10L * (samples - i));
      phases.clear();
      for (String phase : SchedulingCycle.PHASES) {
        phases.put(phase, random.nextDouble() * 20);
      }
      shares.clear();
      for (int q = 0; q < queues; q++) {
        shares.put("team-" + q, random.nextDouble() / Math.max(1, queues));
      }
      history.append(
          new ClusterSample(
              sampled,
              List.of(random.nextDouble(), random.nextDouble(), random.nextDouble(), 0.0),
              shares,
              random.nextInt(500),
              random.nextInt(500),
              random.nextInt(20),
              10,
              phases),
          now.minus(java.time.Duration.ofDays(1)));
    }
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
