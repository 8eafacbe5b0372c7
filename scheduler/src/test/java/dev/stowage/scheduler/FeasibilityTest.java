package dev.stowage.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FeasibilityTest {
  static final List<Offer> NODES = nodes();

  static List<Offer> nodes() {
    var out = new ArrayList<Offer>();
    for (int i = 0; i < 3; i++) {
      out.add(
          new Offer("a" + i, "a" + i, new Resources(8000, 32768, 100_000, 0), Map.of("zone", "a")));
    }
    out.add(new Offer("b0", "b0", new Resources(16000, 65536, 100_000, 2), Map.of("zone", "b")));
    return out;
  }

  static TaskSpec task(String id, Resources r, Map<String, String> constraints) {
    return TaskSpec.of(id, "true").withResources(r).withConstraints(constraints);
  }

  @Test
  void flagsOnlyTasksThatNoNodeCouldHostEvenEmpty() {
    var fits = task("fits", new Resources(16000, 1024, 0, 2), Map.of());
    var tooBig = task("too-big", new Resources(1000, 100_000, 0, 0), Map.of());
    var nowhere = task("nowhere", new Resources(1000, 1024, 0, 0), Map.of("zone", "c"));
    var gpuInA = task("gpu-in-a", new Resources(1000, 1024, 0, 1), Map.of("zone", "a"));

    Map<String, String> flagged =
        Feasibility.neverSchedulable(List.of(fits, tooBig, nowhere, gpuInA), NODES);

    assertThat(flagged.keySet()).containsExactly("too-big", "nowhere", "gpu-in-a");
    assertThat(flagged.get("too-big"))
        .isEqualTo("never schedulable: 0/4 nodes fit it empty: 4 insufficient memoryMiB");
    assertThat(flagged.get("nowhere"))
        .isEqualTo("never schedulable: 0/4 nodes fit it empty: 4 constraint zone=c");
    // Counted under the first failing check, largest count first, as the engine explains.
    assertThat(flagged.get("gpu-in-a"))
        .isEqualTo(
            "never schedulable: 0/4 nodes fit it empty: 3 insufficient gpus, 1 constraint zone=a");
  }

  @Test
  void anUnknownClusterFlagsNothing() {
    var huge = task("huge", new Resources(1L << 40, 0, 0, 0), Map.of());
    assertThat(Feasibility.neverSchedulable(List.of(huge), List.of())).isEmpty();
  }

  @Test
  void manyIdenticalTasksAreAllFlagged() {
    var batch = new ArrayList<TaskSpec>();
    for (int i = 0; i < 1000; i++) {
      batch.add(task("t" + i, new Resources(20000, 0, 0, 0), Map.of()));
    }
    assertThat(Feasibility.neverSchedulable(batch, NODES)).hasSize(1000);
  }
}
