package dev.stowage.backend.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.http.ByteString;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.util.HashMap;
import java.util.Map;
import java.util.Queue;

/**
 * fabric8's API server mock in CRUD mode over HTTPS, as {@code @EnableKubernetesMockClient(crud =
 * true)} starts it (expectations answered first, then the CRUD store), with a client of its own.
 *
 * <p>One change: a watch's close is handled off the server's event loop. The mock's watch, told on
 * the event loop that its client closed it, waits there for its sender thread to stop, while that
 * thread may be waiting on the event loop to write an event: both stuck for 30 s, and the server's
 * shutdown gives up after 10. A client that closes its informers just after a write (every test's
 * teardown) hit that now and then. A real API server has no such wait.
 */
public final class MockApiServer implements AutoCloseable {
  private final KubernetesMockServer server;
  private final KubernetesClient client;

  private MockApiServer(KubernetesMockServer server) {
    this.server = server;
    this.client = server.createClient();
  }

  public static MockApiServer start() {
    Map<ServerRequest, Queue<ServerResponse>> expected = new HashMap<>();
    var server =
        new KubernetesMockServer(
            new Context(Serialization.jsonMapper()),
            new MockWebServer(),
            expected,
            new ClosesWatchesOffTheEventLoop(new KubernetesMixedDispatcher(expected)),
            true);
    server.init();
    return new MockApiServer(server);
  }

  public KubernetesMockServer server() {
    return server;
  }

  public KubernetesClient client() {
    return client;
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }

  private static final class ClosesWatchesOffTheEventLoop extends Dispatcher {
    private final KubernetesMixedDispatcher dispatcher;

    ClosesWatchesOffTheEventLoop(KubernetesMixedDispatcher dispatcher) {
      this.dispatcher = dispatcher;
    }

    @Override
    public MockResponse dispatch(RecordedRequest request) {
      MockResponse response = dispatcher.dispatch(request);
      WebSocketListener watch = response.getWebSocketListener();
      return watch == null ? response : response.withWebSocketUpgrade(new OffLoop(watch));
    }

    @Override
    public void shutdown() {
      dispatcher.shutdown();
    }

    @Override
    public void releaseResources() {
      dispatcher.releaseResources();
    }
  }

  /**
   * Passes everything on, the close and the failure (both of which wait) on a thread of its own.
   */
  private static final class OffLoop extends WebSocketListener {
    private final WebSocketListener watch;

    OffLoop(WebSocketListener watch) {
      this.watch = watch;
    }

    @Override
    public void onBeforeAccept(WebSocket ws, Response response) {
      watch.onBeforeAccept(ws, response);
    }

    @Override
    public void onOpen(WebSocket ws, Response response) {
      watch.onOpen(ws, response);
    }

    @Override
    public void onMessage(WebSocket ws, String text) {
      watch.onMessage(ws, text);
    }

    @Override
    public void onMessage(WebSocket ws, ByteString bytes) {
      watch.onMessage(ws, bytes);
    }

    @Override
    public void onMessage(WebSocket ws, byte[] bytes) {
      watch.onMessage(ws, bytes);
    }

    @Override
    public void onPing(WebSocket ws, byte[] bytes) {
      watch.onPing(ws, bytes);
    }

    @Override
    public void onClosing(WebSocket ws, int code, String reason) {
      watch.onClosing(ws, code, reason);
    }

    @Override
    public void onClosed(WebSocket ws, int code, String reason) {
      Thread.startVirtualThread(() -> watch.onClosed(ws, code, reason));
    }

    @Override
    public void onFailure(WebSocket ws, Throwable cause, Response response) {
      Thread.startVirtualThread(() -> watch.onFailure(ws, cause, response));
    }
  }
}
