package dev.stowage.workload;

import java.nio.file.Path;

/** Bad input in a workload file: the message names the file and the line. */
public final class WorkloadException extends Exception {
  private final Path file;
  private final long line;

  public WorkloadException(Path file, long line, String problem) {
    super(file + ":" + line + ": " + problem);
    this.file = file;
    this.line = line;
  }

  public WorkloadException(Path file, String problem) {
    super(file + ": " + problem);
    this.file = file;
    this.line = 0;
  }

  public Path file() {
    return file;
  }

  /** The 1-based line, or 0 when the problem is with the whole file. */
  public long line() {
    return line;
  }
}
