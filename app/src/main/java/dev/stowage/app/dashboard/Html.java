package dev.stowage.app.dashboard;

import org.owasp.encoder.Encode;

/** The pages' common frame, and escaping: every value from a task or a request goes through it. */
final class Html {
  private Html() {}

  static final String HTMX = "/webjars/htmx.org/2.0.8/dist/htmx.min.js";
  static final String SSE = "/webjars/htmx-ext-sse/2.2.2/sse.js";
  static final String UPLOT_JS = "/webjars/uplot/1.6.30/dist/uPlot.iife.min.js";
  static final String UPLOT_CSS = "/webjars/uplot/1.6.30/dist/uPlot.min.css";
  static final String CYTOSCAPE = "/webjars/cytoscape/3.33.1/dist/cytoscape.min.js";

  static String text(Object value) {
    return Encode.forHtml(value == null ? "" : value.toString());
  }

  static String attr(Object value) {
    return Encode.forHtmlAttribute(value == null ? "" : value.toString());
  }

  static String uri(String value) {
    return Encode.forUriComponent(value == null ? "" : value);
  }

  private static final java.time.format.DateTimeFormatter SHOWN =
      java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss")
          .withZone(java.time.ZoneOffset.UTC);

  /** A moment as people read it (UTC, to the second), exact in its datetime attribute. */
  static String time(java.time.Instant at) {
    if (at == null) {
      return "";
    }
    return "<time datetime=\"" + at + "\">" + SHOWN.format(at) + "</time>";
  }

  /** A moment in plain text, as {@link #time} shows it. */
  static String shown(java.time.Instant at) {
    return at == null ? "" : SHOWN.format(at) + " UTC";
  }

  /** A link to a task's page. */
  static String taskLink(String id) {
    return "<a href=\"/tasks/" + attr(uri(id)) + "\">" + text(id) + "</a>";
  }

  /** A whole page: the navigation, {@code body}, and the scripts every page loads. */
  static String page(String title, String active, String who, String body, String... scripts) {
    var out = new StringBuilder(4096);
    out.append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        // No inline style from htmx, as the content security policy allows none.
        .append("<meta name=\"htmx-config\" content='{\"includeIndicatorStyles\":false}'>")
        .append("<link rel=\"icon\" href=\"data:,\"><title>")
        .append(text(title))
        .append(" · Stowage</title>")
        .append("<link rel=\"stylesheet\" href=\"/static/dashboard.css\">")
        .append("<link rel=\"stylesheet\" href=\"")
        .append(UPLOT_CSS)
        .append("\">")
        .append("<script src=\"")
        .append(HTMX)
        .append("\" defer></script><script src=\"")
        .append(SSE)
        .append("\" defer></script>");
    for (String s : scripts) {
      out.append("<script src=\"").append(attr(s)).append("\" defer></script>");
    }
    out.append("<script src=\"/static/dashboard.js\" defer></script></head>")
        .append("<body hx-ext=\"sse\" sse-connect=\"/ui/events\">")
        .append("<a class=\"skip\" href=\"#main\">Skip to content</a>")
        .append("<header><nav aria-label=\"Main\"><span class=\"brand\">Stowage</span><ul>");
    for (String[] item :
        new String[][] {
          {"Overview", "/"}, {"Cycles", "/cycles"}, {"Tasks", "/tasks"}, {"Nodes", "/nodes"}
        }) {
      out.append("<li><a href=\"").append(item[1]).append('"');
      if (item[0].equals(active)) {
        out.append(" aria-current=\"page\"");
      }
      out.append('>').append(item[0]).append("</a></li>");
    }
    out.append("</ul><span class=\"who\">")
        .append(text(who))
        .append("</span><form method=\"post\" action=\"/sign-out\">")
        .append("<button type=\"submit\">Sign out</button></form></nav></header>")
        .append("<main id=\"main\"><h1>")
        .append(text(title))
        .append("</h1>")
        .append(body)
        .append("</main></body></html>");
    return out.toString();
  }
}
