package dev.stowage.app.dashboard;

import static dev.stowage.app.dashboard.Html.attr;
import static dev.stowage.app.dashboard.Html.taskLink;
import static dev.stowage.app.dashboard.Html.text;
import static dev.stowage.app.dashboard.Html.uri;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskFilter;
import dev.stowage.scheduler.TaskState;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.Cookie;
import io.javalin.http.HttpStatus;
import io.javalin.http.SameSite;
import io.javalin.http.staticfiles.Location;
import io.javalin.security.RouteRole;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The web dashboard, served at {@code /} beside the API: server-rendered pages that htmx updates in
 * place when the server's event stream says cycles ran, charts drawn by uPlot, the DAG by
 * Cytoscape, all from WebJars (no network needed). Every page and fragment needs a token of the
 * reader role, given as a session cookie (see {@link Sessions}); changes go to the API.
 */
public final class Dashboard implements AutoCloseable {
  /** Rows of the tasks table per page. */
  static final int PAGE = 50;

  /** Tasks drawn in one DAG at most. */
  static final int DAG_MAX = 500;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CSP =
      "default-src 'self'; script-src 'self'; img-src 'self' data:;"
          // The one style element Cytoscape adds for its container, by its hash.
          + " style-src 'self' 'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8=';"
          + " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

  private final DashboardData data;
  private final Sessions sessions;
  private final Function<String, Optional<String>> refusal;
  private final Function<Context, String> who;
  private final boolean secureCookie;
  private final String traceLink;
  private final LiveEvents live = new LiveEvents();
  private final History history;
  private final ScheduledExecutorService ticks;

