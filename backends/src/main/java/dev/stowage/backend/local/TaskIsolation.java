package dev.stowage.backend.local;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * What an attempt gets of the service: a clean environment (never the service's own, which holds
 * its secrets), the variables the operator chose to pass, and, when the service runs as root, an
 * unprivileged user of its own.
 *
 * @param passEnv names of the service's variables every task gets
 * @param environment the service's environment (for {@code PATH}, {@code LANG} and {@code passEnv})
 * @param runAs the user attempts run as, or null to run as the service's user
 * @param limits whether to limit each attempt's CPU and memory to its request in a control group
 */
public record TaskIsolation(
    List<String> passEnv, Function<String, String> environment, RunAs runAs, boolean limits) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final String DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

  public TaskIsolation {
    passEnv = List.copyOf(passEnv);
    Objects.requireNonNull(environment, "environment");
    for (String n : passEnv) {
      if (!NAME.matcher(n).matches()) {
        throw new IllegalArgumentException(
            "--pass-env: '" + n + "' is not a variable name (letters, digits, '_')");
      }
    }
  }

  /** Nothing passed, the service's own user, no limits: for tests of what processes do. */
  public static TaskIsolation none() {
    return new TaskIsolation(List.of(), System::getenv, null, false);
  }

  /** An unprivileged user, by name and the ids {@code getent passwd} gives it. */
  public record RunAs(String user, int uid, int gid) {
    /** The named user of this machine; the message says when there is none. */
    public static RunAs lookup(String user) throws IOException {
      if (!NAME_OF_USER.matcher(user).matches()) {
        throw new IllegalArgumentException("--run-as: not a user name: '" + user + "'");
      }
      Process p = new ProcessBuilder("getent", "passwd", user).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted looking up user " + user, e);
      }
      String[] fields = out.split(":");
      if (p.exitValue() != 0 || fields.length < 4) {
        throw new IllegalArgumentException("--run-as: no user '" + user + "' on this machine");
      }
      int uid = Integer.parseInt(fields[2]);
      if (uid == 0) {
        throw new IllegalArgumentException("--run-as: '" + user + "' is root; choose another user");
      }
      return new RunAs(user, uid, Integer.parseInt(fields[3]));
    }

    private static final Pattern NAME_OF_USER = Pattern.compile("[a-z_][a-z0-9_.-]{0,31}\\$?");
  }

  /**
   * An attempt's whole environment, in the order it is applied: the basics ({@code PATH}, {@code
   * HOME} and {@code TMPDIR} in the work directory, {@code LANG}), the passed variables, the task's
   * own (which may override those), then the facts Stowage sets (which it may not).
   */
  Map<String, String> environmentOf(
      Map<String, String> taskEnv, Map<String, String> facts, Path work, Path tmp) {
    var env = new LinkedHashMap<String, String>();
    env.put("PATH", Optional.ofNullable(environment.apply("PATH")).orElse(DEFAULT_PATH));
    env.put("HOME", work.toString());
    env.put("TMPDIR", tmp.toString());
    env.put("LANG", Optional.ofNullable(environment.apply("LANG")).orElse("C.UTF-8"));
    for (String n : passEnv) {
      String v = environment.apply(n);
      if (v != null) {
        env.put(n, v);
      }
    }
    env.putAll(taskEnv);
    env.putAll(facts);
    return env;
  }

  /**
   * The environment as {@code export NAME='value'} lines, for the task's shell to read from its
   * standard input: never on a command line, where every local user could read it.
   */
  static byte[] exportScript(Map<String, String> env) {
    var out = new StringBuilder();
    for (var e : env.entrySet()) {
      if (!NAME.matcher(e.getKey()).matches()) {
        throw new IllegalArgumentException(
            "environment variable name '" + e.getKey() + "' is not letters, digits and '_'");
      }
      if (e.getValue().indexOf('\0') >= 0) {
        throw new IllegalArgumentException(
            "environment variable " + e.getKey() + " holds a NUL character");
      }
      out.append("export ")
          .append(e.getKey())
          .append("='")
          .append(e.getValue().replace("'", "'\\''"))
          .append("'\n");
    }
    return out.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The program a command names, as {@code execvp} would find it on the task's {@code PATH}: a
   * shell builtin ({@code cd}, {@code exit}) is none, and fails the launch with a clear reason.
   */
  static Optional<String> problemWith(List<String> command, String path, Path work) {
    if (command.isEmpty() || command.getFirst().isEmpty()) {
      return Optional.of("the command is empty");
    }
    String program = command.getFirst();
    if (program.contains("/")) {
      Path p = work.resolve(program);
      return Files.isRegularFile(p) && Files.isExecutable(p)
          ? Optional.empty()
          : Optional.of("'" + program + "' is not an executable file");
    }
    List<String> dirs = new ArrayList<>(List.of(path.split(":")));
    for (String dir : dirs) {
      Path p = (dir.isEmpty() ? work : work.resolve(dir)).resolve(program);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return Optional.empty();
      }
    }
    return Optional.of(
        "'"
            + program
            + "' is not a program on the task's PATH ("
            + path
            + "); a shell builtin needs a shell: [\"sh\", \"-c\", \"...\"]");
  }
}
