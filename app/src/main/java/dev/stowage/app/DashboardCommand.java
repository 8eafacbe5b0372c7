package dev.stowage.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpResponse;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "dashboard",
    mixinStandardHelpOptions = true,
    description = {
      "Print a one-time link that signs a browser in to the service's dashboard with this"
          + " command's token (its role, no more), and open it on a desktop.",
      "The link works once, within 2 minutes."
    })
final class DashboardCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin ServiceUrl service;

  @Option(names = "--no-open", description = "Only print the link, even on a desktop.")
  boolean noOpen;

  @Override
  public Integer call() throws Exception {
    HttpResponse<String> response = service.client().post("/api/sign-in-links", "{}");
    if (response.statusCode() != 201) {
      return TaskCommands.failed(spec, response);
    }
    String url = new ObjectMapper().readTree(response.body()).get("url").asText();
    spec.commandLine().getOut().println(url);
    if (!noOpen && desktop()) {
      try {
        java.awt.Desktop.getDesktop().browse(URI.create(url));
      } catch (Exception e) {
        spec.commandLine().getErr().println("stowage: could not open a browser: " + e.getMessage());
      }
    }
    return 0;
  }

  private static boolean desktop() {
    if (java.awt.GraphicsEnvironment.isHeadless() || System.getenv("DISPLAY") == null) {
      return false;
    }
    return java.awt.Desktop.isDesktopSupported()
        && java.awt.Desktop.getDesktop().isSupported(java.awt.Desktop.Action.BROWSE);
  }
}
