package dev.stowage.app.service;

import io.javalin.config.JavalinConfig;
import java.util.Map;

/**
 * The errors Javalin answers itself (no such route, a wrong method, a body too large) as JSON
 * bodies like every other error of the API, instead of its plain-text defaults.
 */
final class ErrorBodies {
  private ErrorBodies() {}

  static void register(JavalinConfig config) {
    config.routes.error(
        404,
        ctx -> {
          if (ctx.result() == null || !ctx.result().startsWith("{")) {
            ctx.json(Map.of("error", "no such resource: " + ctx.method() + " " + ctx.path()));
          }
        });
    config.routes.error(
        405,
        ctx ->
            ctx.json(
                Map.of(
                    "error",
                    ctx.method()
                        + " is not allowed on "
                        + ctx.path()
                        + allowed(ctx.header("Allow")))));
    config.routes.error(
        413,
        ctx ->
            ctx.json(
                Map.of(
                    "error",
                    "the request body is larger than the "
                        + (config.http.maxRequestSize >> 20)
                        + " MiB this service accepts")));
  }

  private static String allowed(String allow) {
    return allow == null || allow.isBlank() ? "" : " (allowed: " + allow + ")";
  }
}
