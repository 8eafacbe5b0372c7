package dev.stowage.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
    name = "tokens",
    mixinStandardHelpOptions = true,
    description = {
      "Create, list and revoke API tokens (an admin token is needed).",
      "Roles: reader (read everything), submitter (also submit, and cancel its own tasks),"
          + " admin (everything)."
    },
    subcommands = {
      TokensCommand.Create.class,
      TokensCommand.ListTokens.class,
      TokensCommand.Revoke.class
    })
final class TokensCommand implements Runnable {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(
      name = "create",
      mixinStandardHelpOptions = true,
      description = "Create a token and print its secret, once: keep it.")
  static final class Create implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The token's name, as the audit log will show it.")
    String name;

    @Option(names = "--role", required = true, description = "reader, submitter or admin.")
    String role;

    @Option(
        names = "--expires-in",
        description = "How long it is valid: 90m, 12h, 30d (s, m, h, d). Default: no expiry.")
    String expiresIn;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      var body = new LinkedHashMap<String, Object>();
      body.put("name", name);
      body.put("role", role);
      if (expiresIn != null) {
        body.put("expiresInSeconds", lifetime(expiresIn).toSeconds());
      }
      HttpResponse<String> response =
          service.client().post("/api/tokens", JSON.writeValueAsString(body));
      if (response.statusCode() != 201) {
        return TaskCommands.failed(spec, response);
      }
      JsonNode created = JSON.readTree(response.body());
      spec.commandLine().getOut().println(created.get("token").asText());
      spec.commandLine()
          .getErr()
          .printf(
              "stowage: created token '%s' (%s%s); it is shown only this once%n",
              name,
              created.get("role").asText(),
              created.hasNonNull("expiresAt")
                  ? ", expires " + created.get("expiresAt").asText()
                  : ", no expiry");
      return 0;
    }

    private Duration lifetime(String text) {
      try {
        return Durations.parse("--expires-in", text, false);
      } catch (IllegalArgumentException e) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List every token.")
  static final class ListTokens implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      HttpResponse<String> response = service.client().get("/api/tokens");
      if (response.statusCode() != 200) {
        return TaskCommands.failed(spec, response);
      }
      var out = spec.commandLine().getOut();
      out.printf("%-24s %-10s %-22s %s%n", "NAME", "ROLE", "CREATED", "STATUS");
      for (JsonNode t : JSON.readTree(response.body()).get("tokens")) {
        // Absent fields are null ones: the API leaves them out.
        String status =
            t.hasNonNull("revokedAt")
                ? "revoked " + t.get("revokedAt").asText()
                : t.hasNonNull("expiresAt")
                    ? "active until " + t.get("expiresAt").asText()
                    : "active";
        out.printf(
            "%-24s %-10s %-22s %s%n",
            t.get("name").asText(), t.get("role").asText(), t.get("createdAt").asText(), status);
      }
      return 0;
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a token.")
  static final class Revoke implements Callable<Integer> {
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", description = "The token's name.")
    String name;

    @Mixin ServiceUrl service;

    @Override
    public Integer call() throws Exception {
      HttpResponse<String> response =
          service
              .client()
              .post(
                  "/api/tokens/" + URLEncoder.encode(name, StandardCharsets.UTF_8) + "/revoke", "");
      if (response.statusCode() != 200) {
        return TaskCommands.failed(spec, response);
      }
      spec.commandLine().getOut().printf("revoked token '%s'%n", name);
      return 0;
    }
  }
}