  /**
   * @param kept where the charts' samples are kept, to outlive a restart
   * @param refusal why an {@code Authorization} header is refused, or empty when it is accepted
   * @param who the name and role of the token a request was authenticated with
   * @param secureCookie whether the service is served over TLS (the cookie is then Secure)
   * @param traceLink a URL with {@code {traceId}} where the operator's trace viewer shows a trace
   *     (null: the service's own {@code /api/traces/{traceId}})
   */
  public Dashboard(
      DashboardData data,
      dev.stowage.scheduler.history.ClusterHistory kept,
      Sessions sessions,
      Function<String, Optional<String>> refusal,
      Function<Context, String> who,
      boolean secureCookie,
      String traceLink) {
    this.data = data;
    this.history = new History(kept, data.now());
    this.sessions = sessions;
    this.refusal = refusal;
    this.who = who;
    this.secureCookie = secureCookie;
    this.traceLink = traceLink;
    data.onCycle(
        c -> {
          live.cycleRan();
          history.cycleRan(c);
        });
    this.ticks =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("stowage-dashboard").unstarted(r));
    ticks.scheduleWithFixedDelay(this::tick, 1, 1, TimeUnit.SECONDS);
    ticks.scheduleWithFixedDelay(this::sample, 0, History.EVERY.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void tick() {
    try {
      live.tick();
    } catch (RuntimeException e) {
      // A broken stream is dropped by the tick itself; nothing else may stop the ticks.
    }
  }

  private void sample() {
    try {
      history.sample(data);
    } catch (RuntimeException e) {
      // The store may be down for a moment: the chart misses one sample.
    }
  }

  /** Adds the dashboard's routes: {@code open} for sign-in, {@code reader} for everything else. */
  public void register(JavalinConfig config, RouteRole open, RouteRole reader) {
    // Public files, open to all as the sign-in page needs them: the libraries and our own.
    config.staticFiles.add(
        s -> {
          s.hostedPath = "/webjars";
          s.directory = "META-INF/resources/webjars";
          s.location = Location.CLASSPATH;
          s.roles = Set.of(open);
          s.headers = Map.of("Cache-Control", "max-age=86400");
        });
    config.staticFiles.add(
        s -> {
          s.hostedPath = "/static";
          s.directory = "/dev/stowage/app/dashboard/static";
          s.location = Location.CLASSPATH;
          s.roles = Set.of(open);
        });
    var r = config.routes;
    r.get("/sign-in", this::signInPage, open);
    r.post("/sign-in", this::signIn, open);
    r.get("/sign-in/{code}", this::signInLink, open);
    r.post("/sign-out", this::signOut, open);
    r.post("/api/sign-in-links", this::createLink, reader);
    r.get("/", page(this::overview), reader);
    r.get("/cycles", page(this::cycles), reader);
    r.get("/cycles/{number}", page(this::cycle), reader);
    r.get("/tasks", this::tasks, reader);
    r.get("/tasks/{id}", page(this::task), reader);
    r.get("/dag/{id}", page(this::dag), reader);
    r.get("/nodes", page(this::nodes), reader);
    r.get("/ui/overview", ctx -> html(ctx, overviewLive()), reader);
    r.get("/ui/cycles", ctx -> html(ctx, cyclesLive()), reader);
    r.get("/ui/nodes", ctx -> html(ctx, nodesLive()), reader);
    r.get("/ui/tasks/{id}", ctx -> html(ctx, taskLive(found(ctx.pathParam("id")))), reader);
    r.get("/ui/data/history", this::historyData, reader);
    r.get("/ui/data/dag/{id}", this::dagData, reader);
    r.sse(
        "/ui/events",
        client -> {
          if (!live.open(client)) {
            client.ctx().status(503);
            client.close();
          }
        },
        reader);
  }

  /** Where a browser without a session is sent. */
  public static void toSignIn(Context ctx) {
    if (ctx.header("HX-Request") != null) {
      ctx.header("HX-Redirect", "/sign-in").status(401);
    } else {
      ctx.redirect("/sign-in", HttpStatus.SEE_OTHER);
    }
  }

  @FunctionalInterface
  private interface Body {
    String render(Context ctx);
  }

  private io.javalin.http.Handler page(Body body) {
    return ctx -> html(ctx, body.render(ctx));
  }

  private static void html(Context ctx, String html) {
    ctx.header("Content-Security-Policy", CSP)
        .header("X-Content-Type-Options", "nosniff")
        // Not no-referrer: with it, a browser sends "Origin: null" with the pages' own forms.
        .header("Referrer-Policy", "same-origin")
        .header("Cache-Control", "no-store")
        .contentType("text/html; charset=utf-8")
        .result(html);
  }

  // Signing in

  private void signInPage(Context ctx) {
    String error = ctx.queryParam("error");
    html(
        ctx,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            + "<link rel=\"icon\" href=\"data:,\"><title>Sign in · Stowage</title>"
            + "<link rel=\"stylesheet\" href=\"/static/dashboard.css\"></head><body>"
            + "<main id=\"main\"><h1>Sign in to Stowage</h1>"
            + (error == null ? "" : "<p class=\"error\" role=\"alert\">" + text(error) + "</p>")
            + "<form method=\"post\" action=\"/sign-in\">"
            + "<p><label for=\"token\">API token</label><br>"
            + "<input id=\"token\" name=\"token\" type=\"password\" size=\"60\" required"
            + " autocomplete=\"off\" autofocus></p>"
            + "<p><button type=\"submit\">Sign in</button></p></form>"
            + "<p>Or run <code>./stowage dashboard</code>, which prints a one-time sign-in link."
            + " The session has the token's role, no more.</p></main></body></html>");
  }

  private void signIn(Context ctx) {
    // A sign-in form posted from another site would sign this browser in as someone else.
    String origin = ctx.header("Origin");
    String host = ctx.header("Host");
    if (origin == null || host == null || !sameOrigin(origin, host)) {
      ctx.status(403).result("sign-in must come from this service's own page");
      return;
    }
    String token = ctx.formParam("token");
    token = token == null ? "" : token.strip();
    Optional<String> refused =
        token.isEmpty() ? Optional.of("no token given") : refusal.apply("Bearer " + token);
    if (refused.isPresent()) {
      ctx.redirect("/sign-in?error=" + uri(refused.get()), HttpStatus.SEE_OTHER);
      return;
    }
    setSession(ctx, sessions.open(token));
    ctx.redirect("/", HttpStatus.SEE_OTHER);
  }

  private static boolean sameOrigin(String origin, String host) {
    try {
      var u = java.net.URI.create(origin);
      String authority = u.getRawAuthority();
      return authority != null && authority.equalsIgnoreCase(host.strip());
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private void signInLink(Context ctx) {
    Optional<String> token = sessions.redeem(ctx.pathParam("code"));
    if (token.isEmpty() || refusal.apply("Bearer " + token.get()).isPresent()) {
      ctx.redirect(
          "/sign-in?error="
              + uri("this sign-in link was used already or has expired: ask for a new one"),
          HttpStatus.SEE_OTHER);
      return;
    }
    setSession(ctx, sessions.open(token.get()));
    ctx.redirect("/", HttpStatus.SEE_OTHER);
  }

  private void setSession(Context ctx, String id) {
    // A browser-session cookie: scripts cannot read it, other sites' requests do not carry it.
    var cookie =
        new Cookie(Sessions.COOKIE, id, "/", -1, secureCookie, true, null, SameSite.STRICT);
    ctx.cookie(cookie);
  }

  private void signOut(Context ctx) {
    sessions.close(ctx.cookie(Sessions.COOKIE));
    ctx.removeCookie(Sessions.COOKIE, "/");
    ctx.redirect("/sign-in", HttpStatus.SEE_OTHER);
  }

  private void createLink(Context ctx) {
    String authorization = ctx.header("Authorization");
    if (authorization == null) {
      authorization = sessions.authorization(ctx.cookie(Sessions.COOKIE)).orElseThrow();
    }
    String secret = authorization.strip().split("\\s+", 2)[1].strip();
    String code = sessions.link(secret);
    String base = ctx.scheme() + "://" + ctx.header("Host");
    var out = new LinkedHashMap<String, Object>();
    out.put("url", base + "/sign-in/" + code);
    out.put("expiresInSeconds", Sessions.LINK.toSeconds());
    ctx.status(201).json(out);
  }

  /** The session's Authorization header, for the API's guard: empty when there is none. */
  public Optional<String> authorization(Context ctx) {
    return sessions.authorization(ctx.cookie(Sessions.COOKIE));
  }

  // Overview

  private String overview(Context ctx) {
    String body =
        "<div class=\"grid\">"
            + chart("utilisation", "Cluster utilisation per resource (%)")
            + chart("phases", "Mean cycle duration by phase (ms) per 10 s")
            + chart("shares", "Queue dominant shares over time (%)")
            + chart("rates", "Placements and failure ratio per sample")
            + "</div>"
            + "<div hx-get=\"/ui/overview\" hx-trigger=\"sse:cycle\" hx-swap=\"innerHTML\">"
            + overviewLive()
            + "</div>"
            + "<h2>Scheduling</h2><p id=\"scheduling\">"
            + (data.paused() ? "Paused: cycles place nothing new. " : "Running. ")
            + "<button type=\"button\" data-action=\"/api/scheduling/pause\">Pause</button> "
            + "<button type=\"button\" data-action=\"/api/scheduling/resume\">Resume</button>"
            + "</p><p id=\"action-result\" role=\"status\"></p>";
    return Html.page("Overview", "Overview", who.apply(ctx), body, Html.UPLOT_JS);
  }

  private static String chart(String name, String title) {
    return "<section class=\"card\"><h2 id=\"chart-"
        + name
        + "\">"
        + text(title)
        + "</h2><div class=\"chart\" data-chart=\""
        + name
        + "\" role=\"img\" aria-labelledby=\"chart-"
        + name
        + "\"></div></section>";
  }

  /**
   * A table's header row, opening its body: a row of {@code th scope="col"} cells, not a {@code
   * thead}. The live parts are replaced many times a minute, and Chromium's document keeps
   * something for every {@code thead} (and {@code tfoot}) ever inserted, as long as the page is
   * open.
   */
  private static String headerRow(String... cells) {
    return "<tbody><tr>" + String.join("", cells) + "</tr>";
  }

  /** A column's header cell; {@code label} is the page's own words, not data. */
  private static String col(String label) {
    return "<th scope=\"col\">" + label + "</th>";
  }

  /** The header cell of a column of numbers, aligned right. */
  private static String numCol(String label) {
    return "<th scope=\"col\" class=\"num\">" + label + "</th>";
  }

  private String overviewLive() {
    var out = new StringBuilder();
    out.append("<div class=\"grid\"><section class=\"card\"><h2>Tasks by state</h2><table>")
        .append(headerRow(col("State"), numCol("Tasks")));
    Map<TaskState, Long> counts = data.countByState();
    for (TaskState s : TaskState.values()) {
      out.append("<tr><td class=\"state state-")
          .append(s.label())
          .append("\">")
          .append(s.label())
          .append("</td><td class=\"num\">")
          .append(counts.getOrDefault(s, 0L))
          .append("</td></tr>");
    }
    out.append("</tbody></table></section><section class=\"card\"><h2>Most recent tasks</h2>")
        .append(taskTable(data.newest(TaskFilter.ALL, null, 10).tasks()))
        .append("</section></div><section class=\"card\"><h2>Last cycles</h2>")
        .append(cycleTable(data.recentCycles().stream().limit(10).toList()))
        .append("</section>");
    return out.toString();
  }

  // Cycles

  private String cycles(Context ctx) {
    String body =
        "<p>Each cycle's phases as bars on its own time axis, newest first. Select a cycle for"
            + " its details and trace.</p>"
            + "<div hx-get=\"/ui/cycles\" hx-trigger=\"sse:cycle\" hx-swap=\"innerHTML\">"
            + cyclesLive()
            + "</div>";
    return Html.page("Cycles", "Cycles", who.apply(ctx), body);
  }

  private String cyclesLive() {
    var out = new StringBuilder("<ol class=\"cycles\" aria-label=\"Recent cycles\">");
    List<DashboardData.Cycle> recent = data.recentCycles();
    double longest = 1;
    for (DashboardData.Cycle c : recent) {
      longest = Math.max(longest, c.durationMs());
    }
    for (DashboardData.Cycle c : recent.stream().limit(30).toList()) {
      out.append("<li><a href=\"/cycles/")
          .append(c.number())
          .append("\">Cycle ")
          .append(c.number())
          .append("</a> at ")
          .append(Html.time(c.at()))
          .append(": ")
          .append(String.format("%.1f ms", c.durationMs()))
          .append(", ")
          .append(c.matched())
          .append(" matched, ")
          .append(c.launched())
          .append(" launched")
          .append(waterfall(c, longest))
          .append("</li>");
    }
    return out.append("</ol>").toString();
  }

  /** One cycle's phases as bars placed one after the other on a shared scale. */
  private static String waterfall(DashboardData.Cycle c, double scaleMs) {
    int width = 1000;
    int row = 16;
    var out = new StringBuilder();
    out.append("<svg class=\"waterfall\" viewBox=\"0 0 ")
        .append(width + 320)
        .append(' ')
        .append(row * c.phasesMs().size() + 4)
        .append("\" role=\"img\" aria-label=\"phases of cycle ")
        .append(c.number())
        .append("\">");
    double at = 0;
    int i = 0;
    for (Map.Entry<String, Double> p : c.phasesMs().entrySet()) {
      double x = at / scaleMs * width;
      double w = Math.max(1, p.getValue() / scaleMs * width);
      int y = i * row + 2;
      out.append("<g data-phase=\"")
          .append(attr(p.getKey()))
          .append("\"><title>")
          .append(text(p.getKey()))
          .append(String.format(": %.2f ms", p.getValue()))
          .append("</title><text x=\"0\" y=\"")
          .append(y + 11)
          .append("\">")
          .append(text(p.getKey()))
          .append(String.format(" %.1f ms", p.getValue()))
          .append("</text><rect class=\"phase-")
          .append(i % 8)
          .append("\" x=\"")
          .append(String.format("%.1f", 320 + x))
          .append("\" y=\"")
          .append(y)
          .append("\" width=\"")
          .append(String.format("%.1f", w))
          .append("\" height=\"")
          .append(row - 4)
          .append("\"/></g>");
      at += p.getValue();
      i++;
    }
    return out.append("</svg>").toString();
  }

  private String cycle(Context ctx) {
    long number;
    try {
      number = Long.parseLong(ctx.pathParam("number"));
    } catch (NumberFormatException e) {
      throw new NotFound("no cycle '" + ctx.pathParam("number") + "'");
    }
    DashboardData.Cycle c =
        data.recentCycles().stream()
            .filter(x -> x.number() == number)
            .findFirst()
            .orElseThrow(
                () ->
                    new NotFound(
                        "cycle " + number + " is not among the last cycles the service keeps"));
    var out = new StringBuilder();
    out.append("<dl class=\"facts\"><dt>Started</dt><dd>")
        .append(Html.time(c.at()))
        .append("</dd><dt>Duration</dt><dd>")
        .append(String.format("%.2f ms", c.durationMs()))
        .append("</dd><dt>Offers</dt><dd>")
        .append(c.offers())
        .append("</dd><dt>Tasks considered</dt><dd>")
        .append(c.considered())
        .append("</dd><dt>Matched</dt><dd>")
        .append(c.matched())
        .append("</dd><dt>Launched</dt><dd>")
        .append(c.launched())
        .append("</dd><dt>Cluster events applied</dt><dd>")
        .append(c.eventsApplied())
        .append("</dd><dt>Trace</dt><dd>");
    if (c.traceId() == null) {
      out.append("none kept (an idle cycle)");
    } else {
      String href =
          traceLink == null
              ? "/api/traces/" + uri(c.traceId())
              : traceLink.replace("{traceId}", uri(c.traceId()));
      out.append("<a href=\"")
          .append(attr(href))
          .append("\">")
          .append(text(c.traceId()))
          .append("</a>");
    }
    out.append("</dd></dl><h2>Phases</h2>")
        .append(waterfall(c, Math.max(1, c.durationMs())))
        .append("<table>")
        .append(headerRow(col("Phase"), numCol("ms")));
    c.phasesMs()
        .forEach(
            (k, v) ->
                out.append("<tr><td>")
                    .append(text(k))
                    .append("</td><td class=\"num\">")
                    .append(String.format("%.2f", v))
                    .append("</td></tr>"));
    out.append("</tbody></table>");
    return Html.page("Cycle " + number, "Cycles", who.apply(ctx), out.toString());
  }

  private static String cycleTable(List<DashboardData.Cycle> cycles) {
    var out = new StringBuilder("<table>");
    out.append(
        headerRow(
            col("Cycle"),
            col("Started"),
            numCol("ms"),
            numCol("Matched"),
            numCol("Launched"),
            col("Slowest phase")));
    for (DashboardData.Cycle c : cycles) {
      var slowest = c.phasesMs().entrySet().stream().max(Map.Entry.comparingByValue()).orElse(null);
      out.append("<tr><td><a href=\"/cycles/")
          .append(c.number())
          .append("\">")
          .append(c.number())
          .append("</a></td><td>")
          .append(Html.time(c.at()))
          .append("</td><td class=\"num\">")
          .append(String.format("%.1f", c.durationMs()))
          .append("</td><td class=\"num\">")
          .append(c.matched())
          .append("</td><td class=\"num\">")
          .append(c.launched())
          .append("</td><td>")
          .append(
              slowest == null
                  ? ""
                  : text(slowest.getKey()) + String.format(" (%.1f ms)", slowest.getValue()))
          .append("</td></tr>");
    }
    return out.append("</tbody></table>").toString();
  }

  // Tasks

  private void tasks(Context ctx) {
    TaskFilter filter;
    String error = null;
    try {
      filter = filter(ctx);
    } catch (IllegalArgumentException e) {
      filter = TaskFilter.ALL;
      error = e.getMessage();
    }
    String before = blankToNull(ctx.queryParam("before"));
    String table = tasksTable(ctx, filter, before, error);
    if (ctx.header("HX-Request") != null && ctx.header("HX-Target") != null) {
      html(ctx, table);
      return;
    }
    String state = blankToNull(ctx.queryParam("state"));
    var body = new StringBuilder();
    body.append("<form class=\"filters\" role=\"search\" action=\"/tasks\" method=\"get\"")
        .append(" hx-get=\"/tasks\" hx-target=\"#tasks-table\" hx-swap=\"outerHTML\"")
        .append(" hx-push-url=\"true\"")
        .append(" hx-trigger=\"change, input changed delay:400ms, submit\">")
        .append("<label>State<select name=\"state\"><option value=\"\">any</option>");
    for (TaskState s : TaskState.values()) {
      body.append("<option")
          .append(s.label().equals(state) ? " selected" : "")
          .append('>')
          .append(s.label())
          .append("</option>");
    }
    body.append("</select></label>")
        .append(field("Queue", "queue", ctx.queryParam("queue")))
        .append(field("Label (key=value)", "label", ctx.queryParam("label")))
        .append(field("Id prefix", "prefix", ctx.queryParam("prefix")))
        .append("<button type=\"submit\">Filter</button></form>")
        .append(table);
    html(ctx, Html.page("Tasks", "Tasks", who.apply(ctx), body.toString()));
  }

  private static String field(String label, String name, String value) {
    return "<label>"
        + text(label)
        + "<input name=\""
        + name
        + "\" value=\""
        + attr(value)
        + "\" autocomplete=\"off\"></label>";
  }

  private static TaskFilter filter(Context ctx) {
    String state = blankToNull(ctx.queryParam("state"));
    String label = blankToNull(ctx.queryParam("label"));
    String key = null;
    String value = null;
    var errors = new ArrayList<String>();
    TaskState parsed = null;
    if (state != null) {
      try {
        parsed = TaskState.parse(state);
      } catch (IllegalArgumentException e) {
        errors.add("state: " + e.getMessage());
      }
    }
    if (label != null) {
      int eq = label.indexOf('=');
      if (eq <= 0) {
        errors.add("label: must be key=value, got '" + label + "'");
      } else {
        key = label.substring(0, eq).strip();
        value = label.substring(eq + 1).strip();
      }
    }
    if (!errors.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", errors));
    }
    return new TaskFilter(
        parsed,
        blankToNull(ctx.queryParam("queue")),
        key,
        value,
        blankToNull(ctx.queryParam("prefix")));
  }

  private String tasksTable(Context ctx, TaskFilter filter, String before, String error) {
    // Read again, with the same filters and page, whenever cycles ran.
    String self = tasksUrl(ctx, blankToNull(ctx.queryParam("before")));
    var out =
        new StringBuilder("<div id=\"tasks-table\" hx-get=\"")
            .append(attr(self))
            .append("\" hx-trigger=\"sse:cycle\" hx-swap=\"outerHTML\">");
    if (error != null) {
      out.append("<p class=\"error\" role=\"alert\">").append(text(error)).append("</p>");
    }
    TaskFilter.Page found = data.newest(filter, before, PAGE);
    List<StoredTask> page = found.tasks();
    out.append(taskTable(page));
    String next = null;
    if (found.searchedTo() != null) {
      out.append("<p>")
          .append(page.isEmpty() ? "None" : "Only " + page.size())
          .append(" of the next ")
          .append(String.format("%,d", TaskFilter.SEARCHED_MAX))
          .append(" tasks match.</p>");
      next = found.searchedTo();
    } else if (page.size() == PAGE) {
      next = page.getLast().id();
    } else if (page.isEmpty()) {
      out.append("<p>No tasks match.</p>");
    }
    if (next != null) {
      String q = tasksUrl(ctx, next);
      out.append("<p><a href=\"")
          .append(attr(q))
          .append("\" hx-get=\"")
          .append(attr(q))
          .append("\" hx-target=\"#tasks-table\" hx-swap=\"outerHTML\" hx-push-url=\"true\">")
          .append(found.searchedTo() != null ? "Search older tasks" : "Older tasks")
          .append("</a></p>");
    }
    return out.append("</div>").toString();
  }

  /** The Tasks page with this request's filters, from before {@code before} (null: newest). */
  private static String tasksUrl(Context ctx, String before) {
    var q = new StringBuilder("/tasks?");
    for (String p : List.of("state", "queue", "label", "prefix")) {
      String v = blankToNull(ctx.queryParam(p));
      if (v != null) {
        q.append(p).append('=').append(uri(v)).append('&');
      }
    }
    if (before != null) {
      q.append("before=").append(uri(before));
    }
    return q.toString();
  }

  private String taskTable(List<StoredTask> tasks) {
    Instant now = data.now();
    var out = new StringBuilder("<table class=\"tasks\">");
    out.append(
        headerRow(
            col("Task"),
            col("State"),
            numCol("Attempt"),
            col("Node"),
            numCol("Waited"),
            col("Why")));
    for (StoredTask t : tasks) {
      out.append("<tr data-task=\"")
          .append(attr(t.id()))
          .append("\"><td>")
          .append(taskLink(t.id()))
          .append("</td><td class=\"state state-")
          .append(t.state().label())
          .append("\">")
          .append(t.state().label())
          .append("</td><td class=\"num\">")
          .append(t.attempt())
          .append("</td><td>")
          .append(text(t.offer()))
          .append("</td><td class=\"num\">")
          .append(waited(t, now))
          .append("</td><td class=\"why\">")
          .append(text(briefWhy(t, now)))
          .append("</td></tr>");
    }
    return out.append("</tbody></table>").toString();
  }

  private static String waited(StoredTask t, Instant now) {
    if (t.state() != TaskState.QUEUED && t.state() != TaskState.WAITING) {
      return "";
    }
    Instant since = t.notBefore() != null ? t.notBefore() : t.submittedAt();
    return human(Duration.between(since, now));
  }

  static String human(Duration d) {
    if (d.isNegative()) {
      return "0 s";
    }
    long s = d.toSeconds();
    if (s < 120) {
      return s + " s";
    }
    if (s < 7200) {
      return s / 60 + " min";
    }
    if (s < 172_800) {
      return s / 3600 + " h";
    }
    return s / 86_400 + " d";
  }

  /**
   * A table row's why, from the task alone (no matcher run per row, so that a page stays fast): the
   * task's page gives the full one.
   */
  static String briefWhy(StoredTask t, Instant now) {
    if (t.neverSchedulable() != null
        && (t.state() == TaskState.WAITING || t.state() == TaskState.QUEUED)) {
      return t.neverSchedulable();
    }
    return switch (t.state()) {
      case WAITING ->
          "waiting for "
              + t.pendingDependencies()
              + " of "
              + t.spec().dependsOn().size()
              + " dependencies";
      case QUEUED ->
          t.notBefore() != null && t.notBefore().isAfter(now)
              ? "retrying, not before " + Html.shown(t.notBefore())
              : t.preemptedBy() != null && t.attempt() > 0
                  ? "preempted by " + t.preemptedBy() + ", queued again"
                  : "queued in " + t.spec().queue() + ", not placed yet";
      case ASSIGNED -> "placed on " + t.offer();
      case STAGING -> "staging its inputs for " + t.offer();
      case LAUNCHED -> "launched on " + t.offer();
      case RUNNING -> "running on " + t.offer() + " since " + Html.shown(t.updatedAt());
      case SUCCEEDED -> "succeeded at " + Html.shown(t.updatedAt());
      case FAILED, UPSTREAM_FAILED ->
          t.lastError() == null
              ? t.state().label() + " at " + Html.shown(t.updatedAt())
              : t.lastError();
      case CANCELLED -> "cancelled at " + Html.shown(t.updatedAt());
    };
  }

  // One task

  private StoredTask found(String id) {
    return data.task(id).orElseThrow(() -> new NotFound("no task with id '" + id + "'"));
  }

  private String task(Context ctx) {
    StoredTask t = found(ctx.pathParam("id"));
    var out = new StringBuilder();
    out.append("<div hx-get=\"/ui/tasks/")
        .append(attr(uri(t.id())))
        .append("\" hx-trigger=\"sse:cycle\" hx-swap=\"innerHTML\">")
        .append(taskLive(t))
        .append("</div><p><a href=\"/dag/")
        .append(attr(uri(t.id())))
        .append("\">Its DAG</a></p><p id=\"action-result\" role=\"status\"></p>");
    return Html.page("Task " + t.id(), "Tasks", who.apply(ctx), out.toString());
  }

  /**
   * What may be done to the task in its state now, live with it: cancel it while unfinished, retry
   * it once it failed or was cancelled (not a gang's task: its gang runs together). The API
   * decides. One id for either button, so that htmx keeps the keyboard's focus on it across
   * updates, and moves it to the new button when the state changes what may be done.
   */
  private static String actions(StoredTask t) {
    String path = "/api/tasks/" + attr(uri(t.id()));
    if (!t.state().isTerminal()) {
      return "<p><button type=\"button\" id=\"task-action\" data-action=\""
          + path
          + "/cancel\">Cancel this task</button></p>";
    }
    if (t.state().isRetryable() && t.spec().gang() == null) {
      return "<p><button type=\"button\" id=\"task-action\" data-action=\""
          + path
          + "/retry\">Retry this task</button></p>";
    }
    return "";
  }

  private String taskLive(StoredTask t) {
    Instant now = data.now();
    var out = new StringBuilder(actions(t)).append("<dl class=\"facts\">");
    fact(
        out,
        "State",
        "<span class=\"state state-"
            + t.state().label()
            + "\" id=\"task-state\">"
            + t.state().label()
            + "</span>");
    fact(out, "Why", "<span id=\"task-why\">" + text(data.why(t)) + "</span>");
    fact(out, "Queue", text(t.spec().queue()));
    fact(
        out,
        "Attempt",
        t.attemptsBeforeRetry() == 0
            ? t.attempt() + " of " + t.spec().retry().maxAttempts()
            : t.attempt()
                + " ("
                + t.attemptsCounted()
                + " of "
                + t.spec().retry().maxAttempts()
                + " since it was retried by hand)");
    fact(out, "Node", text(t.offer()));
    fact(out, "Command", text(String.join(" ", t.spec().command())));
    data.staging(t).ifPresent(s -> fact(out, "Staging", text(s)));
    if (t.spec().trace() != null) {
      String id = traceId(t.spec().trace().traceparent());
      if (id != null) {
        String href =
            traceLink == null ? "/api/traces/" + uri(id) : traceLink.replace("{traceId}", uri(id));
        fact(out, "Trace", "<a href=\"" + attr(href) + "\">" + text(id) + "</a>");
      }
    }
    if (t.lastError() != null) {
      fact(out, "Last error", text(t.lastError()));
    }
    var deps = new StringBuilder();
    for (String d : t.spec().dependsOn()) {
      deps.append(taskLink(d)).append(' ');
    }
    fact(out, "Depends on", deps.isEmpty() ? "nothing" : deps.toString());
    var below = new StringBuilder();
    for (String d : data.dependantsOf(List.of(t.id())).stream().limit(50).toList()) {
      below.append(taskLink(d)).append(' ');
    }
    fact(out, "Needed by", below.isEmpty() ? "nothing" : below.toString());
    out.append("</dl><h2>Timeline</h2><ol class=\"timeline\">")
        .append("<li>submitted ")
        .append(Html.time(t.submittedAt()))
        .append("</li>");
    List<DashboardData.Attempt> attempts = data.attempts(t);
    for (DashboardData.Attempt a : attempts) {
      out.append("<li>attempt ")
          .append(a.number())
          .append(a.node() == null ? "" : " on " + text(a.node()))
          .append(": ");
      Instant first = a.steps().getFirst().at();
      for (int i = 0; i < a.steps().size(); i++) {
        DashboardData.Step step = a.steps().get(i);
        out.append(i == 0 ? "" : " → ")
            .append(text(step.name()))
            .append(' ')
            .append(i == 0 ? Html.time(step.at()) : "+" + millis(first, step.at()));
      }
      if (a.error() != null) {
        out.append(" <span class=\"error\">").append(text(a.error())).append("</span>");
      }
      if (a.current()) {
        out.append(" → ")
            .append(text(t.state().label()))
            .append(" for ")
            .append(human(Duration.between(t.updatedAt(), now)));
      }
      out.append("</li>");
    }
    if (t.notBefore() != null) {
      out.append("<li>queued again, not before ").append(Html.time(t.notBefore())).append("</li>");
    }
    boolean shown = attempts.stream().anyMatch(a -> a.number() == t.attempt());
    if (t.attempt() > 0 && !shown) {
      out.append("<li>attempt ")
          .append(t.attempt())
          .append(": ")
          .append(t.state().label())
          .append(" since ")
          .append(Html.time(t.updatedAt()))
          .append(" (")
          .append(human(Duration.between(t.updatedAt(), now)))
          .append(" ago)</li>");
    }
    out.append("</ol><h2>Log (standard output, last 64 KiB)</h2><pre class=\"log\" id=\"log\">")
        .append(text(data.logTail(t, 64 << 10)))
        .append("</pre>");
    return out.toString();
  }

  private static String millis(Instant from, Instant to) {
    long ms = Duration.between(from, to).toMillis();
    return ms < 10_000 ? ms + " ms" : human(Duration.ofMillis(ms));
  }

  private static void fact(StringBuilder out, String name, String html) {
    out.append("<dt>").append(text(name)).append("</dt><dd>").append(html).append("</dd>");
  }

  private static String traceId(String traceparent) {
    String[] parts = traceparent == null ? new String[0] : traceparent.split("-");
    return parts.length >= 3 ? parts[1] : null;
  }

  // DAG

  private String dag(Context ctx) {
    StoredTask t = found(ctx.pathParam("id"));
    Map<String, StoredTask> graph = graph(t);
    var out = new StringBuilder();
    out.append("<div id=\"dag\" data-dag=\"")
        .append(attr(uri(t.id())))
        .append("\" role=\"img\" aria-label=\"The DAG drawn; the table below lists it\"></div>")
        .append("<div hx-get=\"/dag/")
        .append(attr(uri(t.id())))
        .append("\" hx-select=\"#dag-table\" hx-target=\"#dag-table\" hx-swap=\"outerHTML\"")
        .append(" hx-trigger=\"sse:cycle\"></div>")
        .append("<div id=\"dag-table\"><h2>")
        .append(graph.size())
        .append(" tasks</h2>")
        .append(cancelAll(graph.values()))
        .append(taskTable(List.copyOf(graph.values())))
        .append("</div><p id=\"action-result\" role=\"status\"></p>");
    return Html.page("DAG of " + t.id(), "Tasks", who.apply(ctx), out.toString(), Html.CYTOSCAPE);
  }

  /**
   * A button that cancels, through the API, each task of these not finished yet: the latest
   * submitted first, so that a dependant is cancelled before its dependency's end fails it.
   */
  private static String cancelAll(Collection<StoredTask> tasks) {
    var ids = new ArrayList<String>();
    for (StoredTask t : tasks) {
      if (!t.state().isTerminal()) {
        ids.addFirst(t.id());
      }
    }
    if (ids.isEmpty()) {
      return "<p>Every task of this DAG has finished.</p>";
    }
    String paths =
        String.join(" ", ids.stream().map(id -> "/api/tasks/" + uri(id) + "/cancel").toList());
    return "<p><button type=\"button\" data-action=\""
        + attr(paths)
        + "\">Cancel the "
        + ids.size()
        + " unfinished tasks</button></p>";
  }

  /** The tasks connected to {@code t} by dependencies, either way, in submit order; bounded. */
  private Map<String, StoredTask> graph(StoredTask t) {
    var found = new LinkedHashMap<String, StoredTask>();
    found.put(t.id(), t);
    Set<String> frontier = new LinkedHashSet<>(List.of(t.id()));
    while (!frontier.isEmpty() && found.size() < DAG_MAX) {
      var next = new LinkedHashSet<String>();
      var ups = new LinkedHashSet<String>();
      for (String id : frontier) {
        ups.addAll(found.get(id).spec().dependsOn());
      }
      ups.addAll(data.dependantsOf(frontier));
      ups.removeAll(found.keySet());
      for (StoredTask n : data.tasks(ups).values()) {
        if (found.size() >= DAG_MAX) {
          break;
        }
        found.put(n.id(), n);
        next.add(n.id());
      }
      frontier = next;
    }
    var ordered = new ArrayList<>(found.values());
    ordered.sort(
        java.util.Comparator.comparing(StoredTask::submittedAt).thenComparing(StoredTask::id));
    var out = new LinkedHashMap<String, StoredTask>();
    for (StoredTask s : ordered) {
      out.put(s.id(), s);
    }
    return out;
  }

  private void dagData(Context ctx) throws Exception {
    Map<String, StoredTask> graph = graph(found(ctx.pathParam("id")));
    var nodes = new ArrayList<Map<String, Object>>();
    var edges = new ArrayList<Map<String, Object>>();
    for (StoredTask t : graph.values()) {
      nodes.add(Map.of("id", t.id(), "state", t.state().label()));
      for (String d : t.spec().dependsOn()) {
        if (graph.containsKey(d)) {
          edges.add(Map.of("source", d, "target", t.id()));
        }
      }
    }
    ctx.contentType("application/json")
        .header("Cache-Control", "no-store")
        .result(JSON.writeValueAsString(Map.of("nodes", nodes, "edges", edges)));
  }

  // Nodes

  private String nodes(Context ctx) {
    String body =
        "<div hx-get=\"/ui/nodes\" hx-trigger=\"sse:cycle\" hx-swap=\"innerHTML\">"
            + nodesLive()
            + "</div>";
    return Html.page("Nodes", "Nodes", who.apply(ctx), body);
  }

  private String nodesLive() {
    var out = new StringBuilder();
    for (DashboardData.Node n : data.nodes()) {
      out.append("<section class=\"card\"><h2>")
          .append(text(n.name()))
          .append("</h2><table>")
          .append(headerRow(col("Resource"), col("Used"), numCol("Used"), numCol("Free")));
      for (int d = 0; d < 4; d++) {
        long used = n.used().get(d);
        long total = used + n.free().get(d);
        if (total == 0) {
          continue;
        }
        String name = dev.stowage.engine.Resources.DIMENSIONS[d];
        out.append("<tr><td>")
            .append(name)
            .append("</td><td><meter min=\"0\" max=\"")
            .append(total)
            .append("\" value=\"")
            .append(used)
            .append("\" aria-label=\"")
            .append(name)
            .append(" used\">")
            .append(used)
            .append("</meter></td><td class=\"num\">")
            .append(used)
            .append("</td><td class=\"num\">")
            .append(n.free().get(d))
            .append("</td></tr>");
      }
      out.append("</tbody></table><h3>Running here (")
          .append(n.tasks().size())
          .append(")</h3>")
          .append(taskTable(n.tasks().stream().limit(100).toList()))
          .append("</section>");
    }
    if (out.isEmpty()) {
      out.append("<p>The cluster offers no nodes now.</p>");
    }
    return out.toString();
  }

  // Chart data

  private void historyData(Context ctx) throws Exception {
    ctx.contentType("application/json").header("Cache-Control", "no-store").result(chartsJson());
  }

  private record Drawn(long added, String json) {}

  private volatile Drawn drawn = new Drawn(-1, "");

  // Built once per sample, however many pages ask: the samples change every 10 s only.
  private String chartsJson() throws Exception {
    Drawn d = drawn;
    if (d.added() == history.added()) {
      return d.json();
    }
    History.View view = history.view();
    String json = JSON.writeValueAsString(charts(view));
    drawn = new Drawn(view.added(), json);
    return json;
  }

  /** The queues charted by name; the rest are summed into one series. */
  static final int QUEUES_CHARTED = 8;

  /** The charts' series, from a view of the samples: what the overview draws. */
  static Map<String, Object> charts(History.View view) {
    List<History.Sample> samples = view.samples();
    int n = samples.size();
    long[] t = new long[n];
    double[][] used = new double[4][n];
    long[] placed = new long[n];
    Double[] failureRatio = new Double[n];
    List<String> phases = view.phases();
    Double[][] phaseMs = new Double[phases.size()][n];
    // The queues by their highest share over the samples: the first few are charted by name.
    double[] peak = new double[view.queues().size()];
    for (History.Sample s : samples) {
      for (int i = 0; i < s.queues().length; i++) {
        peak[s.queues()[i]] = Math.max(peak[s.queues()[i]], s.shares()[i]);
      }
    }
    List<Integer> byPeak = new ArrayList<>();
    for (int q = 0; q < peak.length; q++) {
      if (peak[q] > 0) {
        byPeak.add(q);
      }
    }
    byPeak.sort((a, b) -> Double.compare(peak[b], peak[a]));
    List<Integer> named = byPeak.subList(0, Math.min(QUEUES_CHARTED, byPeak.size()));
    int others = byPeak.size() - named.size();
    double[][] shares = new double[named.size() + (others > 0 ? 1 : 0)][n];
    for (int i = 0; i < n; i++) {
      History.Sample s = samples.get(i);
      t[i] = s.at().getEpochSecond();
      for (int d = 0; d < 4; d++) {
        used[d][i] = round(100 * s.used()[d], 2);
      }
      double namedSum = 0;
      for (int k = 0; k < named.size(); k++) {
        double share = s.share(named.get(k));
        namedSum += share;
        shares[k][i] = round(100 * share, 2);
      }
      if (others > 0) {
        double all = 0;
        for (float share : s.shares()) {
          all += share;
        }
        shares[named.size()][i] = round(100 * Math.max(0, all - namedSum), 2);
      }
      placed[i] = s.placed();
      failureRatio[i] = s.finished() == 0 ? null : round((double) s.failed() / s.finished(), 3);
      for (int p = 0; p < phases.size(); p++) {
        // No bar where no cycle ran (paused, or the service was busy elsewhere).
        phaseMs[p][i] = s.cycles() == 0 ? null : round(s.phaseMs(p), 3);
      }
    }
    var shareSeries = new LinkedHashMap<String, double[]>();
    for (int k = 0; k < named.size(); k++) {
      shareSeries.put(view.queues().get(named.get(k)), shares[k]);
    }
    if (others > 0) {
      shareSeries.put(
          others + " other queue" + (others == 1 ? "" : "s") + ", summed", shares[named.size()]);
    }
    var phaseSeries = new LinkedHashMap<String, Double[]>();
    for (int p = 0; p < phases.size(); p++) {
      phaseSeries.put(phases.get(p), phaseMs[p]);
    }
    var out = new LinkedHashMap<String, Object>();
    out.put("t", t);
    out.put("dimensions", List.of(dev.stowage.engine.Resources.DIMENSIONS));
    out.put("used", used);
    out.put("shares", shareSeries);
    out.put("placed", placed);
    out.put("failureRatio", failureRatio);
    out.put("phaseMs", phaseSeries);
    return out;
  }

  // Charted values need no more digits than a chart shows; fewer make the data much smaller.
  private static double round(double v, int decimals) {
    double scale = Math.pow(10, decimals);
    return Math.round(v * scale) / scale;
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.strip();
  }

  /** A page or data about something that is not there: answered 404. */
  public static final class NotFound extends RuntimeException {
    NotFound(String message) {
      super(message);
    }
  }

  /** Pages open with a live stream now. */
  public int livePages() {
    return live.open();
  }

  @Override
  public void close() {
    ticks.shutdownNow();
  }
}
