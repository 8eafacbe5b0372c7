package dev.stowage.engine;

import java.util.List;
import java.util.Map;

/**
 * The fast matcher's index: offers in struct-of-arrays form, ordered into a binary tree whose top
 * levels separate attribute classes and whose lower levels are k-d splits on availability. Every
 * node keeps the live minimum and maximum availability per dimension, the static range of initial
 * availability, a bit mask of the attribute classes below it, and the lowest offer index below it.
 *
 * <p>A search walks the tree depth first, nearer child first, and skips a node when some request
 * exceeds the node's maximum (no offer below can fit), when no attribute class below satisfies the
 * constraints, or when the scorer's lower bound for the node cannot beat the best offer found so
 * far (taking the lower-index tie rule into account). Placing a task updates one leaf and the
 * aggregates on its path to the root, so the tree stays exact in both modes.
 */
final class OfferTree {
  /** Offers per leaf: small enough that bounds prune well, large enough to amortise a node visit. */
  static final int LEAF_SIZE = 8;

  private static final long EMPTY_MIN = Long.MAX_VALUE;
  private static final long EMPTY_MAX = -1;

  // Per slot (offers in tree order).
  private final long[] avail;
  private final long[] initial;
  private final int[] classOfSlot;
  private final int[] offerOfSlot;
  private final int[] leafOfSlot;

  // Per node.
  private final long[] minAvail;
  private final long[] maxAvail;
  private final long[] minInitial;
  private final long[] maxInitial;
  private final long[] classMask;
  private final int[] minOffer;
  private final int[] left;
  private final int[] right;
  private final int[] parent;
  private final int[] from;
  private final int[] to;
  private int nodeCount;
  private final int root;

  // Search scratch, reused across searches (the tree is confined to one thread).
  private final int[] stackNode;
  private final double[] stackBound;

  /**
   * @param initial four longs per offer, in input order
   * @param classOfOffer the attribute class of each offer
   */
  OfferTree(long[] initial, int[] classOfOffer, int classCount) {
    int m = classOfOffer.length;
    this.avail = new long[m * 4];
    this.initial = new long[m * 4];
    this.classOfSlot = new int[m];
    this.offerOfSlot = new int[m];
    this.leafOfSlot = new int[m];
    int capacity = Math.max(1, 2 * m);
    minAvail = new long[capacity * 4];
    maxAvail = new long[capacity * 4];
    minInitial = new long[capacity * 4];
    maxInitial = new long[capacity * 4];
    classMask = new long[capacity];
    minOffer = new int[capacity];
    left = new int[capacity];
    right = new int[capacity];
    parent = new int[capacity];
    from = new int[capacity];
    to = new int[capacity];

    // Counting sort by attribute class, stable so each class keeps input order.
    int[] start = new int[classCount + 1];
    for (int c : classOfOffer) {
      start[c + 1]++;
    }
    for (int c = 0; c < classCount; c++) {
      start[c + 1] += start[c];
    }
    for (int o = 0; o < m; o++) {
      offerOfSlot[start[classOfOffer[o]]++] = o;
    }
    long[] span = globalSpan(initial, m);
    int[] scratch = offerOfSlot;
    this.root = m == 0 ? -1 : build(0, m, -1, classOfOffer, initial, span, scratch);
    for (int s = 0; s < m; s++) {
      int o = offerOfSlot[s];
      classOfSlot[s] = classOfOffer[o];
      System.arraycopy(initial, o * 4, avail, s * 4, 4);
      System.arraycopy(initial, o * 4, this.initial, s * 4, 4);
    }
    if (root >= 0) {
      computeStatic(root);
    }
    int depth = depth(root);
    stackNode = new int[2 * depth + 4];
    stackBound = new double[2 * depth + 4];
  }

