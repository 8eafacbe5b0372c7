package dev.stowage.app.service;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Just enough of S3's HTTP interface to serve objects to the SDK (HEAD, and GET whole or by range)
 * with one object's body held midway until released: a transfer that stays in flight for as long as
 * a test looks at it. The real S3-compatible server the staging tests use (S3Proxy) cannot run in
 * this module (its Jetty 11 and the API's Jetty 12 clash), and cannot be held.
 */
final class HeldS3Endpoint implements AutoCloseable {
  private final HttpServer server;
  private final Map<String, byte[]> objects = new ConcurrentHashMap<>(); // "/bucket/key"
  private final CountDownLatch held = new CountDownLatch(1);
  private final CountDownLatch released = new CountDownLatch(1);
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private volatile String heldPath;
  private volatile int holdAfter;

  HeldS3Endpoint() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/", this::handle);
    server.start();
  }

  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  void put(String bucket, String key, byte[] bytes) {
    objects.put("/" + bucket + "/" + key, bytes);
  }

  /** The next GET of this object sends {@code after} bytes of its body, then waits for release. */
  void hold(String bucket, String key, int after) {
    heldPath = "/" + bucket + "/" + key;
    holdAfter = after;
  }

  boolean awaitHeld() throws InterruptedException {
    return held.await(30, TimeUnit.SECONDS);
  }

  void release() {
    released.countDown();
  }

  List<String> requests() {
    return requests;
  }

  private void handle(HttpExchange exchange) throws IOException {
    String method = exchange.getRequestMethod();
    String path = exchange.getRequestURI().getPath();
    String range = exchange.getRequestHeaders().getFirst("Range");
    requests.add(method + " " + path + (range != null ? " " + range : ""));
    try (exchange) {
      byte[] object = objects.get(path);
      if (object == null) {
        boolean bucket = path.indexOf('/', 1) < 0;
        if (bucket && method.equals("HEAD")) {
          exchange.sendResponseHeaders(200, -1);
        } else {
          byte[] error = "<Error><Code>NoSuchKey</Code><Message>none</Message></Error>".getBytes();
          exchange.getResponseHeaders().set("Content-Type", "application/xml");
          exchange.sendResponseHeaders(404, method.equals("HEAD") ? -1 : error.length);
          if (!method.equals("HEAD")) {
            exchange.getResponseBody().write(error);
          }
        }
        return;
      }
      var headers = exchange.getResponseHeaders();
      headers.set("ETag", "\"" + Integer.toHexString(java.util.Arrays.hashCode(object)) + "\"");
      headers.set("Last-Modified", "Thu, 26 Nov 2026 10:00:00 GMT");
      headers.set("Accept-Ranges", "bytes");
      headers.set("Content-Type", "application/octet-stream");
      if (method.equals("HEAD")) {
        headers.set("Content-Length", Long.toString(object.length));
        exchange.sendResponseHeaders(200, -1);
        return;
      }
      int from = 0;
      int to = object.length - 1;
      int status = 200;
      if (range != null && range.startsWith("bytes=")) {
        String[] ends = range.substring(6).split("-", 2);
        from = Integer.parseInt(ends[0]);
        to = ends[1].isEmpty() ? to : Math.min(to, Integer.parseInt(ends[1]));
        status = 206;
        headers.set("Content-Range", "bytes " + from + "-" + to + "/" + object.length);
      }
      int length = to - from + 1;
      exchange.sendResponseHeaders(status, length);
      OutputStream body = exchange.getResponseBody();
      if (path.equals(heldPath) && from < holdAfter) {
        heldPath = null; // once
        body.write(object, from, holdAfter - from);
        body.flush();
        held.countDown();
        released.await(60, TimeUnit.SECONDS);
        body.write(object, holdAfter, to + 1 - holdAfter);
      } else {
        body.write(object, from, length);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    released.countDown();
    server.stop(0);
  }
}
