package dev.stowage.engine;

/** In-place selection (quickselect) of offer indexes by one resource dimension. */
final class Select {
  private Select() {}

  /**
   * Reorders {@code order[lo, hi)} so that position {@code n} holds the element that sorting by
   * {@code values[order[i] * 4 + dim]} would put there, smaller-or-equal ones before it and
   * greater-or-equal ones after.
   */
  static void nth(int[] order, int lo, int hi, int n, long[] values, int dim) {
    int l = lo;
    int r = hi - 1;
    while (r > l) {
      // Median of three as pivot keeps sorted and reverse-sorted inputs linear.
      int m = (l + r) >>> 1;
      long a = key(order, l, values, dim);
      long b = key(order, m, values, dim);
      long c = key(order, r, values, dim);
      long pivot = Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
      int i = l;
      int j = r;
      while (i <= j) {
        while (key(order, i, values, dim) < pivot) {
          i++;
        }
        while (key(order, j, values, dim) > pivot) {
          j--;
        }
        if (i <= j) {
          int t = order[i];
          order[i] = order[j];
          order[j] = t;
          i++;
          j--;
        }
      }
      if (n <= j) {
        r = j;
      } else if (n >= i) {
        l = i;
      } else {
        return;
      }
    }
  }

  private static long key(int[] order, int i, long[] values, int dim) {
    return values[order[i] * 4 + dim];
  }
}
