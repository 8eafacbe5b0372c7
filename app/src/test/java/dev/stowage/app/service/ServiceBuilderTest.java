package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.backend.sim.SimulatedCluster;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Scorer;
import dev.stowage.engine.Task;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.TaskEvent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service's parts are the builder's: the clock, the matcher and mode, a given backend. */
class ServiceBuilderTest {
  @TempDir Path tmp;

  @Test
  void theServiceRunsOnTheClockMatcherAndBackendItWasBuiltWith() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Clock tomorrow = Clock.offset(Clock.systemUTC(), Duration.ofDays(1));
    var backend =
        new SimulatedCluster(
            List.of(new SimulatedCluster.Node("n", new Resources(4000, 8192, 0, 0), Map.of())),
            tomorrow);
    var matches = new AtomicInteger();
    var modes = new java.util.concurrent.ConcurrentLinkedQueue<MatchMode>();
    Matcher counting =
        new Matcher() {
          final Matcher fast = Matcher.fast();

          @Override
          public MatchResult match(List<Task> tasks, List<Offer> offers, MatchMode mode) {
            matches.incrementAndGet();
            modes.add(mode);
            return fast.match(tasks, offers, mode);
          }

          @Override
          public Scorer scorer() {
            return fast.scorer();
          }
        };
    try (var service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(50))
            .clock(tomorrow)
            .matcher(counting)
            .mode(MatchMode.CONSUME)
            .cluster(new StowageService.Cluster.Given(backend))
            .start()) {
      var http = HttpClient.newHttpClient();
      String auth = "Bearer " + Files.readString(service.adminTokenFile()).strip();
      var created =
          http.send(
              HttpRequest.newBuilder(URI.create(service.url() + "/api/tasks"))
                  .header("Authorization", auth)
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          """
                          {"id": "given/one", "command": ["sim"], "cpuMillis": 1000,
                           "env": {"STOWAGE_SIM_DURATION_MS": "10"}}
                          """))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(created.statusCode()).as(created.body()).isEqualTo(201);

      var json = new ObjectMapper();
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      String state = "";
      var view = json.createObjectNode();
      while (!state.equals("succeeded")) {
        assertThat(System.nanoTime()).as("reaches succeeded, is %s", state).isLessThan(deadline);
        Thread.sleep(20);
        var got =
            http.send(
                HttpRequest.newBuilder(URI.create(service.url() + "/api/tasks/given%2Fone"))
                    .header("Authorization", auth)
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        view = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(got.body());
        state = view.path("state").asText();
      }

      // Submitted a day ahead: the service read the builder's clock, not the system's.
      Instant submitted = Instant.parse(view.get("submittedAt").asText());
      assertThat(Duration.between(Instant.now(), submitted))
          .isBetween(Duration.ofHours(23), Duration.ofHours(25));
      // Run by the given backend, placed by the given matcher in the given mode.
      assertThat(backend.status(new AttemptId("given/one", 1)).kind())
          .isEqualTo(TaskEvent.Kind.EXITED);
      assertThat(matches.get()).isPositive();
      assertThat(modes).containsOnly(MatchMode.CONSUME);
    }
  }
}
