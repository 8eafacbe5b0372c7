package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.stowage.app.service.StowageService;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard, alert rules, Prometheus and Collector configurations under deploy/observability:
 * each parses, and every series and label they name is in /metrics after a short run. Where
 * Prometheus' promtool is installed (CI installs it), the rules and the configuration are checked
 * by it, the rules' own unit tests run, and the dashboard's queries are parsed as PromQL.
 */
class ShippedObservabilityTest {
  static final Path SHIPPED = Path.of("..", "deploy", "observability");
  static final ObjectMapper JSON = new ObjectMapper();
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  /** Identifiers in a query that name a series: Stowage's, the JVM's and HTTP's. */
  static final Pattern SERIES = Pattern.compile("\\b((?:stowage|jvm|http_server)_[a-z0-9_]+)");

  static final Pattern GROUPING = Pattern.compile("\\b(?:by|on|without|ignoring) \\(([^)]*)\\)");

  /** A label matcher inside a selector's braces. */
  static final Pattern MATCHER = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(?:=~|!~|!=|=)");

  static final Pattern BRACES = Pattern.compile("\\{([^}]*)}");

  @TempDir static Path tmp;
  static StowageService service;
  static String metrics;
  static Set<String> seriesNames;

  @BeforeAll
  static void aShortRun() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    // A real process on the local backend, with an input staged in and an output copied out, so
    // the staging histograms have series too.
    Path inputs = Files.createDirectories(tmp.resolve("inputs"));
    Path results = Files.createDirectories(tmp.resolve("results"));
    Files.writeString(inputs.resolve("rows.csv"), "id,value\n1,42\n");
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(50))
            .maxTasksPerCycle(100)
            .allowedSources(List.of(inputs.toUri().toString()))
            .allowedOutputs(List.of(results.toUri().toString()))
            .start();
    var http = HttpClient.newHttpClient();
    String auth = "Bearer " + Files.readString(tmp.resolve("data").resolve("admin.token")).strip();
    var created =
        http.send(
            HttpRequest.newBuilder(URI.create(service.url() + "/api/tasks"))
                .header("Authorization", auth)
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        """
                        {"id": "shipped/one", "command": ["sh", "-c", "cp in/rows.csv out.csv"],
                         "cpuMillis": 100,
                         "inputs": [{"source": "%s", "destination": "in/rows.csv"}],
                         "outputs": [{"source": "out.csv", "destination": "%s"}]}
                        """
                            .formatted(
                                inputs.resolve("rows.csv").toUri(),
                                results.resolve("out.csv").toUri())))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    String state = "";
    while (!state.equals("succeeded")) {
      assertThat(System.nanoTime()).as("the task succeeds within 30 s").isLessThan(deadline);
      Thread.sleep(50);
      state =
          JSON.readTree(
                  http.send(
                          HttpRequest.newBuilder(
                                  URI.create(service.url() + "/api/tasks/shipped%2Fone"))
                              .header("Authorization", auth)
                              .build(),
                          HttpResponse.BodyHandlers.ofString())
                      .body())
              .get("state")
              .asText();
    }
    // The JVM's garbage-collection series appear with its first collection, which a run this
    // short may not have had: ask for one, and wait for it to be counted.
    System.gc();
    deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    do {
      metrics =
          http.send(
                  HttpRequest.newBuilder(URI.create(service.url() + "/metrics"))
                      .header("Authorization", auth)
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      assertThat(System.nanoTime()).as("a collection is counted within 20 s").isLessThan(deadline);
      Thread.sleep(50);
    } while (!metrics.contains("jvm_gc_duration_seconds_count{"));
    seriesNames = new TreeSet<>();
    for (String line : metrics.split("\n")) {
      if (!line.isEmpty() && !line.startsWith("#")) {
        seriesNames.add(line.split("[{ ]", 2)[0]);
      }
    }
  }

  @AfterAll
  static void stop() {
    service.close();
  }

  /** Every query of the dashboard, with Grafana's variables as a query would see them. */
  static List<String> dashboardQueries() throws IOException {
    JsonNode dashboard = JSON.readTree(SHIPPED.resolve("grafana/stowage-dashboard.json").toFile());
    var out = new ArrayList<String>();
    for (JsonNode panel : dashboard.get("panels")) {
      for (JsonNode target : panel.get("targets")) {
        out.add(
            target
                .get("expr")
                .asText()
                .replace("$__rate_interval", "5m")
                .replace("\"$job\"", "\".*\""));
      }
    }
    return out;
  }

  static List<String> alertExpressions() throws IOException {
    var out = new ArrayList<String>();
    for (JsonNode group :
        YAML.readTree(SHIPPED.resolve("prometheus/stowage-alerts.yml").toFile()).get("groups")) {
      for (JsonNode rule : group.get("rules")) {
        out.add(rule.get("expr").asText());
      }
    }
    return out;
  }

  /** The series and grouping labels a query names that a short run's /metrics does not have. */
  static List<String> unknownNames(String query) {
    var unknown = new ArrayList<String>();
    var labels = new ArrayList<String>();
    Matcher grouping = GROUPING.matcher(query);
    while (grouping.find()) {
      labels.addAll(List.of(grouping.group(1).split(",")));
    }
    Matcher braces = BRACES.matcher(query);
    while (braces.find()) {
      Matcher matcher = MATCHER.matcher(braces.group(1));
      while (matcher.find()) {
        labels.add(matcher.group(1));
      }
    }
    for (String label : labels) {
      String l = label.strip();
      // le is a histogram's bucket bound; job is the label Prometheus adds to what it scrapes.
      if (!l.isEmpty() && !Set.of("le", "job").contains(l) && !metrics.contains(l + "=\"")) {
        unknown.add(l);
      }
    }
    // Series names: what is left once label names are taken out.
    String bare = BRACES.matcher(GROUPING.matcher(query).replaceAll("")).replaceAll("");
    Matcher series = SERIES.matcher(bare);
    while (series.find()) {
      if (!seriesNames.contains(series.group(1))) {
        unknown.add(series.group(1));
      }
    }
    return unknown;
  }

  @Test
  void theDashboardChartsWhatAnOperatorAsksForFromSeriesThatExist() throws Exception {
    JsonNode dashboard = JSON.readTree(SHIPPED.resolve("grafana/stowage-dashboard.json").toFile());
    assertThat(dashboard.get("uid").asText()).isEqualTo("stowage");
    var titles = new ArrayList<String>();
    for (JsonNode panel : dashboard.get("panels")) {
      titles.add(panel.get("title").asText());
      assertThat(panel.at("/datasource/uid").asText()).isEqualTo("${datasource}");
      assertThat(panel.get("targets")).isNotEmpty();
    }
    assertThat(titles)
        .contains(
            "Cycle phases (p99)",
            "Queue wait",
            "Cluster utilization",
            "Attempt failure ratio",
            "Staging throughput");
    List<String> queries = dashboardQueries();
    assertThat(queries).hasSizeGreaterThan(12);
    for (String query : queries) {
      assertThat(unknownNames(query)).as(query).isEmpty();
    }
  }

  @Test
  void everyMetricOfStowageAndItsApiSaysWhatItMeasures() {
    var types = Pattern.compile("(?m)^# TYPE ((?:stowage|http_server)_\\S+) ").matcher(metrics);
    int families = 0;
    while (types.find()) {
      families++;
      assertThat(metrics)
          .as(types.group(1))
          .containsPattern("(?m)^# HELP " + Pattern.quote(types.group(1)) + " \\S.{10,}$");
    }
    assertThat(families).isGreaterThan(15);
  }

  @Test
  void theAlertRulesNameSeriesThatExistAndSaySomething() throws Exception {
    var names = new ArrayList<String>();
    for (JsonNode group :
        YAML.readTree(SHIPPED.resolve("prometheus/stowage-alerts.yml").toFile()).get("groups")) {
      for (JsonNode rule : group.get("rules")) {
        names.add(rule.get("alert").asText());
        assertThat(rule.at("/labels/severity").asText()).isIn("info", "warning", "critical");
        assertThat(rule.at("/annotations/summary").asText()).isNotBlank();
        assertThat(rule.get("for").asText()).matches("\\d+m");
      }
    }
    assertThat(names)
        .containsExactly(
            "StowageCycleSlow",
            "StowageTasksStuckQueued",
            "StowageAttemptFailureRatioHigh",
            "StowageTasksNeverSchedulable");
    for (String expr : alertExpressions()) {
      assertThat(unknownNames(expr)).as(expr).isEmpty();
    }
  }

  @Test
  void theCollectorReceivesWhatStowageSendsAndEveryPipelineIsWired() throws Exception {
    JsonNode config = YAML.readTree(SHIPPED.resolve("otel-collector/config.yaml").toFile());
    // Stowage sends OTLP over HTTP, to port 4318.
    assertThat(config.at("/receivers/otlp/protocols/http/endpoint").asText()).endsWith(":4318");
    JsonNode pipelines = config.at("/service/pipelines");
    assertThat(pipelines.has("traces") && pipelines.has("metrics") && pipelines.has("logs"))
        .isTrue();
    for (var pipeline : pipelines.properties()) {
      for (String kind : List.of("receivers", "processors", "exporters")) {
        for (JsonNode component : pipeline.getValue().path(kind)) {
          assertThat(config.path(kind).has(component.asText()))
              .as(pipeline.getKey() + " names " + kind + " " + component.asText())
              .isTrue();
        }
      }
      assertThat(pipeline.getValue().path("exporters")).as(pipeline.getKey()).isNotEmpty();
    }
    assertThat(pipelines.at("/traces/exporters/0").asText()).isEqualTo("otlp/traces");
    assertThat(pipelines.at("/metrics/exporters/0").asText()).isEqualTo("prometheus");
    assertThat(config.at("/exporters/prometheus/enable_open_metrics").asBoolean())
        .as("exemplars reach Prometheus only in OpenMetrics")
        .isTrue();
  }

  @Test
  void promtoolAcceptsTheRulesAndTheConfigurationAndTheRulesPassTheirOwnTests() throws Exception {
    requirePromtool();
    Path prometheus = SHIPPED.resolve("prometheus");
    assertThat(promtool(prometheus, "check", "rules", "stowage-alerts.yml"))
        .contains("SUCCESS: 4 rules found");
    assertThat(promtool(prometheus, "test", "rules", "stowage-alerts.test.yml"))
        .contains("SUCCESS");
    // The scrape configuration, beside the token file it reads.
    Path copy = Files.createDirectories(tmp.resolve("prometheus"));
    for (String f : List.of("prometheus.yml", "stowage-alerts.yml")) {
      Files.copy(prometheus.resolve(f), copy.resolve(f));
    }
    Files.writeString(copy.resolve("stowage.token"), "stw_example\n");
    assertThat(promtool(copy, "check", "config", "prometheus.yml"))
        .contains("is valid prometheus config file syntax");
  }

  @Test
  void everyQueryOfTheDashboardIsPromql() throws Exception {
    requirePromtool();
    var rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
    List<String> queries = dashboardQueries();
    for (int i = 0; i < queries.size(); i++) {
      rules
          .append("      - record: dashboard:query_")
          .append(i)
          .append("\n        expr: ")
          .append(JSON.writeValueAsString(queries.get(i)))
          .append('\n');
    }
    Path file = tmp.resolve("dashboard-rules.yml");
    Files.writeString(file, rules);
    assertThat(promtool(tmp, "check", "rules", file.getFileName().toString()))
        .contains("SUCCESS: " + queries.size() + " rules found");
  }

  /** CI installs promtool (Debian's prometheus package); elsewhere these checks need it too. */
  static void requirePromtool() {
    boolean present =
        Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":"))
            .anyMatch(d -> Files.isExecutable(Path.of(d, "promtool")));
    if (System.getenv("CI") != null) {
      assertThat(present).as("promtool on PATH (.ci/run installs it)").isTrue();
    }
    Assumptions.assumeTrue(present, "promtool is not installed (apt-get install prometheus)");
  }

  /** Runs promtool in {@code dir}; returns what it printed, failing on a non-zero exit. */
  static String promtool(Path dir, String... args) throws Exception {
    var command = new ArrayList<String>();
    command.add("promtool");
    command.addAll(List.of(args));
    Process p =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command) + "\n" + out).isZero();
    return out;
  }
}
