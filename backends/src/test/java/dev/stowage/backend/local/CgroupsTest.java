package dev.stowage.backend.local;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.Resources;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Control groups: this machine's real cgroup v1 hierarchy, and ones that cannot be used. */
class CgroupsTest {
  @TempDir Path root;

  @Test
  void theMachinesHierarchyTakesAGroupWithTheRequestsLimitsAndItsProbeLeavesNothing()
      throws Exception {
    Path real = Path.of("/sys/fs/cgroup");
    Cgroups groups = Cgroups.detect(real);
    Assumptions.assumeTrue(
        groups instanceof Cgroups.V1, () -> "no writable cgroup v1 here: " + groups.notEnforced());
    var v1 = (Cgroups.V1) groups;
    try (var left = Files.list(v1.cpu())) {
      assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".probe"));
    }
    String name = "cgroups-test-" + ProcessHandle.current().pid();
    try {
      assertThat(groups.create(name, new Resources(250, 16, 0, 0))).hasSize(2);
      // As the kernel reads them back.
      assertThat(Files.readString(v1.cpu().resolve(name + "/cpu.cfs_quota_us")).strip())
          .isEqualTo("25000");
      assertThat(Files.readString(v1.memory().resolve(name + "/memory.limit_in_bytes")).strip())
          .isEqualTo("16777216");
      assertThat(groups.oomKilled(name)).isFalse();
    } finally {
      groups.remove(name);
    }
    assertThat(v1.cpu().resolve(name)).doesNotExist();
    assertThat(v1.memory().resolve(name)).doesNotExist();
  }

  @Test
  void aHierarchyThatCannotTakeAGroupMeansLimitsAreNotEnforcedSayingWhy() throws Exception {
    Files.createDirectories(root.resolve("cpu"));
    Files.writeString(root.resolve("memory"), "not a hierarchy");
    assertThat(Cgroups.detect(root).notEnforced())
        .get()
        .asString()
        .startsWith("no cgroup v1 cpu and memory hierarchies nor cgroup v2");

    Files.delete(root.resolve("memory"));
    Files.createDirectories(root.resolve("memory"));
    Files.writeString(root.resolve("cpu/stowage"), "taken by a file");
    Cgroups groups = Cgroups.detect(root);
    assertThat(groups).isInstanceOf(Cgroups.None.class);
    assertThat(groups.notEnforced()).get().asString().contains("cpu/stowage");
  }
}
