package dev.stowage.app.service;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The HTTP API of a service under test, as a client calls it: one place for the service tests. */
final class TestApi {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final StowageService service;

  TestApi(StowageService service) {
    this.service = service;
  }

  /** A request as a client sends it: JSON when it has a body, a bearer token when given one. */
  HttpResponse<String> send(String method, String path, String body, String token)
      throws Exception {
    var request =
        HttpRequest.newBuilder(URI.create(service.url() + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode json(HttpResponse<String> response) {
    try {
      return TaskJson.MAPPER.readTree(response.body());
    } catch (Exception e) {
      throw new IllegalStateException(response.body(), e);
    }
  }

  /** A new token of that role, made with {@code admin}. */
  String token(String name, String role, String admin) throws Exception {
    var r =
        send(
            "POST",
            "/api/tokens",
            "{\"name\": \"" + name + "\", \"role\": \"" + role + "\"}",
            admin);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return json(r).get("token").asText();
  }

  /** Polls {@code path} until {@code field} of its answer reads {@code want}, for 60 s at most. */
  void await(String path, String field, String want, String token) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    String now = "";
    while (!now.equals(want)) {
      assertThat(System.nanoTime())
          .as(path + " " + field + " reaches " + want + ", is " + now)
          .isLessThan(deadline);
      Thread.sleep(50);
      JsonNode value = json(send("GET", path, null, token)).get(field);
      now = value == null ? "" : value.isTextual() ? value.asText() : value.toString();
    }
  }
}
