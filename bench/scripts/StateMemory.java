// How much heap a queued task costs in the scheduling state's memory: 1,000,000 tasks submitted
// to the in-memory model (the same structures SchedulingState keeps for unfinished tasks), in
// batches of 10,000, heap used measured after a collection before and after. Each task is what a
// typical API submit makes: an id, a three-word command, two env variables, two labels,
// resources, a priority, a submit trace. Run from the repository root after a build:
//
//   java -XX:+UseShenandoahGC -Xmx2g -cp app/target/stowage.jar bench/scripts/StateMemory.java
import dev.stowage.engine.Resources;
import dev.stowage.scheduler.InMemoryTaskStore;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TraceContext;
import java.lang.management.ManagementFactory;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class StateMemory {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    long before = usedAfterGc();
    var store = new InMemoryTaskStore();
    Instant now = Instant.parse("2026-12-02T00:00:00Z");
    for (int start = 0; start < n; start += 10_000) {
      var batch = new ArrayList<TaskSpec>();
      for (int i = start; i < Math.min(n, start + 10_000); i++) {
        batch.add(
            new TaskSpec(
                "etl/2026-12-02/step-" + i,
                null,
                List.of("python3", "step.py", Integer.toString(i % 100)),
                Map.of("STAGE", "transform", "SHARD", Integer.toString(i % 64)),
                new Resources(500, 1024, 2048, 0),
                null,
                i % 3,
                null,
                null,
                null,
                Map.of("team", "data", "run", "nightly"),
                new TraceContext(
                    String.format("00-%032x-%016x-01", (long) i + 1, (long) i + 1), null),
                null,
                null,
                "team-data",
                null,
                null,
                null,
                  null,
                  null,
                  null));
      }
      store.submit(batch, now);
    }
    long after = usedAfterGc();
    long queued = store.countByState().getOrDefault(TaskState.QUEUED, 0L);
    System.out.printf(
        "%d queued tasks: %.0f MiB of heap, %d bytes a task (max heap %d MiB)%n",
        queued,
        (after - before) / 1048576.0,
        (after - before) / Math.max(1, queued),
        Runtime.getRuntime().maxMemory() / 1048576);
    // Keep the store reachable until measured.
    System.out.println("first in queue: " + store.processable(1, now).getFirst().id());
  }

  private static long usedAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
