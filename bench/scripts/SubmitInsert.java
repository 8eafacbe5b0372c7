// How long PostgreSQL takes to store a batch submit of 10,000 tasks, the durable half of
// POST /api/tasks: PostgresTaskStore.submit on embedded PostgreSQL, batches of 10,000 typical
// tasks (an id, a three-word command, two env variables, two labels, a trace, every tenth with a
// dependency on the one before), after two warm-up batches. Prints each batch and the median.
// Run from the repository root with the jar of the code to measure (run two jars one after the
// other to compare them):
//
//   java -Xmx2g -cp app/target/stowage.jar bench/scripts/SubmitInsert.java [batches]
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TraceContext;
import dev.stowage.store.Database;
import dev.stowage.store.EmbeddedPostgres;
import dev.stowage.store.PostgresTaskStore;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

public class SubmitInsert {
  public static void main(String[] args) throws Exception {
    int batches = args.length > 0 ? Integer.parseInt(args[0]) : 12;
    var dir = Files.createTempDirectory("submit-insert");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    try (var pg = EmbeddedPostgres.start(dir.resolve("pg"));
        var db = Database.open(pg)) {
      var store = PostgresTaskStore.oneWriter(db.dataSource());
      Instant now = Instant.parse("2026-12-02T00:00:00Z");
      var millis = new ArrayList<Double>();
      for (int b = 0; b < batches + 2; b++) {
        var batch = new ArrayList<TaskSpec>(10_000);
        for (int i = 0; i < 10_000; i++) {
          String id = "etl/2026-12-02/b" + b + "/step-" + i;
          batch.add(
              new TaskSpec(
                  id,
                  null,
                  List.of("python3", "step.py", "--part=" + i),
                  Map.of("STAGE", "transform", "PART", Integer.toString(i)),
                  new Resources(1000, 1024, 0, 0),
                  null,
                  i % 7,
                  i % 10 == 9 ? List.of("etl/2026-12-02/b" + b + "/step-" + (i - 1)) : null,
                  null,
                  null,
                  Map.of("team", "etl", "day", "2026-12-02"),
                  new TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null),
                  null,
                  null,
                  "team-etl",
                  null,
                  null,
                  null,
                  null,
                  null,
                  null));
        }
        long t0 = System.nanoTime();
        store.submit(batch, Map.of(), now);
        double ms = (System.nanoTime() - t0) / 1e6;
        if (b >= 2) {
          millis.add(ms);
        }
        System.out.printf("batch %2d: %7.1f ms%s%n", b, ms, b < 2 ? " (warm-up)" : "");
      }
      double[] sorted = millis.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      double median = sorted[sorted.length / 2];
      System.out.printf(
          "median of %d batches: %.1f ms for 10,000 tasks (%.0f tasks/s); all: %s%n",
          sorted.length, median, 10_000 / (median / 1000), Arrays.toString(sorted));
    }
  }
}