  private static long[] globalSpan(long[] initial, int m) {
    long[] span = new long[4];
    for (int d = 0; d < 4; d++) {
      long lo = Long.MAX_VALUE;
      long hi = Long.MIN_VALUE;
      for (int o = 0; o < m; o++) {
        long v = initial[o * 4 + d];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      span[d] = Math.max(1, hi - lo);
    }
    return span;
  }

  private int build(
      int lo, int hi, int up, int[] classOfOffer, long[] init, long[] span, int[] order) {
    int node = nodeCount++;
    parent[node] = up;
    from[node] = lo;
    to[node] = hi;
    if (hi - lo <= LEAF_SIZE) {
      left[node] = -1;
      right[node] = -1;
      for (int s = lo; s < hi; s++) {
        leafOfSlot[s] = node;
      }
      return node;
    }
    int mid;
    int firstClass = classOfOffer[order[lo]];
    int lastClass = classOfOffer[order[hi - 1]];
    if (firstClass != lastClass) {
      mid = classBoundaryNear(lo, hi, classOfOffer, order);
    } else {
      int dim = widestDimension(lo, hi, init, span, order);
      mid = (lo + hi) >>> 1;
      Select.nth(order, lo, hi, mid, init, dim);
    }
    left[node] = build(lo, mid, node, classOfOffer, init, span, order);
    right[node] = build(mid, hi, node, classOfOffer, init, span, order);
    return node;
  }

  /** The class boundary closest to the middle of [lo, hi); the range holds at least two classes. */
  private static int classBoundaryNear(int lo, int hi, int[] classOfOffer, int[] order) {
    int mid = (lo + hi) >>> 1;
    for (int step = 0; ; step++) {
      int down = mid - step;
      if (down > lo && classOfOffer[order[down - 1]] != classOfOffer[order[down]]) {
        return down;
      }
      int upPos = mid + step;
      if (upPos < hi && upPos > lo && classOfOffer[order[upPos - 1]] != classOfOffer[order[upPos]]) {
        return upPos;
      }
    }
  }

  /** The dimension whose values in [lo, hi) spread widest relative to their global spread. */
  private static int widestDimension(int lo, int hi, long[] init, long[] span, int[] order) {
    int best = 0;
    double bestSpread = -1;
    for (int d = 0; d < 4; d++) {
      long min = Long.MAX_VALUE;
      long max = Long.MIN_VALUE;
      for (int s = lo; s < hi; s++) {
        long v = init[order[s] * 4 + d];
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      double spread = (double) (max - min) / (double) span[d];
      if (spread > bestSpread) {
        bestSpread = spread;
        best = d;
      }
    }
    return best;
  }

  private void computeStatic(int node) {
    int nb = node * 4;
    if (left[node] < 0) {
      long mask = 0;
      int lowest = Integer.MAX_VALUE;
      for (int d = 0; d < 4; d++) {
        minInitial[nb + d] = Long.MAX_VALUE;
        maxInitial[nb + d] = Long.MIN_VALUE;
      }
      for (int s = from[node]; s < to[node]; s++) {
        mask |= 1L << (classOfSlot[s] & 63);
        lowest = Math.min(lowest, offerOfSlot[s]);
        for (int d = 0; d < 4; d++) {
          long v = initial[s * 4 + d];
          minInitial[nb + d] = Math.min(minInitial[nb + d], v);
          maxInitial[nb + d] = Math.max(maxInitial[nb + d], v);
        }
      }
      classMask[node] = mask;
      minOffer[node] = lowest;
      refreshLeaf(node);
      return;
    }
    int l = left[node];
    int r = right[node];
    computeStatic(l);
    computeStatic(r);
    classMask[node] = classMask[l] | classMask[r];
    minOffer[node] = Math.min(minOffer[l], minOffer[r]);
    for (int d = 0; d < 4; d++) {
      minInitial[nb + d] = Math.min(minInitial[l * 4 + d], minInitial[r * 4 + d]);
      maxInitial[nb + d] = Math.max(maxInitial[l * 4 + d], maxInitial[r * 4 + d]);
    }
    combine(node);
  }

  private int depth(int node) {
    if (node < 0) {
      return 0;
    }
    return 1 + Math.max(depth(left[node]), depth(right[node]));
  }

  private void refreshLeaf(int node) {
    int nb = node * 4;
    long min0 = EMPTY_MIN, min1 = EMPTY_MIN, min2 = EMPTY_MIN, min3 = EMPTY_MIN;
    long max0 = EMPTY_MAX, max1 = EMPTY_MAX, max2 = EMPTY_MAX, max3 = EMPTY_MAX;
    final long[] av = avail;
    for (int s = from[node], end = to[node]; s < end; s++) {
      int b = s * 4;
      long a0 = av[b];
      if (a0 < 0) {
        continue; // taken
      }
      long a1 = av[b + 1], a2 = av[b + 2], a3 = av[b + 3];
      min0 = Math.min(min0, a0);
      max0 = Math.max(max0, a0);
      min1 = Math.min(min1, a1);
      max1 = Math.max(max1, a1);
      min2 = Math.min(min2, a2);
      max2 = Math.max(max2, a2);
      min3 = Math.min(min3, a3);
      max3 = Math.max(max3, a3);
    }
    minAvail[nb] = min0;
    minAvail[nb + 1] = min1;
    minAvail[nb + 2] = min2;
    minAvail[nb + 3] = min3;
    maxAvail[nb] = max0;
    maxAvail[nb + 1] = max1;
    maxAvail[nb + 2] = max2;
    maxAvail[nb + 3] = max3;
  }

  private void combine(int node) {
    int nb = node * 4;
    int lb = left[node] * 4;
    int rb = right[node] * 4;
    for (int d = 0; d < 4; d++) {
      minAvail[nb + d] = Math.min(minAvail[lb + d], minAvail[rb + d]);
      maxAvail[nb + d] = Math.max(maxAvail[lb + d], maxAvail[rb + d]);
    }
  }

  private void refreshPath(int slot) {
    int node = leafOfSlot[slot];
    refreshLeaf(node);
    for (node = parent[node]; node >= 0; node = parent[node]) {
      combine(node);
    }
  }

  /** The input index of the offer in {@code slot}. */
  int offerAt(int slot) {
    return offerOfSlot[slot];
  }

  /** Consume mode: the offer in {@code slot} is gone. */
  void take(int slot) {
    int b = slot * 4;
    avail[b] = -1;
    avail[b + 1] = -1;
    avail[b + 2] = -1;
    avail[b + 3] = -1;
    refreshPath(slot);
  }

  /** Pack mode: the offer in {@code slot} hosts a task with these requests. */
  void subtract(int slot, long r0, long r1, long r2, long r3) {
    int b = slot * 4;
    avail[b] -= r0;
    avail[b + 1] -= r1;
    avail[b + 2] -= r2;
    avail[b + 3] -= r3;
    refreshPath(slot);
  }

  /** Availability per offer in input order; taken offers keep their initial amounts. */
  long[] availabilityByOffer() {
    long[] out = new long[avail.length];
    for (int s = 0; s < offerOfSlot.length; s++) {
      int o = offerOfSlot[s];
      if (avail[s * 4] < 0) {
        System.arraycopy(initial, s * 4, out, o * 4, 4);
      } else {
        System.arraycopy(avail, s * 4, out, o * 4, 4);
      }
    }
    return out;
  }

  /**
   * The slot of the best fitting offer for these requests, or -1 if none fits.
   *
   * @param allowed which attribute classes satisfy the task's constraints
   * @param mask the bits of those classes, folded into 64
   */
  int best(long r0, long r1, long r2, long r3, boolean[] allowed, long mask, Scorer scorer) {
    if (root < 0) {
      return -1;
    }
    final long[] maxA = maxAvail;
    final long[] av = avail;
    final long[] init = initial;
    final int[] stack = stackNode;
    final double[] bounds = stackBound;
    double bestScore = Double.POSITIVE_INFINITY;
    int bestOffer = Integer.MAX_VALUE;
    int bestSlot = -1;

    int top = 0;
    if (!feasible(root, r0, r1, r2, r3, mask, maxA)) {
      return -1;
    }
    stack[top] = root;
    bounds[top++] = bound(root, r0, r1, r2, r3, scorer);
    while (top > 0) {
      int node = stack[--top];
      double b = bounds[top];
      if (b > bestScore || (b == bestScore && minOffer[node] > bestOffer)) {
        continue;
      }
      int l = left[node];
      if (l < 0) {
        for (int s = from[node], end = to[node]; s < end; s++) {
          int base = s * 4;
          if (av[base] < r0
              || av[base + 1] < r1
              || av[base + 2] < r2
              || av[base + 3] < r3
              || !allowed[classOfSlot[s]]) {
            continue;
          }
          double score = scorer.score(r0, r1, r2, r3, av, init, base);
          int offer = offerOfSlot[s];
          if (score < bestScore || (score == bestScore && offer < bestOffer)) {
            bestScore = score;
            bestOffer = offer;
            bestSlot = s;
          }
        }
        continue;
      }
      int r = right[node];
      boolean lOk = feasible(l, r0, r1, r2, r3, mask, maxA);
      boolean rOk = feasible(r, r0, r1, r2, r3, mask, maxA);
      double lb = lOk ? bound(l, r0, r1, r2, r3, scorer) : 0;
      double rb = rOk ? bound(r, r0, r1, r2, r3, scorer) : 0;
      lOk = lOk && !(lb > bestScore || (lb == bestScore && minOffer[l] > bestOffer));
      rOk = rOk && !(rb > bestScore || (rb == bestScore && minOffer[r] > bestOffer));
      // Push the worse child first so the better one is searched first and tightens the bound.
      if (lOk && rOk) {
        if (lb <= rb) {
          stack[top] = r;
          bounds[top++] = rb;
          stack[top] = l;
          bounds[top++] = lb;
        } else {
          stack[top] = l;
          bounds[top++] = lb;
          stack[top] = r;
          bounds[top++] = rb;
        }
      } else if (lOk) {
        stack[top] = l;
        bounds[top++] = lb;
      } else if (rOk) {
        stack[top] = r;
        bounds[top++] = rb;
      }
    }
    return bestSlot;
  }

  private boolean feasible(int node, long r0, long r1, long r2, long r3, long mask, long[] maxA) {
    int nb = node * 4;
    return maxA[nb] >= r0
        && maxA[nb + 1] >= r1
        && maxA[nb + 2] >= r2
        && maxA[nb + 3] >= r3
        && (classMask[node] & mask) != 0;
  }

  private double bound(int node, long r0, long r1, long r2, long r3, Scorer scorer) {
    return scorer.lowerBound(
        r0, r1, r2, r3, minAvail, maxAvail, minInitial, maxInitial, node * 4);
  }

  /** Interns attribute maps into dense class ids, in order of first appearance. */
  static int[] classesOf(List<Offer> offers, Map<Map<String, String>, Integer> classIds) {
    int[] out = new int[offers.size()];
    for (int o = 0; o < out.length; o++) {
      out[o] = classIds.computeIfAbsent(offers.get(o).attributes(), k -> classIds.size());
    }
    return out;
  }
}
