package dev.stowage.staging;

/** Byte counts for people: {@code 1.2 GiB}. */
public final class ByteCounts {
  private static final String[] UNITS = {"KiB", "MiB", "GiB", "TiB", "PiB"};

  private ByteCounts() {}

  public static String human(long n) {
    if (n < 1024) {
      return n + " B";
    }
    double v = n;
    int u = -1;
    while (v >= 1024 && u < UNITS.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format("%.1f %s", v, UNITS[u]);
  }
}
