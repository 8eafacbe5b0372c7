package dev.stowage.engine;

/**
 * An amount of the four schedulable resources. Every amount is an integer in {@code [0, 2^53]} so
 * that it converts to a {@code double} exactly, which the scoring contract relies on.
 */
public record Resources(long cpuMillis, long memoryMiB, long diskMiB, long gpus) {

  /** The largest amount of any resource: 2^53, the last integer a double holds exactly. */
  public static final long MAX_AMOUNT = 1L << 53;

  /** Dimension names in contract order; also the JSON field names. */
  public static final String[] DIMENSIONS = {"cpuMillis", "memoryMiB", "diskMiB", "gpus"};

  public static final Resources NONE = new Resources(0, 0, 0, 0);

  public Resources {
    check(0, cpuMillis);
    check(1, memoryMiB);
    check(2, diskMiB);
    check(3, gpus);
  }

  private static void check(int dimension, long amount) {
    if (amount < 0 || amount > MAX_AMOUNT) {
      throw new IllegalArgumentException(
          DIMENSIONS[dimension] + " must be an integer in [0, 2^53], got " + amount);
    }
  }

  /** The amount of dimension {@code d} (0 cpuMillis, 1 memoryMiB, 2 diskMiB, 3 gpus). */
  public long get(int d) {
    return switch (d) {
      case 0 -> cpuMillis;
      case 1 -> memoryMiB;
      case 2 -> diskMiB;
      case 3 -> gpus;
      default -> throw new IndexOutOfBoundsException("no resource dimension " + d);
    };
  }
}
