package dev.stowage.store;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A PostgreSQL server that Stowage starts itself, from binaries delivered as a Maven artifact, on a
 * data directory that survives restarts. Nothing needs to be installed on the machine.
 *
 * <p>PostgreSQL refuses to run as root. When this process is root, the server runs as a system user
 * of its own, {@code stowage-postgres} (created on first use), through {@code setpriv}: not {@code
 * nobody}, which tasks run as. The data directory is handed to that user, and every directory above
 * it must let others traverse it.
 *
 * <p>The server takes password connections only (scram-sha-256, on loopback TCP, no Unix socket).
 * The password is random, made at the first start and kept beside the data directory in {@code
 * <data dir>.password}, readable by this process's user alone.
 *
 * <p>A server left behind by a process that was killed (its {@code postmaster.pid} names a live
 * process) is stopped before a new one starts on the same data directory.
 */
public final class EmbeddedPostgres implements AutoCloseable {
  /** The system user the server runs as when this process is root. */
  static final String SERVER_USER = "stowage-postgres";

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Duration SHUTDOWN = Duration.ofSeconds(15);

  private final Process server;
  private final Path dataDir;
  private final int port;
  private final String password;
  private final Thread shutdownHook;

  private EmbeddedPostgres(Process server, Path dataDir, int port, String password) {
    this.server = server;
    this.dataDir = dataDir;
    this.port = port;
    this.password = password;
    this.shutdownHook = new Thread(this::stop, "stowage-postgres-shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /** Starts a server on {@code dataDir}, creating the database cluster there on first use. */
  public static EmbeddedPostgres start(Path dataDir) throws IOException {
    Path data = dataDir.toAbsolutePath().normalize();
    boolean root = isRoot();
    Path cache =
        Path.of(
            System.getProperty("java.io.tmpdir"),
            "stowage-postgres-" + System.getProperty("user.name"));
    Path binaries = PostgresBinaries.unpack(cache);
    int[] ids = root ? ServerUser.ensure(SERVER_USER) : null;
    List<String> asServerUser =
        root
            ? List.of("setpriv", "--reuid=" + ids[0], "--regid=" + ids[1], "--clear-groups", "--")
            : List.of();

    Files.createDirectories(data);
    if (root) {
      requireTraversable(data.getParent());
      ServerUser.handOver(data, ids[0], ids[1]);
    }
    Files.setPosixFilePermissions(
        data,
        java.util.EnumSet.of(
            PosixFilePermission.OWNER_READ,
            PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_EXECUTE));

    stopLeftover(data);
    Path passwordFile = data.resolveSibling(data.getFileName() + ".password");
    boolean trusted = Files.exists(data.resolve("PG_VERSION")) && !Files.exists(passwordFile);
    String password = Passwords.readOrCreate(passwordFile);
    if (!Files.exists(data.resolve("PG_VERSION"))) {
      // initdb reads the password from a file of the server's user, removed right after.
      Path pwfile = data.resolveSibling("." + data.getFileName() + ".initdb-password");
      Files.deleteIfExists(pwfile);
      Files.createFile(
          pwfile,
          java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
              java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
      Files.writeString(pwfile, password + "\n");
      if (root) {
        ServerUser.handOver(pwfile, ids[0], ids[1]);
      }
      try {
        run(
            command(
                asServerUser,
                binaries.resolve("bin/initdb").toString(),
                "--auth=scram-sha-256",
                "--pwfile=" + pwfile,
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--pgdata=" + data),
            "initdb");
      } finally {
        Files.deleteIfExists(pwfile);
      }
    }
    if (!trusted) {
      writeHba(data, root ? ids : null);
    }

    int port = freePort();
    Path log = data.resolve("stowage-postgres.log");
    var builder =
        new ProcessBuilder(
                command(
                    asServerUser,
                    binaries.resolve("bin/postgres").toString(),
                    "-D",
                    data.toString(),
                    "-p",
                    Integer.toString(port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories="))
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder.environment().put("LC_ALL", "C");
    Process server = builder.start();
    // A cluster made by a version that trusted every local connection: given the password now,
    // then closed to anything without it.
    var pg = new EmbeddedPostgres(server, data, port, trusted ? "" : password);
    try {
      pg.awaitReady(log);
      if (trusted) {
        try (var c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), "");
            var s = c.prepareStatement("select set_config('stowage.p', ?, false)")) {
          s.setString(1, password);
          s.execute();
          c.createStatement()
              .execute(
                  "do $$ begin execute format('alter role postgres password %L',"
                      + " current_setting('stowage.p')); end $$");
          writeHba(data, root ? ids : null);
          c.createStatement().execute("select pg_reload_conf()");
        } catch (SQLException e) {
          throw new IOException("could not set the database password: " + e.getMessage(), e);
        }
        pg.close();
        return start(dataDir);
      }
    } catch (IOException | RuntimeException e) {
      pg.close();
      throw e;
    }
    return pg;
  }

  /** Only password connections over loopback TCP: no trust, no other address. */
  private static void writeHba(Path data, int[] ids) throws IOException {
    Path hba = data.resolve("pg_hba.conf");
    Files.writeString(
        hba,
        "# Written by Stowage at every start: passwords only, on loopback.\n"
            + "host all all 127.0.0.1/32 scram-sha-256\n");
    if (ids != null) {
      ServerUser.handOver(hba, ids[0], ids[1]);
    }
  }

  /** The JDBC URL of the {@code postgres} database; user {@code postgres}, {@link #password()}. */
  public String jdbcUrl() {
    // Batched inserts rewritten into multi-row statements: one round trip per batch, not per row.
    return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?reWriteBatchedInserts=true";
  }

  public String user() {
    return "postgres";
  }

  /** The random password of user {@code postgres}. */
  public String password() {
    return password;
  }

  public int port() {
    return port;
  }

  public Path dataDir() {
    return dataDir;
  }

  /** The server's process id, for tests and operators. */
  public long pid() {
    return server.pid();
  }

  /** Whether the server process this object started is still running. */
  public boolean isRunning() {
    return server.isAlive();
  }

  /** Stops the server (a smart shutdown: close connection pools first), waiting for it. */
  @Override
  public void close() {
    stop();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // already shutting down: the hook is running or has run
    }
  }

  private void stop() {
    if (!server.isAlive()) {
      return;
    }
    server.destroy(); // SIGTERM
    try {
      if (!server.waitFor(SHUTDOWN.toMillis(), TimeUnit.MILLISECONDS)) {
        server.destroyForcibly();
        server.waitFor(SHUTDOWN.toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.destroyForcibly();
    }
  }

  private void awaitReady(Path log) throws IOException {
    long deadline = System.nanoTime() + STARTUP.toNanos();
    SQLException last = null;
    while (System.nanoTime() < deadline) {
      if (!server.isAlive()) {
        throw new IOException(
            "PostgreSQL exited with code " + server.exitValue() + " during start; " + tail(log));
      }
      try (var c = DriverManager.getConnection(jdbcUrl(), user(), password)) {
        return;
      } catch (SQLException e) {
        last = e;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for PostgreSQL to start", e);
      }
    }
    throw new IOException(
        "PostgreSQL did not accept connections within "
            + STARTUP.toSeconds()
            + " s ("
            + (last == null ? "" : last.getMessage())
            + "); "
            + tail(log));
  }

  /** Stops a server that a killed process left running on this data directory. */
  private static void stopLeftover(Path data) throws IOException {
    Path pidFile = data.resolve("postmaster.pid");
    if (!Files.exists(pidFile)) {
      return;
    }
    List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
    if (lines.isEmpty()) {
      return;
    }
    long pid;
    try {
      pid = Long.parseLong(lines.getFirst().trim());
    } catch (NumberFormatException e) {
      return; // not ours to interpret; PostgreSQL will complain with a clear message
    }
    Optional<ProcessHandle> leftover = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
    if (leftover.isEmpty()
        || !leftover.get().info().command().map(c -> c.endsWith("/postgres")).orElse(false)) {
      return; // a stale file: PostgreSQL removes it itself
    }
    ProcessHandle server = leftover.get();
    server.destroy();
    try {
      server.onExit().get(SHUTDOWN.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      server.destroyForcibly();
    }
  }

  private static void run(List<String> command, String what) throws IOException {
    var builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("LC_ALL", "C");
    Process p = builder.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(STARTUP.toMillis(), TimeUnit.MILLISECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException(what + " failed: " + output.strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(what + " interrupted", e);
    }
  }

  private static List<String> command(List<String> prefix, String... args) {
    var out = new ArrayList<>(prefix);
    out.addAll(List.of(args));
    return out;
  }

  private static int freePort() throws IOException {
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static boolean isRoot() throws IOException {
    return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
  }

  /** As root the server runs as another user, which must be able to reach the data directory. */
  private static void requireTraversable(Path dir) throws IOException {
    for (Path p = dir; p != null; p = p.getParent()) {
      var perms = Files.getPosixFilePermissions(p);
      if (!perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
        throw new IOException(
            "running as root, PostgreSQL runs as user "
                + SERVER_USER
                + ", which cannot reach "
                + p
                + " (no execute permission for others): choose a data directory elsewhere, for"
                + " example under /var/lib, or allow others to traverse "
                + p);
      }
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return "last lines of "
          + log
          + ":\n"
          + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
    } catch (IOException e) {
      return "no log at " + log;
    }
  }
}
