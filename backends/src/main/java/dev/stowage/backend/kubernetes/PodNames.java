package dev.stowage.backend.kubernetes;

import dev.stowage.scheduler.AttemptId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The pod of an attempt, named from its task id and attempt number alone, so that launching the
 * same attempt twice names the same pod (the second create is refused, and adopted). A DNS-1123
 * label: the id lowered to {@code [a-z0-9-]}, cut to fit, then a hash of the whole id, so that ids
 * that lower alike ({@code a/b}, {@code A-b}) still name different pods.
 */
public final class PodNames {
  static final int MAX = 63;
  private static final int HASH_CHARS = 10;

  private PodNames() {}

  /** The pod name of {@code attempt}. */
  public static String of(AttemptId attempt) {
    String suffix = "-" + hash(attempt.taskId()) + "-" + attempt.attempt();
    var readable = new StringBuilder();
    for (char c : attempt.taskId().toLowerCase(Locale.ROOT).toCharArray()) {
      boolean ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (ok) {
        readable.append(c);
      } else if (!readable.isEmpty() && readable.charAt(readable.length() - 1) != '-') {
        readable.append('-');
      }
    }
    int room = MAX - "st-".length() - suffix.length();
    String head = readable.length() > room ? readable.substring(0, room) : readable.toString();
    while (head.endsWith("-")) {
      head = head.substring(0, head.length() - 1);
    }
    return "st-" + head + suffix;
  }

  /** The label value that stands for a task id (label values cannot hold every id). */
  static String hash(String taskId) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(taskId.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest).substring(0, HASH_CHARS);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }
}
