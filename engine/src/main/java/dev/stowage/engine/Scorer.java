package dev.stowage.engine;

import java.util.Arrays;
import java.util.Locale;

/**
 * How good a fitting offer is for a task; lower is better, ties go to the lower offer index.
 *
 * <p>Each scorer has an exact {@code score} (what the reference loop uses) and a {@code lowerBound}
 * over a group of offers described by per-dimension ranges of available and initial amounts (what
 * the fast matcher prunes with). A bound must never exceed the score of any fitting offer in the
 * group. The bounds are computed with the same floating-point operations as the score, in the same
 * order, on the range ends: IEEE-754 rounding is monotone, so the bound stays below every exact
 * score and the fast matcher returns exactly what the reference loop returns.
 *
 * <p>"Initial" is an offer's availability when matching starts; the consolidating scorers measure
 * use against it. Arrays hold four longs per offer or group, in contract order (cpuMillis,
 * memoryMiB, diskMiB, gpus), starting at {@code base}.
 */
public enum Scorer {
  /**
   * The contract's tightest fit: {@code sum over dimensions with avail > 0 of 1 - req/avail}. A
   * CPU-only task on a GPU offer pays for the idle GPUs.
   */
  TIGHTEST_FIT("tightest-fit") {
    @Override
    double score(long r0, long r1, long r2, long r3, long[] avail, long[] initial, int base) {
      double s = 0.0;
      long a = avail[base];
      if (a > 0) {
        s = s + (1.0 - (double) r0 / (double) a);
      }
      a = avail[base + 1];
      if (a > 0) {
        s = s + (1.0 - (double) r1 / (double) a);
      }
      a = avail[base + 2];
      if (a > 0) {
        s = s + (1.0 - (double) r2 / (double) a);
      }
      a = avail[base + 3];
      if (a > 0) {
        s = s + (1.0 - (double) r3 / (double) a);
      }
      return s;
    }

    @Override
    double lowerBound(long r0, long r1, long r2, long r3, long[] group, int base) {
      int min = base + MIN_AVAIL;
      double s = 0.0;
      s = s + tightTerm(r0, group[min]);
      s = s + tightTerm(r1, group[min + 1]);
      s = s + tightTerm(r2, group[min + 2]);
      s = s + tightTerm(r3, group[min + 3]);
      return s;
    }
  },

  /**
   * Consolidates onto offers that are already in use, like Fenzo's cpuMemBinPacker: {@code sum over
   * cpu and memory (initial > 0) of 1 - (used + req) / initial}, where used is what this match has
   * already placed on the offer. Lower is fuller.
   */
  BIN_PACKING("bin-packing") {
    @Override
    double score(long r0, long r1, long r2, long r3, long[] avail, long[] initial, int base) {
      double s = 0.0;
      long i = initial[base];
      if (i > 0) {
        s = s + (1.0 - (double) (i - avail[base] + r0) / (double) i);
      }
      i = initial[base + 1];
      if (i > 0) {
        s = s + (1.0 - (double) (i - avail[base + 1] + r1) / (double) i);
      }
      return s;
    }

    @Override
    double lowerBound(long r0, long r1, long r2, long r3, long[] group, int base) {
      double s = 0.0;
      s = s + packTerm(r0, group[base + MAX_USED], group[base + MIN_INITIAL]);
      s = s + packTerm(r1, group[base + MAX_USED + 1], group[base + MIN_INITIAL + 1]);
      return s;
    }
  },

  /**
   * Spreads load, like kube-scheduler's LeastAllocated: {@code sum over cpu and memory (initial >
   * 0) of (used + req) / initial}. Lower is emptier.
   */
  SPREAD("spread") {
    @Override
    double score(long r0, long r1, long r2, long r3, long[] avail, long[] initial, int base) {
      double s = 0.0;
      long i = initial[base];
      if (i > 0) {
        s = s + (double) (i - avail[base] + r0) / (double) i;
      }
      i = initial[base + 1];
      if (i > 0) {
        s = s + (double) (i - avail[base + 1] + r1) / (double) i;
      }
      return s;
    }

    @Override
    double lowerBound(long r0, long r1, long r2, long r3, long[] group, int base) {
      double s = 0.0;
      s =
          s
              + spreadTerm(
                  r0, group[base + MIN_USED], group[base + MIN_INITIAL], group[base + MAX_INITIAL]);
      s =
          s
              + spreadTerm(
                  r1,
                  group[base + MIN_USED + 1],
                  group[base + MIN_INITIAL + 1],
                  group[base + MAX_INITIAL + 1]);
      return s;
    }
  };

  private final String label;

  Scorer(String label) {
    this.label = label;
  }

  /** The name used on the command line and in reports. */
  public String label() {
    return label;
  }

  /** Finds a scorer by its label (or enum name), case-insensitively. */
  public static Scorer parse(String text) {
    for (Scorer s : values()) {
      if (s.label.equalsIgnoreCase(text) || s.name().equalsIgnoreCase(text)) {
        return s;
      }
    }
    throw new IllegalArgumentException(
        "unknown scorer '"
            + text
            + "': expected one of "
            + Arrays.stream(values()).map(Scorer::label).toList());
  }

  abstract double score(long r0, long r1, long r2, long r3, long[] avail, long[] initial, int base);

  /**
   * A lower bound of the score of every fitting offer in a group, read from {@code group} at {@code
   * base}: the maximum and minimum availability per dimension ({@link #MAX_AVAIL}, {@link
   * #MIN_AVAIL}, four each), and for cpu and memory the range of initial availability ({@link
   * #MIN_INITIAL}, {@link #MAX_INITIAL}) and of use so far, initial minus available ({@link
   * #MIN_USED}, {@link #MAX_USED}), two each.
   */
  abstract double lowerBound(long r0, long r1, long r2, long r3, long[] group, int base);

  static final int MAX_AVAIL = 0;
  static final int MIN_AVAIL = 4;
  static final int MIN_INITIAL = 8;
  static final int MAX_INITIAL = 10;
  static final int MIN_USED = 12;
  static final int MAX_USED = 14;
  static final int GROUP_SIZE = 16;

  /** The least {@code 1 - r/a} over fitting offers whose availability is at least {@code min}. */
  static double tightTerm(long r, long min) {
    if (r > 0) {
      return 1.0 - (double) r / (double) Math.max(min, r);
    }
    // r == 0: the term is 1 where a > 0 and skipped (0) where a == 0.
    return min > 0 ? 1.0 : 0.0;
  }

  /**
   * The least {@code 1 - (used + r)/initial} over a group whose use is at most {@code maxUsed} and
   * initial amount at least {@code minInitial}; never below 0, as a fitting offer has room for r.
   */
  static double packTerm(long r, long maxUsed, long minInitial) {
    if (minInitial <= 0) {
      return 0.0; // some offer skips this dimension
    }
    double t = 1.0 - (double) (maxUsed + r) / (double) minInitial;
    return Math.max(t, 0.0);
  }

  /** The least {@code (used + r)/initial} over a group: least use over the largest initial. */
  static double spreadTerm(long r, long minUsed, long minInitial, long maxInitial) {
    if (minInitial <= 0) {
      return 0.0; // some offer skips this dimension
    }
    return (double) (minUsed + r) / (double) maxInitial;
  }

  @Override
  public String toString() {
    return label.toLowerCase(Locale.ROOT);
  }
}
