package dev.stowage.app.telemetry;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.List;

/**
 * Appends each batch of spans to a file as one line of OTLP/JSON: the format of the OpenTelemetry
 * Collector's file exporter, readable by its {@code otlpjsonfile} receiver.
 *
 * <p>The file is capped, as the Collector's own file exporter rotates: once it holds {@code
 * maxBytes}, it becomes {@code FILE.1} (replacing the one before) and a new file starts, so that
 * the two never hold much more than twice the cap.
 */
final class OtlpJsonFileExporter implements SpanExporter {
  /** 100 MiB, then the file turns over. */
  static final long DEFAULT_MAX_BYTES = 100L << 20;

  private final Path file;
  private final long maxBytes;
  private OutputStream out;
  private long size;

  OtlpJsonFileExporter(Path file) throws IOException {
    this(file, DEFAULT_MAX_BYTES);
  }

  OtlpJsonFileExporter(Path file, long maxBytes) throws IOException {
    if (maxBytes < 1) {
      throw new IllegalArgumentException("a trace file's cap must be positive");
    }
    this.file = file.toAbsolutePath();
    this.maxBytes = maxBytes;
    Path parent = this.file.getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    open();
  }

  private void open() throws IOException {
    out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    size = Files.size(file);
  }

  @Override
  public synchronized CompletableResultCode export(Collection<SpanData> spans) {
    try {
      if (size >= maxBytes) {
        out.close();
        Files.move(
            file,
            file.resolveSibling(file.getFileName() + ".1"),
            StandardCopyOption.REPLACE_EXISTING);
        open();
      }
      byte[] line = RecentTraces.toOtlpJson(List.copyOf(spans));
      out.write(line);
      out.write('\n');
      out.flush();
      size += line.length + 1;
      return CompletableResultCode.ofSuccess();
    } catch (IOException e) {
      return CompletableResultCode.ofExceptionalFailure(e);
    }
  }

  @Override
  public CompletableResultCode flush() {
    return CompletableResultCode.ofSuccess();
  }

  @Override
  public synchronized CompletableResultCode shutdown() {
    try {
      out.close();
      return CompletableResultCode.ofSuccess();
    } catch (IOException e) {
      return CompletableResultCode.ofExceptionalFailure(e);
    }
  }
}
