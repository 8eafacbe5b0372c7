package dev.stowage.app;

import java.time.Duration;
import java.util.regex.Pattern;

/** Durations as a person types them on the command line: 90s, 30m, 12h, 7d. */
final class Durations {
  private static final Pattern DURATION = Pattern.compile("([0-9]+)([smhd])");

  private Durations() {}

  /** The duration, or a message naming the option; zero only when {@code zero} allows it. */
  static Duration parse(String option, String text, boolean zero) {
    var m = DURATION.matcher(text);
    if (!m.matches() || (!zero && Long.parseLong(m.group(1)) == 0)) {
      throw new IllegalArgumentException(
          option
              + " must be a "
              + (zero ? "" : "positive ")
              + "number and a unit (s, m, h, d), got '"
              + text
              + "'");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }
}
