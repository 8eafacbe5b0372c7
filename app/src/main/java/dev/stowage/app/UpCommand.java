package dev.stowage.app;

import dev.stowage.app.service.StowageService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
    name = "up",
    mixinStandardHelpOptions = true,
    description = {
      "Start the scheduler service: embedded PostgreSQL (or --db-url), this machine as the"
          + " cluster, and the HTTP API. Runs until stopped (Ctrl-C or SIGTERM).",
      "Tasks and their state survive restarts in --data-dir."
    })
final class UpCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--data-dir",
      description =
          "Where the database and work directories live. Default: ~/.stowage, or"
              + " /var/lib/stowage when run as root (PostgreSQL then runs as nobody, which cannot"
              + " enter /root).")
  Path dataDir;

  @Option(
      names = "--db-url",
      description = "An external PostgreSQL (JDBC URL) instead of the embedded one.")
  String dbUrl;

  @Option(
      names = "--db-user",
      defaultValue = "postgres",
      description = "Default: ${DEFAULT-VALUE}.")
  String dbUser;

  @Option(names = "--db-password", defaultValue = "", description = "Default: empty.")
  String dbPassword;

  @Option(
      names = "--port",
      defaultValue = "7070",
      description = "HTTP port. Default: ${DEFAULT-VALUE}.")
  int port;

  @Override
  public Integer call() throws Exception {
    Path data = dataDir != null ? dataDir : defaultDataDir();
    var service =
        StowageService.start(
            new StowageService.Config(
                data, dbUrl, dbUser, dbPassword, port, Duration.ofSeconds(1)));
    var stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  service.close();
                  stopped.countDown();
                },
                "stowage-shutdown"));
    spec.commandLine()
        .getOut()
        .printf("Stowage is up at %s (data in %s)%n", service.url(), data.toAbsolutePath());
    spec.commandLine().getOut().flush();
    stopped.await();
    return 0;
  }

  static Path defaultDataDir() throws Exception {
    boolean root = ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    return root
        ? Path.of("/var/lib/stowage")
        : Path.of(System.getProperty("user.home"), ".stowage");
  }
}
