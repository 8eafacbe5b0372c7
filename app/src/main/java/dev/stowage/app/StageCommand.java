package dev.stowage.app;

import dev.stowage.staging.ByteCounts;
import dev.stowage.staging.DataMover;
import dev.stowage.staging.S3Storage;
import dev.stowage.staging.StagingException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
    name = "stage",
    mixinStandardHelpOptions = true,
    description = {
      "Copy data the way the scheduler stages inputs: many files in parallel through the"
          + " kernel's copy path, checked by length and CRC32C, renamed into place when complete,"
          + " and on the device before the command ends; what is already identical is skipped.",
      "SOURCE: a path, file:///path or s3://bucket/key (s3://bucket/prefix/ for every object"
          + " under it). DEST: a path, or s3://bucket/key to upload. A directory's copy is DEST"
          + " itself, so the same command again copies only what is missing; a file into an"
          + " existing directory lands in it, as with cp.",
      "S3 is reached the standard way: AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
          + " (or ~/.aws), and AWS_ENDPOINT_URL_S3 for a non-AWS server."
    })
final class StageCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "SOURCE")
  String source;

  @Parameters(index = "1", paramLabel = "DEST")
  String destination;

  @Option(
      names = "--parallel-files",
      defaultValue = "8",
      description = "Files copied at once. Default: ${DEFAULT-VALUE}.")
  int parallelFiles;

  @Option(
      names = "--range-mib",
      defaultValue = "0",
      description =
          "Copy files larger than this many MiB in ranges of this size, side by side. For file"
              + " systems that copy on the server (NFS 4.2); on a local one the ranges of a file"
              + " wait for each other's write lock. Default: ${DEFAULT-VALUE} (one stream per"
              + " file).")
  long rangeMiB;

  @Override
  public Integer call() throws Exception {
    if (parallelFiles < 1 || rangeMiB < 0) {
      throw new IllegalArgumentException(
          "--parallel-files must be at least 1 and --range-mib at least 0");
    }
    PrintWriter out = spec.commandLine().getOut();
    boolean s3 = source.startsWith("s3://") || destination.startsWith("s3://");
    var console = System.console();
    var progress = new Progress(out, console != null && console.isTerminal());
    long started = System.nanoTime();
    try (S3Storage storage = s3 ? S3Storage.fromEnvironment(System::getenv) : null;
        var mover = new DataMover(parallelFiles, rangeMiB << 20, storage)) {
      DataMover.Summary summary;
      try {
        summary = mover.copy(source, destination, progress);
      } catch (StagingException e) {
        progress.finish();
        spec.commandLine().getErr().println("stowage stage: " + e.getMessage());
        return Main.BAD_INPUT;
      }
      progress.finish();
      double s = (System.nanoTime() - started) / 1e9;
      out.printf(
          "staged %d file(s), %s in %.2f s (%s/s); %d already there%n",
          summary.files(),
          ByteCounts.human(summary.bytes()),
          s,
          ByteCounts.human((long) (summary.bytes() / Math.max(s, 1e-9))),
          summary.skipped());
      return 0;
    }
  }

  /** A bar redrawn in place on a terminal; a plain line every few seconds otherwise. */
  static final class Progress implements DataMover.Listener {
    private final PrintWriter out;
    private final boolean terminal;
    private final AtomicLong done = new AtomicLong();
    private final AtomicInteger filesDone = new AtomicInteger();
    private final long started = System.nanoTime();
    private volatile long total;
    private volatile int files;
    private final AtomicLong nextPrint = new AtomicLong(System.nanoTime());
    private long lastPrinted; // guarded by this

    Progress(PrintWriter out, boolean terminal) {
      this.out = out;
      this.terminal = terminal;
    }

    @Override
    public void planned(int count, long bytes) {
      files = count;
      total = bytes;
      synchronized (this) {
        out.printf("%d file(s), %s to stage%n", count, ByteCounts.human(bytes));
        out.flush();
      }
    }

    @Override
    public void moved(long n) {
      done.addAndGet(n);
      maybePrint();
    }

    @Override
    public void fileDone(boolean skipped) {
      filesDone.incrementAndGet();
      maybePrint();
    }

    private void maybePrint() {
      // Called by every copying thread for every file: most calls must not take the lock, or
      // thousands of small files queue on it.
      long now = System.nanoTime();
      long due = nextPrint.get();
      if (now - due < 0
          || !nextPrint.compareAndSet(due, now + (terminal ? 100_000_000L : 2_000_000_000L))) {
        return;
      }
      synchronized (this) {
        lastPrinted = now;
        print(false);
      }
    }

    synchronized void finish() {
      if (terminal && lastPrinted != 0) {
        print(true);
      }
    }

    private void print(boolean last) {
      long d = done.get();
      long t = Math.max(total, 1);
      double s = Math.max((System.nanoTime() - started) / 1e9, 1e-9);
      int percent = (int) Math.min(100, d * 100 / t);
      String line =
          String.format(
              "%3d%% %s of %s, %s/s, %d/%d file(s)",
              percent,
              ByteCounts.human(d),
              ByteCounts.human(total),
              ByteCounts.human((long) (d / s)),
              filesDone.get(),
              files);
      if (terminal) {
        int width = 30;
        int filled = percent * width / 100;
        out.print("\r[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + line + "   ");
        if (last) {
          out.println();
        }
      } else {
        out.println(line);
      }
      out.flush();
    }
  }
}
