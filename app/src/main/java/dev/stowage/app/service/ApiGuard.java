package dev.stowage.app.service;

import dev.stowage.access.ApiToken;
import dev.stowage.access.Role;
import dev.stowage.access.Tokens;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.security.RouteRole;
import java.net.URI;
import java.util.Locale;
import java.util.Set;

/**
 * Every request's checks, before its handler runs: the {@code Host} it names must be this service's
 * (against DNS rebinding), a change may not come from another origin and must say its body is JSON
 * (against cross-site requests, which browsers send as text/plain forms without asking), and every
 * route but the probes needs a token of a role that includes the route's.
 */
final class ApiGuard {
  /** What a route needs: nothing (health probes, the API description) or a role. */
  enum Access implements RouteRole {
    OPEN(null),
    READER(Role.READER),
    SUBMITTER(Role.SUBMITTER),
    ADMIN(Role.ADMIN);

    final Role role;

    Access(Role role) {
      this.role = role;
    }
  }

  /** A request refused before its handler: answered with the status and a JSON error. */
  static final class Refused extends RuntimeException {
    final int status;

    Refused(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  private static final String TOKEN = "stowage.token";
  private static final Set<String> YAML =
      Set.of("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml");

  private final Tokens tokens;
  private final Set<String> hosts;
  private java.util.function.Function<Context, java.util.Optional<String>> session =
      ctx -> java.util.Optional.empty();

  /**
   * @param hosts the host names and addresses (lower case, IPv6 in brackets) this service answers
   *     to in a request's {@code Host} header
   */
  ApiGuard(Tokens tokens, Set<String> hosts) {
    this.tokens = tokens;
    this.hosts = Set.copyOf(hosts);
  }

  /**
   * Where a request without an {@code Authorization} header finds one: the dashboard's session
   * cookie, standing for the token it was opened with.
   */
  void sessions(java.util.function.Function<Context, java.util.Optional<String>> session) {
    this.session = session;
  }

  /** For every request, matched or not: a foreign Host gets nothing, not even a 404. */
  void checkHost(Context ctx) {
    String host = ctx.header("Host");
    String name = host == null ? null : hostName(host);
    if (name == null || !hosts.contains(name)) {
      throw new Refused(
          421,
          "the Host header "
              + (host == null ? "is missing" : "'" + host + "' is not a name of this service")
              // Its names are not listed: the asker may be a page that rebound a name to it.
              + "; it answers to loopback's names, its listening address and those given with"
              + " up --public-host");
    }
  }

  /** For matched routes: origin and body type of changes, then the token and its role. */
  void check(Context ctx) {
    HandlerType method = ctx.method();
    boolean change =
        method != HandlerType.GET && method != HandlerType.HEAD && method != HandlerType.OPTIONS;
    String authorization = ctx.header("Authorization");
    boolean bySession = false;
    if (authorization == null) {
      authorization = session.apply(ctx).orElse(null);
      bySession = authorization != null;
    }
    if (change) {
      // A browser sends the cookie with any request to this host: a change it carries must say
      // it comes from this service's own pages.
      if (bySession && ctx.header("Origin") == null) {
        throw new Refused(403, "a change made with a session cookie must carry an Origin header");
      }
      checkOrigin(ctx);
      checkContentType(ctx);
    }
    Access needed =
        ctx.routeRoles().stream()
            .filter(Access.class::isInstance)
            .map(Access.class::cast)
            .findFirst()
            .orElse(Access.ADMIN);
    if (needed == Access.OPEN) {
      return;
    }
    switch (tokens.authenticate(authorization)) {
      case Tokens.Authentication.Refused(var reason) -> {
        ctx.header("WWW-Authenticate", "Bearer realm=\"stowage\"");
        throw new Refused(401, reason);
      }
      case Tokens.Authentication.Authenticated(var token) -> {
        if (!token.role().includes(needed.role)) {
          throw new Refused(
              403,
              "token '"
                  + token.name()
                  + "' has the "
                  + token.role().label()
                  + " role; "
                  + method.name()
                  + " "
                  + ctx.endpoints().matchedHttpEndpoint().path
                  + " needs "
                  + needed.role.label());
        }
        ctx.attribute(TOKEN, token);
      }
    }
  }

  /** The token's name and role, for the dashboard's header. */
  static String who(Context ctx) {
    ApiToken token = ctx.attribute(TOKEN);
    return token == null ? "" : token.name() + " (" + token.role().label() + ")";
  }

  /** Why a header is refused, or empty when it is accepted. */
  java.util.Optional<String> refusal(String authorization) {
    return switch (tokens.authenticate(authorization)) {
      case Tokens.Authentication.Refused(var reason) -> java.util.Optional.of(reason);
      case Tokens.Authentication.Authenticated a -> java.util.Optional.empty();
    };
  }

  /** The token the request was authenticated with (routes that need one). */
  static ApiToken token(Context ctx) {
    ApiToken token = ctx.attribute(TOKEN);
    if (token == null) {
      throw new IllegalStateException("no token was checked for " + ctx.path());
    }
    return token;
  }

  private static void checkOrigin(Context ctx) {
    String origin = ctx.header("Origin");
    if (origin == null) {
      return; // not a browser, or a same-origin request of a browser that omits it
    }
    String own = ctx.header("Host");
    String theirs;
    try {
      URI uri = URI.create(origin);
      theirs = uri.getHost() == null ? null : authority(uri);
    } catch (IllegalArgumentException e) {
      theirs = null;
    }
    if (theirs == null || !theirs.equalsIgnoreCase(withDefaultPort(own, ctx.scheme()))) {
      throw new Refused(
          403, "a change from another origin ('" + origin + "') is refused; this is " + own);
    }
  }

  private static void checkContentType(Context ctx) {
    boolean body =
        ctx.contentLength() > 0
            || (ctx.contentLength() < 0 && ctx.header("Transfer-Encoding") != null);
    if (!body) {
      return;
    }
    String type = ctx.contentType();
    String media =
        type == null ? "" : type.split(";", 2)[0].strip().toLowerCase(java.util.Locale.ROOT);
    String path = ctx.endpoints().matchedHttpEndpoint().path;
    boolean submit = path.equals("/api/tasks");
    if (media.equals("application/json") || (submit && YAML.contains(media))) {
      return;
    }
    // The dashboard's sign-in form, a plain HTML form: it checks its own origin.
    if (path.equals("/sign-in") && media.equals("application/x-www-form-urlencoded")) {
      return;
    }
    throw new Refused(
        415,
        "a request body must be sent as Content-Type: application/json"
            + (submit ? " (or application/yaml)" : "")
            + ", got "
            + (type == null ? "none" : "'" + type + "'"));
  }

  /** The host of a Host header, without its port, lower case; null when it is not one. */
  static String hostName(String header) {
    String h = header.strip().toLowerCase(Locale.ROOT);
    if (h.startsWith("[")) {
      int end = h.indexOf(']');
      return end < 0 ? null : h.substring(0, end + 1);
    }
    int colon = h.indexOf(':');
    return colon < 0 ? h : h.substring(0, colon);
  }

  private static String authority(URI uri) {
    int port = uri.getPort() >= 0 ? uri.getPort() : defaultPort(uri.getScheme());
    String host = uri.getHost().toLowerCase(Locale.ROOT);
    return host + ":" + port;
  }

  private static String withDefaultPort(String hostHeader, String scheme) {
    if (hostHeader == null) {
      return "";
    }
    String h = hostHeader.strip().toLowerCase(Locale.ROOT);
    String name = hostName(h);
    return h.length() > name.length() ? h : name + ":" + defaultPort(scheme);
  }

  private static int defaultPort(String scheme) {
    return "https".equalsIgnoreCase(scheme) ? 443 : 80;
  }
}
