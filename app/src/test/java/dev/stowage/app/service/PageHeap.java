package dev.stowage.app.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * A page's heap, V8's and Blink's objects, read by the Chrome DevTools protocol beside ChromeDriver
 * (at the address ChromeDriver reports). Selenium's own DevTools support is built for one Chromium
 * version at a time, and Debian's Chromium moves on its own; the two commands used here have not
 * changed in years.
 */
final class PageHeap implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Kinds left out of a count: strings, numbers and compiled code are named by their contents; V8's
   * own bookkeeping ({@code system / ...}) grows and shrinks as it compiles the page's script over
   * time (the script heap's size bounds it); and records the browser keeps to a bound of its own:
   * the performance timeline's entries (the first 250 resource timings, the last long animation
   * frames of a busy machine, with their script timings), Blink's computed styles, shared through a
   * cache of its own (once seen 144 up on the cycles page, in other runs not at all), and, while a
   * DevTools client records the network, its record of each request.
   */
  private static final Set<String> UNCOUNTED_TYPES =
      Set.of("string", "concatenated string", "sliced string", "number", "code", "hidden");

  private static final List<String> BOUNDED_BY_THE_BROWSER =
      List.of(
          "Performance",
          "ScriptTiming",
          "blink::ComputedStyle",
          "blink::NetworkResourcesData",
          "blink::XHRReplayData");

  private final WebSocket socket;
  private final StringBuilder message = new StringBuilder();
  private final StringBuilder snapshot = new StringBuilder();
  private final Map<Integer, CompletableFuture<JsonNode>> answers = new HashMap<>();
  private int lastId;

  private PageHeap(WebSocket.Builder builder, URI page) {
    this.socket =
        builder
            .buildAsync(
                page,
                new WebSocket.Listener() {
                  @Override
                  public CompletionStage<?> onText(WebSocket ws, CharSequence part, boolean last) {
                    received(part, last);
                    ws.request(1);
                    return null;
                  }
                })
            .join();
  }

  /** The page {@code browser} is on now, by the DevTools address its ChromeDriver reports. */
  static PageHeap of(org.openqa.selenium.chrome.ChromeDriver browser) throws Exception {
    var options = (Map<?, ?>) browser.getCapabilities().getCapability("goog:chromeOptions");
    return of((String) options.get("debuggerAddress"), browser.getCurrentUrl());
  }

  /** The kinds {@code atLeast} or more up from {@code before} to {@code after}, with how many. */
  static Map<String, Long> grown(
      Map<String, Long> before, Map<String, Long> after, double atLeast) {
    var out = new java.util.TreeMap<String, Long>();
    after.forEach(
        (kind, n) -> {
          long more = n - before.getOrDefault(kind, 0L);
          if (more >= atLeast) {
            out.put(kind, more);
          }
        });
    return out;
  }

  /**
   * The page at {@code pageUrl} of the browser whose DevTools listen at {@code debuggerAddress}.
   */
  private static PageHeap of(String debuggerAddress, String pageUrl) throws Exception {
    var http = HttpClient.newHttpClient();
    var targets =
        JSON.readTree(
            http.send(
                    HttpRequest.newBuilder(URI.create("http://" + debuggerAddress + "/json/list"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .body());
    for (JsonNode t : targets) {
      if (t.path("type").asText().equals("page") && t.path("url").asText().equals(pageUrl)) {
        return new PageHeap(
            http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10)),
            URI.create(t.get("webSocketDebuggerUrl").asText()));
      }
    }
    throw new AssertionError("no DevTools target for " + pageUrl + " in " + targets);
  }

  /** The page's objects by kind (type and name), counted after a garbage collection. */
  Map<String, Long> objectsByKind() throws Exception {
    call("HeapProfiler.collectGarbage");
    synchronized (this) {
      snapshot.setLength(0);
    }
    // The snapshot's chunks come as events before the command's answer.
    call("HeapProfiler.takeHeapSnapshot");
    JsonNode heap;
    synchronized (this) {
      heap = JSON.readTree(snapshot.toString());
    }
    var meta = heap.get("snapshot").get("meta");
    List<String> fields = JSON.convertValue(meta.get("node_fields"), List.class);
    JsonNode types = meta.get("node_types").get(0);
    int width = fields.size();
    int typeAt = fields.indexOf("type");
    int nameAt = fields.indexOf("name");
    JsonNode nodes = heap.get("nodes");
    JsonNode strings = heap.get("strings");
    var out = new HashMap<String, Long>();
    for (int i = 0; i < nodes.size(); i += width) {
      String type = types.get(nodes.get(i + typeAt).asInt()).asText();
      if (UNCOUNTED_TYPES.contains(type)) {
        continue;
      }
      String name = strings.get(nodes.get(i + nameAt).asInt()).asText();
      if (name.startsWith("system / ")
          || BOUNDED_BY_THE_BROWSER.stream().anyMatch(name::contains)) {
        continue;
      }
      out.merge(type + " " + name, 1L, Long::sum);
    }
    return out;
  }

  private JsonNode call(String method) throws Exception {
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    ObjectNode command = JSON.createObjectNode();
    synchronized (this) {
      command.put("id", ++lastId);
      answers.put(lastId, answer);
    }
    command.put("method", method);
    socket.sendText(JSON.writeValueAsString(command), true).join();
    JsonNode a = answer.get(60, TimeUnit.SECONDS);
    if (a.has("error")) {
      throw new AssertionError(method + ": " + a.get("error"));
    }
    return a;
  }

  private synchronized void received(CharSequence part, boolean last) {
    message.append(part);
    if (!last) {
      return;
    }
    try {
      JsonNode m = JSON.readTree(message.toString());
      if (m.path("method").asText().equals("HeapProfiler.addHeapSnapshotChunk")) {
        snapshot.append(m.get("params").get("chunk").asText());
      } else if (m.has("id")) {
        var answer = answers.remove(m.get("id").asInt());
        if (answer != null) {
          answer.complete(m);
        }
      }
    } catch (Exception e) {
      answers.values().forEach(a -> a.completeExceptionally(e));
    } finally {
      message.setLength(0);
    }
  }

  @Override
  public void close() {
    socket.sendClose(WebSocket.NORMAL_CLOSURE, "").join();
  }
}
