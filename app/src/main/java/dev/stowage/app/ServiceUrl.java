package dev.stowage.app;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --url} and {@code --token-file} options of every command that talks to a service. */
final class ServiceUrl {
  @Option(
      names = "--url",
      defaultValue = ServiceClient.DEFAULT_URL,
      description = "The Stowage service. Default: ${DEFAULT-VALUE}.")
  String url;

  @Option(
      names = "--token-file",
      description =
          "A file holding the API token. Default: the STOWAGE_TOKEN variable, else, for a service"
              + " on this machine, the admin.token that 'up' wrote in its default data directory.")
  Path tokenFile;

  ServiceClient client() throws IOException {
    return new ServiceClient(url, token());
  }

  /** The token to send: the named file's, STOWAGE_TOKEN, or a local service's admin token. */
  String token() throws IOException {
    if (tokenFile != null) {
      try {
        return Files.readString(tokenFile).strip();
      } catch (NoSuchFileException e) {
        throw new IllegalArgumentException("--token-file: no such file: " + tokenFile);
      }
    }
    String fromEnvironment = System.getenv("STOWAGE_TOKEN");
    if (fromEnvironment != null && !fromEnvironment.isBlank()) {
      return fromEnvironment.strip();
    }
    if (isLocal(url)) {
      try {
        Path file = UpCommand.defaultDataDir().resolve("admin.token");
        if (Files.isReadable(file)) {
          return Files.readString(file).strip();
        }
      } catch (Exception e) {
        // no local token: the service will say a token is needed
      }
    }
    return null;
  }

  private static boolean isLocal(String url) {
    try {
      String host = URI.create(url).getHost();
      return host != null
          && (host.equals("localhost")
              || host.equals("[::1]")
              || java.net.InetAddress.getByName(host).isLoopbackAddress());
    } catch (IllegalArgumentException | java.net.UnknownHostException e) {
      return false;
    }
  }
}
