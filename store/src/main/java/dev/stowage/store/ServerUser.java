package dev.stowage.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The system user the embedded server runs as under root: made once, given its files. */
final class ServerUser {
  private ServerUser() {}

  /** The user's uid and gid, creating it as a system user with no login when it does not exist. */
  static int[] ensure(String name) throws IOException {
    String entry = run(List.of("getent", "passwd", name), true);
    if (entry.isEmpty()) {
      run(
          List.of(
              "useradd",
              "--system",
              "--user-group",
              "--no-create-home",
              "--home-dir",
              "/nonexistent",
              "--shell",
              "/usr/sbin/nologin",
              name),
          false);
      entry = run(List.of("getent", "passwd", name), false);
    }
    String[] fields = entry.split(":");
    return new int[] {Integer.parseInt(fields[2]), Integer.parseInt(fields[3])};
  }

  /**
   * Hands {@code path}, and all below it, to the user (links not followed). A path the user owns
   * already is left as it is: the common case at every start, checked at the top alone.
   */
  static void handOver(Path path, int uid, int gid) throws IOException {
    if (Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS).equals(uid)) {
      return;
    }
    try (var all = Files.walk(path)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
      }
    }
  }

  private static String run(List<String> command, boolean missingIsEmpty) throws IOException {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new IOException(
          command.getFirst()
              + " is needed to run the embedded PostgreSQL as root under a user of its own: "
              + e.getMessage(),
          e);
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    try {
      p.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + String.join(" ", command), e);
    }
    if (p.exitValue() != 0) {
      if (missingIsEmpty && p.exitValue() == 2) {
        return "";
      }
      throw new IOException(String.join(" ", command) + " failed: " + out);
    }
    return out;
  }
}
