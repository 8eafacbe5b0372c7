package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.engine.Resources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The overview's charts over time outlive a restart of the service on the same data. */
class DashboardHistoryTest {
  @TempDir Path tmp;

  @Test
  void aRestartedServiceChartsTheSamplesItTookBefore() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    JsonNode before;
    try (var service = start()) {
      String admin = Files.readString(service.adminTokenFile()).strip();
      var api = new TestApi(service);
      // The first sample is taken as the service starts; the next, 10 s on, holds its cycles.
      long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
      do {
        assertThat(System.nanoTime()).as("a sample with cycles within 40 s").isLessThan(deadline);
        Thread.sleep(200);
        before = history(api, admin);
      } while (!hasPhaseTimes(before));
    }
    try (var service = start()) {
      String admin = Files.readString(service.adminTokenFile()).strip();
      JsonNode after = history(new TestApi(service), admin);
      int taken = before.get("t").size();
      assertThat(after.get("t").size()).isGreaterThanOrEqualTo(taken);
      for (int i = 0; i < taken; i++) {
        assertThat(after.get("t").get(i)).isEqualTo(before.get("t").get(i));
        assertThat(after.get("placed").get(i)).isEqualTo(before.get("placed").get(i));
      }
      for (var phase : before.get("phaseMs").properties()) {
        for (int i = 0; i < taken; i++) {
          assertThat(after.get("phaseMs").get(phase.getKey()).get(i))
              .as(phase.getKey() + " at sample " + i)
              .isEqualTo(phase.getValue().get(i));
        }
      }
      assertThat(hasPhaseTimes(after)).isTrue();
    }
  }

  private StowageService start() throws Exception {
    return StowageService.builder(tmp.resolve("data"))
        .interval(Duration.ofMillis(100))
        .cluster(new StowageService.Cluster.Local(new Resources(2000, 2048, 10_000, 0)))
        .start();
  }

  private static JsonNode history(TestApi api, String token) throws Exception {
    var r = api.send("GET", "/ui/data/history", null, token);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return TestApi.json(r);
  }

  private static boolean hasPhaseTimes(JsonNode history) {
    for (var phase : history.get("phaseMs").properties()) {
      for (JsonNode v : phase.getValue()) {
        if (!v.isNull()) {
          return true;
        }
      }
    }
    return false;
  }
}
