package dev.stowage.staging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StagedOutput;
import dev.stowage.scheduler.Stager;
import io.opentelemetry.api.OpenTelemetry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * S3 staging against a real S3-compatible server, S3Proxy, started here on loopback over a file
 * system blob store; and through a relay in front of it that stalls or cuts its responses.
 */
class S3StagingTest {
  static final String BUCKET = "stowage-test";
  static final long PART = 5L << 20; // S3's smallest multipart part
  @TempDir static Path tmp;
  static S3Proxy server;
  static URI endpoint;
  static S3Storage s3;
  static DataMover mover;

  @BeforeAll
  static void startServer() throws Exception {
    var properties = new Properties();
    properties.setProperty("jclouds.filesystem.basedir", tmp.resolve("blobs").toString());
    Files.createDirectories(tmp.resolve("blobs"));
    var context =
        ContextBuilder.newBuilder("filesystem")
            .credentials("identity", "credential")
            .overrides(properties)
            .build(BlobStoreContext.class);
    context.getBlobStore().createContainerInLocation(null, BUCKET);
    server =
        S3Proxy.builder()
            .blobStore(context.getBlobStore())
            .endpoint(URI.create("http://127.0.0.1:0"))
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, "access", "secret")
            // The SDK is newer than S3Proxy: it sends headers S3Proxy does not know (such as
            // x-amz-mp-object-size on completing a multipart upload), which S3 itself accepts.
            .ignoreUnknownHeaders(true)
            .build();
    server.start();
    while (!AbstractLifeCycle.STARTED.equals(server.getState())) {
      Thread.sleep(5);
    }
    endpoint = URI.create("http://127.0.0.1:" + server.getPort());
    s3 = storage(endpoint);
    mover = new DataMover(4, 1 << 20, s3);
  }

  static S3Storage storage(URI at) {
    return S3Storage.create(
        at,
        StaticCredentialsProvider.create(AwsBasicCredentials.create("access", "secret")),
        "us-east-1",
        PART);
  }

  @AfterAll
  static void stopServer() throws Exception {
    mover.close();
    s3.close();
    server.stop();
  }

  @Test
  void aLargeFileGoesUpInPartsAndComesBackWholeInRanges() throws Exception {
    Path source = random(tmp.resolve("big.bin"), (int) (2 * PART + 12345), 3);
    String uri = "s3://" + BUCKET + "/big/big.bin";
    Path work = tmp.resolve("work-big");
    // Both ways through a relay that only watches the requests.
    try (var relay = new Relay(endpoint.getPort(), Long.MAX_VALUE, Relay.Mode.CUT);
        var watched = storage(URI.create("http://127.0.0.1:" + relay.port()));
        var watchedMover = new DataMover(4, 1 << 20, watched)) {
      var up = watchedMover.copy(source.toString(), uri, quiet());
      assertThat(up).isEqualTo(new DataMover.Summary(1, 0, Files.size(source)));
      assertThat(relay.requests("PUT ", "partNumber=")).as("parts uploaded").isEqualTo(3);
      assertThat(s3.head(BUCKET, "big/big.bin").size()).isEqualTo(Files.size(source));

      var down =
          watchedMover.stage(List.of(new StagedInput(uri, "in/big.bin")), work, allowed(), quiet());
      assertThat(down).isEqualTo(new DataMover.Summary(1, 0, Files.size(source)));
      assertThat(relay.requests("GET ", "range: bytes="))
          .as("ranged GETs, one per part-sized range")
          .isGreaterThanOrEqualTo(3);
    }
    assertThat(Files.mismatch(source, work.resolve("in/big.bin"))).isEqualTo(-1);
    assertNoPartFiles(work);

    // A retry finds it already there (same object, untouched file) and copies nothing.
    assertThat(stage(List.of(new StagedInput(uri, "in/big.bin")), work))
        .isEqualTo(new DataMover.Summary(1, 1, Files.size(source)));
  }

  @Test
  void aPrefixIsStagedRecursivelyUnderTheDestination() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("tree/sub"));
    Files.writeString(tmp.resolve("tree/a.csv"), "a");
    Files.writeString(dir.resolve("b.csv"), "bb");
    mover.copy(tmp.resolve("tree").toString(), "s3://" + BUCKET + "/tree/", quiet());

    Path work = tmp.resolve("work-tree");
    var summary = stage(List.of(new StagedInput("s3://" + BUCKET + "/tree/", "data")), work);

    assertThat(summary).isEqualTo(new DataMover.Summary(2, 0, 3));
    assertThat(work.resolve("data/a.csv")).hasContent("a");
    assertThat(work.resolve("data/sub/b.csv")).hasContent("bb");
  }

  @Test
  void outputsGoUpUnderTheirPrefix() throws Exception {
    Path work = Files.createDirectories(tmp.resolve("work-out/results/sub"));
    Files.writeString(tmp.resolve("work-out/results/metrics.json"), "{}");
    Files.writeString(work.resolve("model.bin"), "weights");

    var summary =
        mover.collect(
            List.of(
                new StagedOutput("results", "s3://" + BUCKET + "/runs/7/"),
                new StagedOutput("results/metrics.json", "s3://" + BUCKET + "/latest.json")),
            tmp.resolve("work-out"),
            AllowedSources.forOutputs(List.of("s3://" + BUCKET)),
            quiet());

    assertThat(summary.files()).isEqualTo(3);
    assertThat(s3.head(BUCKET, "runs/7/metrics.json").size()).isEqualTo(2);
    assertThat(s3.head(BUCKET, "runs/7/sub/model.bin").size()).isEqualTo(7);
    assertThat(s3.head(BUCKET, "latest.json").size()).isEqualTo(2);
  }

  @Test
  void aMissingKeyOrBucketFailsNamingIt() {
    assertThatThrownBy(
            () ->
                stage(
                    List.of(new StagedInput("s3://" + BUCKET + "/absent.bin", "x")),
                    tmp.resolve("w1")))
        .hasMessage("source s3://" + BUCKET + "/absent.bin: no such key");
    assertThatThrownBy(
            () ->
                stage(
                    List.of(new StagedInput("s3://" + BUCKET + "/nothing-here/", "x")),
                    tmp.resolve("w2")))
        .hasMessage("source s3://" + BUCKET + "/nothing-here/: no objects under it");
    assertThatThrownBy(
            () ->
                mover.stage(
                    List.of(new StagedInput("s3://no-such-bucket/k", "x")),
                    tmp.resolve("w3"),
                    AllowedSources.of(List.of("s3://no-such-bucket")),
                    quiet()))
        .hasMessage("source s3://no-such-bucket/k: no such bucket");
    assertThatThrownBy(
            () -> stage(List.of(new StagedInput("s3://other-bucket/k", "x")), tmp.resolve("w4")))
        .hasMessageContaining("is outside the allowed sources");
  }

  @Test
  void aTransferCutMidwayFailsTheStagingAndLeavesNoFile() throws Exception {
    Path source = random(tmp.resolve("cut.bin"), (int) (PART + 4096), 5);
    mover.copy(source.toString(), "s3://" + BUCKET + "/cut.bin", quiet());
    try (var relay = new Relay(endpoint.getPort(), 256 << 10, Relay.Mode.CUT);
        var viaRelay = storage(URI.create("http://127.0.0.1:" + relay.port()));
        var cutMover = new DataMover(2, 1 << 20, viaRelay)) {
      Path work = tmp.resolve("work-cut");
      assertThatThrownBy(
              () ->
                  cutMover.stage(
                      List.of(new StagedInput("s3://" + BUCKET + "/cut.bin", "cut.bin")),
                      work,
                      allowed(),
                      quiet()))
          .isInstanceOf(StagingException.class)
          .hasMessageStartingWith("s3://" + BUCKET + "/cut.bin: ");
      assertThat(work.resolve("cut.bin")).doesNotExist();
      assertNoPartFiles(work);
      assertThat(relay.cuts()).isPositive();
    }
  }

  @Test
  void aDownloadDamagedInTransitFailsOnItsChecksumAndLeavesNoFile() throws Exception {
    // S3Proxy keeps no checksums of its own: what catches this is the CRC32C kept in the
    // object's metadata at upload.
    Path source = random(tmp.resolve("damaged.bin"), 256 << 10, 13);
    String uri = "s3://" + BUCKET + "/damaged.bin";
    mover.copy(source.toString(), uri, quiet());
    Path work = tmp.resolve("work-damaged");
    try (var relay = new Relay(endpoint.getPort(), 128 << 10, Relay.Mode.CORRUPT);
        var viaRelay = storage(URI.create("http://127.0.0.1:" + relay.port()));
        var damagingMover = new DataMover(2, 1 << 20, viaRelay)) {
      assertThatThrownBy(
              () ->
                  damagingMover.stage(
                      List.of(new StagedInput(uri, "damaged.bin")), work, allowed(), quiet()))
          .isInstanceOf(StagingException.class)
          .hasMessageStartingWith(uri + ": the bytes received have CRC32C ")
          .hasMessageContaining("damaged in transit");
      assertThat(relay.corruptions()).as("bytes damaged by the relay").isPositive();
    }
    assertThat(work.resolve("damaged.bin")).doesNotExist();
    assertNoPartFiles(work);

    // Straight from the server it arrives whole.
    stage(List.of(new StagedInput(uri, "damaged.bin")), work);
    assertThat(Files.mismatch(source, work.resolve("damaged.bin"))).isEqualTo(-1);
  }

  @Test
  void progressShowsBytesDoneOfTotalWhileAnAttemptStages() throws Exception {
    // Two objects staged one after the other; the relay holds the second, large one midway.
    Files.createDirectories(tmp.resolve("slow"));
    Files.write(tmp.resolve("slow/a.bin"), new byte[1024]);
    random(tmp.resolve("slow/b.bin"), (int) PART, 9);
    mover.copy(tmp.resolve("slow").toString(), "s3://" + BUCKET + "/slow/", quiet());
    try (var relay = new Relay(endpoint.getPort(), 1 << 20, Relay.Mode.STALL);
        var viaRelay = storage(URI.create("http://127.0.0.1:" + relay.port()));
        var stager =
            new DataStager(
                new DataStager.Options(1, 1, 1 << 20, allowed()),
                viaRelay,
                OpenTelemetry.noop().getTracer("test"),
                OpenTelemetry.noop().getMeter("test"))) {
      var attempt = new AttemptId("slow", 1);
      stager.stage(
          attempt,
          List.of(new StagedInput("s3://" + BUCKET + "/slow/", "in")),
          tmp.resolve("work-slow"));
      relay.awaitStalled();
      Stager.Progress p = null;
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (System.nanoTime() < deadline) {
        p = stager.progress(attempt).orElse(null);
        if (p != null && p.filesDone() == 1) {
          break;
        }
        Thread.sleep(10);
      }
      assertThat(p).isEqualTo(new Stager.Progress(1024, 1024 + PART, 1, 2));

      relay.release();
      var results = DataStagerTest.awaitResults(stager, 1);
      assertThat(results).containsExactly(new Stager.Result(attempt, true, ""));
      assertThat(Files.mismatch(tmp.resolve("slow/b.bin"), tmp.resolve("work-slow/in/b.bin")))
          .isEqualTo(-1);
    }
  }

  private static DataMover.Summary stage(List<StagedInput> inputs, Path work) throws Exception {
    return mover.stage(inputs, work, allowed(), quiet());
  }

  private static AllowedSources allowed() {
    return AllowedSources.of(List.of("s3://" + BUCKET));
  }

  private static DataMover.Listener quiet() {
    return new DataMover.Listener() {};
  }

  private static void assertNoPartFiles(Path work) throws IOException {
    if (!Files.exists(work)) {
      return;
    }
    try (Stream<Path> all = Files.walk(work)) {
      assertThat(all.map(p -> p.getFileName().toString()))
          .noneMatch(n -> n.endsWith(".stowage-part"));
    }
  }

  private static Path random(Path file, int length, long seed) throws IOException {
    byte[] bytes = new byte[length];
    new Random(seed).nextBytes(bytes);
    return Files.write(file, bytes);
  }

  /**
   * A TCP relay on loopback in front of the server. Past {@code after} bytes of a response
   * connection it either cuts the connection (every time), holds the rest until released, or flips
   * the bits of one byte (once, then relays faithfully).
   */
  static final class Relay implements AutoCloseable {
    enum Mode {
      CUT,
      STALL,
      CORRUPT
    }

    private final ServerSocket listener;
    private final int target;
    private final long after;
    private final Mode mode;
    private final CountDownLatch stalled = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);
    private final java.util.concurrent.atomic.AtomicInteger cuts =
        new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger corruptions =
        new java.util.concurrent.atomic.AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final List<String> requestHeads = new java.util.concurrent.CopyOnWriteArrayList<>();
    private static final java.util.regex.Pattern REQUEST_LINE =
        java.util.regex.Pattern.compile("(GET|PUT|POST|HEAD|DELETE) /\\S* HTTP/1\\.1\r\n");

    Relay(int target, long after, Mode mode) throws IOException {
      this.listener = new ServerSocket();
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      this.target = target;
      this.after = after;
      this.mode = mode;
      Thread.ofVirtual().start(this::accept);
    }

    int port() {
      return listener.getLocalPort();
    }

    int cuts() {
      return cuts.get();
    }

    int corruptions() {
      return corruptions.get();
    }

    /** Requests seen whose method is {@code method} and whose head has {@code containing}. */
    long requests(String method, String containing) {
      return requestHeads.stream()
          .filter(h -> h.startsWith(method.toLowerCase()) && h.contains(containing.toLowerCase()))
          .count();
    }

    void awaitStalled() throws InterruptedException {
      assertThat(stalled.await(20, java.util.concurrent.TimeUnit.SECONDS))
          .as("a response stalled at the relay")
          .isTrue();
    }

    void release() {
      released.countDown();
    }

    private void accept() {
      while (!listener.isClosed()) {
        try {
          Socket client = listener.accept();
          Socket server = new Socket(InetAddress.getLoopbackAddress(), target);
          Thread.ofVirtual().start(() -> pump(client, server, -1));
          Thread.ofVirtual().start(() -> pump(server, client, after));
        } catch (IOException e) {
          return;
        }
      }
    }

    private void pump(Socket from, Socket to, long limit) {
      byte[] buffer = new byte[16 << 10];
      long moved = 0;
      try (InputStream in = from.getInputStream();
          OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buffer)) > 0) {
          if (limit < 0) { // client to server: note each request line and its headers
            // Requests follow bodies on kept-alive connections: look anywhere in what was read.
            String text = new String(buffer, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1);
            var m = REQUEST_LINE.matcher(text);
            while (m.find()) {
              int end = text.indexOf("\r\n\r\n", m.start());
              requestHeads.add(text.substring(m.start(), end < 0 ? n : end).toLowerCase());
            }
          } else if (moved + n > limit) {
            if (mode == Mode.CUT) {
              cuts.incrementAndGet();
              from.close();
              to.close();
              return;
            }
            if (mode == Mode.CORRUPT) {
              if (corruptions.getAndIncrement() == 0) {
                buffer[(int) (limit - moved)] ^= (byte) 0xff;
              }
              limit = Long.MAX_VALUE;
              out.write(buffer, 0, n);
              out.flush();
              moved += n;
              continue;
            }
            stalled.countDown();
            released.await();
            limit = Long.MAX_VALUE;
          }
          out.write(buffer, 0, n);
          out.flush();
          moved += n;
        }
      } catch (IOException e) {
        // one side closed: close the other
      } catch (InterruptedException e) {
        failure.set(e);
      } finally {
        try {
          from.close();
          to.close();
        } catch (IOException ignored) {
          // already closed
        }
      }
    }

    @Override
    public void close() throws IOException {
      released.countDown();
      listener.close();
    }
  }
}
