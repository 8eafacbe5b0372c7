package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user drives it: exit codes, files, and the lines it prints. */
class MainTest {
  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  static Run run(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    int exit =
        Main.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void queuesWeighted121OnASaturatedClusterSettleAtTheirFairShares() throws Exception {
    Path svg = dir.resolve("shares.svg");
    Run fair =
        run(
            "bench-fairshare",
            "--nodes",
            "100",
            "--minutes",
            "10",
            "--transient-minutes",
            "2",
            "--svg",
            svg.toString());

    assertThat(fair.exit()).as(fair.out()).isZero();
    assertThat(fair.out())
        .contains("after minute 2 (16 samples, every 30 s)")
        .containsPattern("queue a: .*, fair 25.0%: within ±5 % of it")
        .containsPattern("queue b: .*, fair 50.0%: within ±5 % of it")
        .containsPattern("queue c: .*, fair 25.0%: within ±5 % of it");
    assertThat(Files.readString(svg)).startsWith("<svg").contains("<polyline");
    assertThat(run("bench-fairshare", "--minutes", "2", "--transient-minutes", "2").err())
        .contains("--transient-minutes in [0, --minutes)");
    assertThat(
            run("bench-fairshare", "--late-queue-minutes", "3", "--transient-minutes", "2").err())
        .contains("--late-queue-minutes must be in [0, --transient-minutes]");
  }

  @Test
  void generateThenMatchWritesContractAssignmentsAndASummary() throws Exception {
    Run gen =
        run("generate", "--tasks", "300", "--offers", "80", "--seed", "5", "--out", dir.toString());
    assertThat(gen.exit()).isZero();
    assertThat(Files.readAllLines(dir.resolve("tasks.jsonl"))).hasSize(300);
    assertThat(Files.readAllLines(dir.resolve("offers.jsonl"))).hasSize(80);

    Path fastOut = dir.resolve("fast.jsonl");
    Path refOut = dir.resolve("reference.jsonl");
    Run fast = match("pack", "fast", fastOut, "--warmups", "2");
    Run reference = match("pack", "reference", refOut);

    assertThat(fast.exit()).isZero();
    assertThat(fast.out()).containsPattern("matched=\\d+ .*match_ms=\\d+\\.\\d");
    assertThat(Files.readAllLines(fastOut))
        .isNotEmpty()
        .allMatch(l -> l.matches("\\{\"task\":\"task-\\d+\",\"offer\":\"offer-\\d+\"}"))
        .isEqualTo(Files.readAllLines(refOut));
    assertThat(reference.exit()).isZero();
  }

  @Test
  void matchReproducesAConformanceSet() throws Exception {
    Path set = conformance("mixed-300x80");
    Path out = dir.resolve("a.jsonl");

    Run r =
        run(
            "match",
            "--tasks",
            set.resolve("tasks.jsonl").toString(),
            "--offers",
            set.resolve("offers.jsonl").toString(),
            "--mode",
            "consume",
            "--out",
            out.toString());

    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains("matched=80 ");
    // The expected file is written by another JSON library: compare parsed assignments.
    assertThat(dev.stowage.workload.WorkloadFiles.readAssignments(out))
        .isEqualTo(
            dev.stowage.workload.WorkloadFiles.readAssignments(
                set.resolve("expected_consume.jsonl")));
  }

  @Test
  void explainSaysWhyTasksStayUnassigned() throws Exception {
    Files.write(
        dir.resolve("tasks.jsonl"),
        List.of(
            "{\"name\":\"small\",\"cpuMillis\":100}",
            "{\"name\":\"huge\",\"cpuMillis\":100000}",
            "{\"name\":\"pinned\",\"cpuMillis\":100,\"constraints\":{\"zone\":\"z\"}}"));
    Files.write(
        dir.resolve("offers.jsonl"),
        List.of(
            "{\"name\":\"o\",\"node\":\"n\",\"cpuMillis\":1000,\"attributes\":{\"zone\":\"a\"}}"));

    Path out = dir.resolve("out.jsonl");
    Run r = match("pack", "fast", out, "--explain");
    Run limited = match("pack", "fast", out, "--explain", "--explain-limit", "1");

    assertThat(r.exit()).isZero();
    assertThat(r.out())
        .contains("matched=1 unassigned=2")
        .contains(
            "unassigned huge: 0/1 offers fit: 1 insufficient cpuMillis; never schedulable: no"
                + " offer in the input could ever fit it")
        .contains(
            "unassigned pinned: 0/1 offers fit: 1 constraint zone=z; never schedulable: no offer"
                + " in the input could ever fit it")
        .doesNotContain("not explained");
    assertThat(limited.out())
        .contains("unassigned huge: ")
        .doesNotContain("unassigned pinned")
        .contains("1 more unassigned tasks not explained (--explain-limit 0 explains all)");
  }

  @Test
  void badInputFailsWithOneLineNamingFileAndLineAndNoStackTrace() throws Exception {
    Path tasks = dir.resolve("tasks.jsonl");
    Files.write(tasks, List.of("{\"name\":\"a\"}", "{\"name\":\"b\",\"memoryMiB\":-1}"));
    Path offers = dir.resolve("offers.jsonl");
    Files.write(offers, List.of("{\"name\":\"o\",\"node\":\"n\"}"));

    Run r =
        run("match", "--tasks", tasks.toString(), "--offers", offers.toString(), "--mode", "pack");

    assertThat(r.exit()).isEqualTo(Main.BAD_INPUT);
    assertThat(r.err().strip())
        .isEqualTo(
            "stowage: " + tasks + ":2: field 'memoryMiB' must be an integer in [0, 2^53], got -1")
        .doesNotContain("\tat ");
  }

  @Test
  void usageErrorsNameTheOption() {
    Run mode = run("match", "--tasks", "t", "--offers", "o", "--mode", "fill");
    Run sizes = run("bench", "--sizes", "10k");
    Run missing = run("generate", "--tasks", "1");
    Run warmups =
        run("match", "--tasks", "t", "--offers", "o", "--mode", "pack", "--warmups", "-1");

    assertThat(mode.exit()).isEqualTo(Main.USAGE);
    assertThat(mode.err()).contains("unknown mode 'fill': expected consume or pack");
    assertThat(sizes.exit()).isEqualTo(Main.USAGE);
    assertThat(sizes.err()).contains("--sizes: '10k' is not TASKSxOFFERS");
    assertThat(missing.exit()).isEqualTo(Main.USAGE);
    assertThat(missing.err()).contains("Missing required options").contains("--offers");
    assertThat(warmups.exit()).isEqualTo(Main.USAGE);
    assertThat(warmups.err()).contains("--warmups must not be negative: -1");
  }

  @Test
  void helpListsEveryCommandAndAMistypedOneIsRefusedByName() {
    // Only the command named first is built at start; help and typos still see all of them.
    Run help = run("--help");
    Run typo = run("stag", "a", "b");
    Run stageHelp = run("stage", "--help");

    assertThat(help.exit()).isZero();
    assertThat(help.out())
        .contains("  up ", "  submit ", "  tasks ", "  why ", "  stage ", "  bench-api ");
    assertThat(typo.exit()).isEqualTo(Main.USAGE);
    assertThat(typo.err()).contains("'stag'");
    assertThat(stageHelp.exit()).isZero();
    assertThat(stageHelp.out()).startsWith("Usage: stowage stage ");
  }

  @Test
  void benchPrintsATableWhereEveryPeerAgrees() {
    Run r =
        run(
            "bench",
            "--sizes",
            "400x100",
            "--warmups",
            "0",
            "--warmup-ms",
            "0",
            "--runs",
            "1",
            "--python",
            "none");

    assertThat(r.exit()).isZero();
    assertThat(r.out())
        .contains("tasks x offers")
        .containsPattern("400x100\\s+consume\\s+fast")
        .containsPattern("400x100\\s+pack\\s+java-loop .* yes")
        .doesNotContain(" NO");
  }

  static Path conformance(String set) throws Exception {
    // The shared sets are copied into the workload module's test resources.
    Path p = Path.of("..", "workload", "src", "test", "resources", "conformance", set);
    assertThat(p).isDirectory();
    return p;
  }

  private Run match(String mode, String matcher, Path out, String... more) {
    var args =
        new java.util.ArrayList<>(
            List.of(
                "match",
                "--tasks",
                dir.resolve("tasks.jsonl").toString(),
                "--offers",
                dir.resolve("offers.jsonl").toString(),
                "--mode",
                mode,
                "--matcher",
                matcher,
                "--out",
                out.toString()));
    args.addAll(List.of(more));
    return run(args.toArray(String[]::new));
  }
}
