package dev.stowage.app;

import picocli.CommandLine.Option;

/** The {@code --url} option of every command that talks to a running service. */
final class ServiceUrl {
  @Option(
      names = "--url",
      defaultValue = ServiceClient.DEFAULT_URL,
      description = "The Stowage service. Default: ${DEFAULT-VALUE}.")
  String url;

  ServiceClient client() {
    return new ServiceClient(url);
  }
}
