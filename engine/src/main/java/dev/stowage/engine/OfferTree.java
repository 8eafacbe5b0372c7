package dev.stowage.engine;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The fast matcher's index: a k-d tree over offers' current availability. Internal nodes split
 * space at a fixed plane (dimension and value, chosen at build time at a sampled median); leaves
 * hold buckets of offers. Every node keeps live aggregates of what lies below it: maximum and
 * minimum availability per dimension, the ranges of initial availability and of use so far for cpu
 * and memory, a bit mask of attribute classes, and the lowest offer index.
 *
 * <p>A search walks the tree depth first, better child first, and skips a node when a request
 * exceeds the node's maximum (nothing below can fit), when no attribute class below satisfies the
 * constraints, or when the scorer's lower bound for the node cannot beat the best offer found so
 * far under the lower-index tie rule. Placing a task changes one offer: it moves to the leaf whose
 * region now holds it (so the tree stays as tight in pack mode as at build time), crowded leaves
 * split, and the aggregates on the affected paths are recomputed.
 *
 * <p>Layout: what a search reads of a node fits in 64 bytes ({@code hot}: maxima and reciprocal
 * minima as floats rounded outwards, so every test on them is conservative, the class mask, the
 * lowest offer, the children), and siblings are adjacent, so a visit reads both children from 128
 * consecutive bytes. The exact aggregates live apart ({@code exact}) for updates and for the
 * scorers other than tightest fit. Offers are renumbered into "slots" in build order, so a leaf's
 * offers start out adjacent in the availability arrays.
 */
final class OfferTree {
  /** Offers per leaf at build time: small enough for tight bounds, large enough to amortise. */
  static final int LEAF_SIZE = 12;

  /** A leaf that grows past this (offers moving into its region) is split. */
  static final int LEAF_SPLIT = 3 * LEAF_SIZE;

  // Hot node layout: 16 ints.
  private static final int HOT = 16;
  private static final int MAX_F = 0; // float bits, rounded up
  private static final int INV_MIN_F = 4; // float bits of 1/min, rounded up; +inf where min is 0
  private static final int MASK_LO = 8;
  private static final int MASK_HI = 9;
  private static final int MIN_OFFER = 10;
  private static final int LEFT = 11; // the right child is LEFT + 1; -1 for a leaf

  // Exact node layout, at the offsets Scorer.lowerBound reads.
  private static final int EXACT = Scorer.GROUP_SIZE;
  private static final int MAX_AVAIL = Scorer.MAX_AVAIL;
  private static final int MIN_AVAIL = Scorer.MIN_AVAIL;
  private static final int MIN_INITIAL = Scorer.MIN_INITIAL;
  private static final int MAX_INITIAL = Scorer.MAX_INITIAL;
  private static final int MIN_USED = Scorer.MIN_USED;
  private static final int MAX_USED = Scorer.MAX_USED;

  /**
   * Subtracted from the tightest-fit bound, which uses float reciprocals instead of the score's
   * divisions: the score is a sum of four terms in [0, 1] with a rounding error far below 1e-14,
   * and the reciprocals are rounded up, so the bound minus this stays below every score it bounds.
   */
  private static final double MARGIN = 1e-9;

  /** A split plane "dimension" that routes by slot number: for offers with equal availability. */
  private static final int BY_SLOT = 4;

  private static final long EMPTY_MIN = Long.MAX_VALUE;
  private static final long EMPTY_MAX = -1;

  // Per slot: four longs each for availability.
  private final long[] avail;
  private final long[] initial;
  private final int[] classOfSlot;
  private final int[] offerOfSlot;
  private final int[] slotOfOffer;
  private final int[] leafOf;
  private final int[] positionInLeaf;

  // Per node; arrays grow when leaves split.
  private int[] hot;
  private long[] exact;
  private int[] parent;
  private int[] planeDim;
  private long[] planeValue;
  private int[][] members;
  private int[] memberCount;
  private int nodeCount;
  private final int root;

  // Search scratch, reused across searches (a tree is confined to one thread).
  private int[] stackNode;
  private double[] stackBound;
  private int depth;

  OfferTree(long[] initialAvail, int[] classOfOffer) {
    int m = classOfOffer.length;
    int capacity = Math.max(4, 4 * (m / LEAF_SIZE + 1));
    hot = new int[capacity * HOT];
    exact = new long[capacity * EXACT];
    parent = new int[capacity];
    planeDim = new int[capacity];
    planeValue = new long[capacity];
    members = new int[capacity][];
    memberCount = new int[capacity];

    int[] order = new int[m];
    for (int o = 0; o < m; o++) {
      order[o] = o;
    }
    // Build on input indexes, then renumber into slots in leaf order.
    root = newNode(-1);
    // Build on a copy of the availability kept in 'order' order, so that every pass over a range
    // reads memory sequentially; 'order' says which offer each position holds.
    long[] byPosition = initialAvail.clone();
    build(root, order, 0, m, 1, byPosition);
    this.offerOfSlot = order;
    this.slotOfOffer = new int[m];
    this.avail = new long[m * 4];
    this.initial = new long[m * 4];
    this.classOfSlot = new int[m];
    this.leafOf = new int[m];
    this.positionInLeaf = new int[m];
    for (int s = 0; s < m; s++) {
      int o = order[s];
      slotOfOffer[o] = s;
      System.arraycopy(initialAvail, o * 4, avail, s * 4, 4);
      System.arraycopy(initialAvail, o * 4, initial, s * 4, 4);
      classOfSlot[s] = classOfOffer[o];
    }
    for (int node = 0; node < nodeCount; node++) {
      int[] bucket = members[node];
      if (bucket != null) {
        for (int k = 0; k < memberCount[node]; k++) {
          int slot = slotOfOffer[bucket[k]];
          bucket[k] = slot;
          leafOf[slot] = node;
          positionInLeaf[slot] = k;
        }
      }
    }
    refreshAll(root);
    stackNode = new int[2 * depth + 4];
    stackBound = new double[2 * depth + 4];
  }

  private int newNode(int up) {
    if (nodeCount == parent.length) {
      int n = parent.length * 2;
      hot = Arrays.copyOf(hot, n * HOT);
      exact = Arrays.copyOf(exact, n * EXACT);
      parent = Arrays.copyOf(parent, n);
      planeDim = Arrays.copyOf(planeDim, n);
      planeValue = Arrays.copyOf(planeValue, n);
      members = Arrays.copyOf(members, n);
      memberCount = Arrays.copyOf(memberCount, n);
    }
    int node = nodeCount++;
    parent[node] = up;
    hot[node * HOT + LEFT] = -1;
    return node;
  }

  /** Two adjacent nodes under {@code up}; returns the first (the left one). */
  private int newChildren(int up) {
    int l = newNode(up);
    newNode(up);
    hot[up * HOT + LEFT] = l;
    return l;
  }

  private int left(int node) {
    return hot[node * HOT + LEFT];
  }

  /**
   * Builds the subtree at {@code node} for positions [lo, hi): {@code order} holds the offers'
   * input indexes and {@code values} their availability, four longs per position.
   */
  private void build(int node, int[] order, int lo, int hi, int level, long[] values) {
    depth = Math.max(depth, level);
    if (hi - lo > LEAF_SIZE) {
      long[] box = box(lo, hi, values);
      int dim = widestDimension(box);
      int mid;
      if (dim >= 0) {
        long value = sampledMedian(lo, hi, values, dim);
        if (value == box[dim]) {
          value++; // all equal to the minimum go left; something is greater, so right is not empty
        }
        mid = partition(order, lo, hi, values, dim, value);
        planeDim[node] = dim;
        planeValue[node] = value;
      } else {
        // Identical offers (a fresh cluster of one node type): split by slot, which at build time
        // is the final position in 'order', so the halves need no reordering.
        mid = (lo + hi) >>> 1;
        planeDim[node] = BY_SLOT;
        planeValue[node] = mid;
      }
      int l = newChildren(node);
      build(l, order, lo, mid, level + 1, values);
      build(l + 1, order, mid, hi, level + 1, values);
      return;
    }
    int[] bucket = new int[Math.max(LEAF_SPLIT + 1, hi - lo)];
    System.arraycopy(order, lo, bucket, 0, hi - lo);
    members[node] = bucket;
    memberCount[node] = hi - lo;
  }

  /**
   * The dimension whose spread in {@code box} is widest relative to its magnitude (scores are
   * ratios, so a 2x range matters alike in any unit), or -1 when every dimension is flat.
   */
  private static int widestDimension(long[] box) {
    int dim = -1;
    double widest = 0;
    for (int d = 0; d < 4; d++) {
      long min = box[d];
      long max = box[4 + d];
      if (max > min) {
        double spread = (double) (max - min) / (double) (max + 1);
        if (spread > widest) {
          widest = spread;
          dim = d;
        }
      }
    }
    return dim;
  }

  /** The median of up to 31 evenly spaced values: balanced enough, at no cost of a selection. */
  private static long sampledMedian(int lo, int hi, long[] values, int dim) {
    int n = Math.min(31, hi - lo);
    long[] sample = new long[n];
    for (int i = 0; i < n; i++) {
      sample[i] = values[(lo + (int) ((long) i * (hi - lo) / n)) * 4 + dim];
    }
    Arrays.sort(sample);
    return sample[n / 2];
  }

  /** The bounding box of positions [lo, hi) of {@code values}: four minima, then four maxima. */
  private static long[] box(int lo, int hi, long[] values) {
    long min0 = Long.MAX_VALUE, min1 = Long.MAX_VALUE, min2 = Long.MAX_VALUE, min3 = Long.MAX_VALUE;
    long max0 = -1, max1 = -1, max2 = -1, max3 = -1;
    for (int b = lo * 4, end = hi * 4; b < end; b += 4) {
      long v0 = values[b], v1 = values[b + 1], v2 = values[b + 2], v3 = values[b + 3];
      min0 = Math.min(min0, v0);
      max0 = Math.max(max0, v0);
      min1 = Math.min(min1, v1);
      max1 = Math.max(max1, v1);
      min2 = Math.min(min2, v2);
      max2 = Math.max(max2, v2);
      min3 = Math.min(min3, v3);
      max3 = Math.max(max3, v3);
    }
    return new long[] {min0, min1, min2, min3, max0, max1, max2, max3};
  }

  /**
   * Moves positions below {@code value} in {@code dim} to the front, in {@code order} and in {@code
   * values} alike, and returns the cut.
   */
  private static int partition(int[] order, int lo, int hi, long[] values, int dim, long value) {
    // Branch-free (the comparison is a coin flip at every level): every position is swapped with
    // the cut, which advances only past smaller values.
    int i = lo;
    for (int j = lo; j < hi; j++) {
      int a = i * 4;
      int b = j * 4;
      long below = (values[b + dim] - value) >>> 63; // 1 when smaller: amounts are non-negative
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
      long v0 = values[a], v1 = values[a + 1], v2 = values[a + 2], v3 = values[a + 3];
      values[a] = values[b];
      values[a + 1] = values[b + 1];
      values[a + 2] = values[b + 2];
      values[a + 3] = values[b + 3];
      values[b] = v0;
      values[b + 1] = v1;
      values[b + 2] = v2;
      values[b + 3] = v3;
      i += (int) below;
    }
    return i;
  }

  private void refreshAll(int node) {
    int l = left(node);
    if (l < 0) {
      refreshLeaf(node);
      return;
    }
    refreshAll(l);
    refreshAll(l + 1);
    combine(node);
  }

  private void refreshLeaf(int node) {
    long min0 = EMPTY_MIN, min1 = EMPTY_MIN, min2 = EMPTY_MIN, min3 = EMPTY_MIN;
    long max0 = EMPTY_MAX, max1 = EMPTY_MAX, max2 = EMPTY_MAX, max3 = EMPTY_MAX;
    long imin0 = EMPTY_MIN, imin1 = EMPTY_MIN, imax0 = EMPTY_MAX, imax1 = EMPTY_MAX;
    long umin0 = EMPTY_MIN, umin1 = EMPTY_MIN, umax0 = EMPTY_MAX, umax1 = EMPTY_MAX;
    long mask = 0;
    int lowest = Integer.MAX_VALUE;
    final long[] av = avail;
    final long[] init = initial;
    int[] bucket = members[node];
    for (int k = 0, n = memberCount[node]; k < n; k++) {
      int s = bucket[k];
      int b = s * 4;
      long a0 = av[b], a1 = av[b + 1], a2 = av[b + 2], a3 = av[b + 3];
      min0 = Math.min(min0, a0);
      max0 = Math.max(max0, a0);
      min1 = Math.min(min1, a1);
      max1 = Math.max(max1, a1);
      min2 = Math.min(min2, a2);
      max2 = Math.max(max2, a2);
      min3 = Math.min(min3, a3);
      max3 = Math.max(max3, a3);
      imin0 = Math.min(imin0, init[b]);
      imax0 = Math.max(imax0, init[b]);
      imin1 = Math.min(imin1, init[b + 1]);
      imax1 = Math.max(imax1, init[b + 1]);
      long u0 = init[b] - a0, u1 = init[b + 1] - a1;
      umin0 = Math.min(umin0, u0);
      umax0 = Math.max(umax0, u0);
      umin1 = Math.min(umin1, u1);
      umax1 = Math.max(umax1, u1);
      mask |= 1L << (classOfSlot[s] & 63);
      lowest = Math.min(lowest, offerOfSlot[s]);
    }
    final long[] x = exact;
    int eb = node * EXACT;
    x[eb + MAX_AVAIL] = max0;
    x[eb + MAX_AVAIL + 1] = max1;
    x[eb + MAX_AVAIL + 2] = max2;
    x[eb + MAX_AVAIL + 3] = max3;
    x[eb + MIN_AVAIL] = min0;
    x[eb + MIN_AVAIL + 1] = min1;
    x[eb + MIN_AVAIL + 2] = min2;
    x[eb + MIN_AVAIL + 3] = min3;
    x[eb + MIN_INITIAL] = imin0;
    x[eb + MIN_INITIAL + 1] = imin1;
    x[eb + MAX_INITIAL] = imax0;
    x[eb + MAX_INITIAL + 1] = imax1;
    x[eb + MIN_USED] = umin0;
    x[eb + MIN_USED + 1] = umin1;
    x[eb + MAX_USED] = umax0;
    x[eb + MAX_USED + 1] = umax1;
    final int[] h = hot;
    int hb = node * HOT;
    for (int d = 0; d < 4; d++) {
      h[hb + MAX_F + d] = Float.floatToRawIntBits(roundUp(x[eb + MAX_AVAIL + d]));
      h[hb + INV_MIN_F + d] = Float.floatToRawIntBits(inverseRoundedUp(x[eb + MIN_AVAIL + d]));
    }
    h[hb + MASK_LO] = (int) mask;
    h[hb + MASK_HI] = (int) (mask >>> 32);
    h[hb + MIN_OFFER] = lowest;
  }

  private void combine(int node) {
    final long[] x = exact;
    final int[] h = hot;
    int l = left(node);
    int eb = node * EXACT;
    int lb = l * EXACT;
    int rb = lb + EXACT;
    for (int d = 0; d < 4; d++) {
      x[eb + MAX_AVAIL + d] = Math.max(x[lb + MAX_AVAIL + d], x[rb + MAX_AVAIL + d]);
      x[eb + MIN_AVAIL + d] = Math.min(x[lb + MIN_AVAIL + d], x[rb + MIN_AVAIL + d]);
    }
    for (int d = 0; d < 2; d++) {
      x[eb + MIN_INITIAL + d] = Math.min(x[lb + MIN_INITIAL + d], x[rb + MIN_INITIAL + d]);
      x[eb + MAX_INITIAL + d] = Math.max(x[lb + MAX_INITIAL + d], x[rb + MAX_INITIAL + d]);
      x[eb + MIN_USED + d] = Math.min(x[lb + MIN_USED + d], x[rb + MIN_USED + d]);
      x[eb + MAX_USED + d] = Math.max(x[lb + MAX_USED + d], x[rb + MAX_USED + d]);
    }
    int hb = node * HOT;
    int hl = l * HOT;
    int hr = hl + HOT;
    for (int d = 0; d < 4; d++) {
      h[hb + MAX_F + d] = Float.floatToRawIntBits(roundUp(x[eb + MAX_AVAIL + d]));
      // The reciprocal of the smaller minimum is the larger reciprocal.
      float il = Float.intBitsToFloat(h[hl + INV_MIN_F + d]);
      float ir = Float.intBitsToFloat(h[hr + INV_MIN_F + d]);
      h[hb + INV_MIN_F + d] = Float.floatToRawIntBits(Math.max(il, ir));
    }
    h[hb + MASK_LO] = h[hl + MASK_LO] | h[hr + MASK_LO];
    h[hb + MASK_HI] = h[hl + MASK_HI] | h[hr + MASK_HI];
    h[hb + MIN_OFFER] = Math.min(h[hl + MIN_OFFER], h[hr + MIN_OFFER]);
  }

  /** The least float at or above {@code v} (amounts are in [-1, 2^53], exact as doubles). */
  static float roundUp(long v) {
    float f = (float) v;
    return (double) f < (double) v ? Math.nextUp(f) : f;
  }

  /** The greatest float at or below {@code v}. */
  static float roundDown(long v) {
    float f = (float) v;
    return (double) f > (double) v ? Math.nextDown(f) : f;
  }

  /** A float at or above 1/min (up to double rounding, which the margin covers); +inf for 0. */
  static float inverseRoundedUp(long min) {
    if (min <= 0) {
      return Float.POSITIVE_INFINITY;
    }
    double x = 1.0 / (double) min;
    float f = (float) x;
    return f < x ? Math.nextUp(f) : f;
  }

  private void refreshUp(int node) {
    for (int n = parent[node]; n >= 0; n = parent[n]) {
      combine(n);
    }
  }

  /** Consume mode: the offer is gone. */
  void take(int offer) {
    int slot = slotOfOffer[offer];
    int leaf = leafOf[slot];
    removeFromLeaf(leaf, slot);
    refreshLeaf(leaf);
    refreshUp(leaf);
  }

  /** Pack mode: the offer hosts a task with these requests; it moves to its new region. */
  void subtract(int offer, long r0, long r1, long r2, long r3) {
    int slot = slotOfOffer[offer];
    int b = slot * 4;
    avail[b] -= r0;
    avail[b + 1] -= r1;
    avail[b + 2] -= r2;
    avail[b + 3] -= r3;
    int from = leafOf[slot];
    int to = leafFor(slot);
    if (to != from) {
      removeFromLeaf(from, slot);
      refreshLeaf(from);
      refreshUp(from);
      addToLeaf(to, slot); // may split 'to': refresh wherever the offer landed
    }
    int leaf = leafOf[slot];
    refreshLeaf(leaf);
    refreshUp(leaf);
  }

  private int leafFor(int slot) {
    int node = root;
    int b = slot * 4;
    for (int l = left(node); l >= 0; l = left(node)) {
      int dim = planeDim[node];
      long key = dim == BY_SLOT ? slot : avail[b + dim];
      node = key < planeValue[node] ? l : l + 1;
    }
    return node;
  }

  private void removeFromLeaf(int leaf, int slot) {
    int[] bucket = members[leaf];
    int last = --memberCount[leaf];
    int pos = positionInLeaf[slot];
    int moved = bucket[last];
    bucket[pos] = moved;
    positionInLeaf[moved] = pos;
    leafOf[slot] = -1;
  }

  private void addToLeaf(int leaf, int slot) {
    int n = memberCount[leaf];
    if (n == members[leaf].length) {
      members[leaf] = Arrays.copyOf(members[leaf], n * 2);
    }
    members[leaf][n] = slot;
    leafOf[slot] = leaf;
    positionInLeaf[slot] = n;
    memberCount[leaf] = n + 1;
    if (n + 1 > LEAF_SPLIT) {
      splitLeaf(leaf);
    }
  }

  /** Turns a crowded leaf into an internal node with two leaves. */
  private void splitLeaf(int leaf) {
    int n = memberCount[leaf];
    int[] order = Arrays.copyOf(members[leaf], n);
    long[] byPosition = new long[n * 4];
    for (int i = 0; i < n; i++) {
      System.arraycopy(avail, order[i] * 4, byPosition, i * 4, 4);
    }
    long[] box = box(0, n, byPosition);
    int dim = widestDimension(box);
    int mid;
    if (dim >= 0) {
      long value = sampledMedian(0, n, byPosition, dim);
      if (value == box[dim]) {
        value++;
      }
      mid = partition(order, 0, n, byPosition, dim, value);
      planeDim[leaf] = dim;
      planeValue[leaf] = value;
    } else {
      Arrays.sort(order); // identical offers: split by slot
      mid = n / 2;
      planeDim[leaf] = BY_SLOT;
      planeValue[leaf] = order[mid];
    }
    int level = 1;
    for (int p = parent[leaf]; p >= 0; p = parent[p]) {
      level++;
    }
    int l = newChildren(leaf);
    fillLeaf(l, order, 0, mid);
    fillLeaf(l + 1, order, mid, n);
    members[leaf] = null;
    memberCount[leaf] = 0;
    refreshLeaf(l);
    refreshLeaf(l + 1);
    combine(leaf);
    if (level + 1 > depth) {
      depth = level + 1;
      stackNode = new int[2 * depth + 4];
      stackBound = new double[2 * depth + 4];
    }
  }

  private void fillLeaf(int leaf, int[] order, int lo, int hi) {
    int[] bucket = new int[Math.max(LEAF_SPLIT + 1, (hi - lo) * 2)];
    for (int i = lo; i < hi; i++) {
      int slot = order[i];
      bucket[i - lo] = slot;
      leafOf[slot] = leaf;
      positionInLeaf[slot] = i - lo;
    }
    members[leaf] = bucket;
    memberCount[leaf] = hi - lo;
  }

  /** Current availability per offer in input order; taken offers keep their last amounts. */
  long[] availability() {
    long[] out = new long[avail.length];
    for (int s = 0; s < offerOfSlot.length; s++) {
      System.arraycopy(avail, s * 4, out, offerOfSlot[s] * 4, 4);
    }
    return out;
  }

  /**
   * The input index of the best fitting offer for these requests, or -1 if none fits.
   *
   * @param allowed which attribute classes satisfy the task's constraints
   * @param mask the bits of those classes, folded into 64
   */
  int best(long r0, long r1, long r2, long r3, boolean[] allowed, long mask, Scorer scorer) {
    final int[] h = hot;
    final long[] x = exact;
    final long[] av = avail;
    final long[] init = initial;
    final int[] cls = classOfSlot;
    final int[] offerOf = offerOfSlot;
    final int[] stack = stackNode;
    final double[] bounds = stackBound;
    final boolean tight = scorer == Scorer.TIGHTEST_FIT;
    // Requests rounded down to floats, for the conservative test against rounded-up maxima.
    final float f0 = roundDown(r0), f1 = roundDown(r1), f2 = roundDown(r2), f3 = roundDown(r3);
    final int maskLo = (int) mask;
    final int maskHi = (int) (mask >>> 32);
    final double q0 = r0, q1 = r1, q2 = r2, q3 = r3;
    double bestScore = Double.POSITIVE_INFINITY;
    int bestOffer = Integer.MAX_VALUE;

    if (!feasible(h, root * HOT, f0, f1, f2, f3, maskLo, maskHi)) {
      return -1;
    }
    int top = 0;
    stack[top] = root;
    bounds[top++] = 0.0;
    while (top > 0) {
      int node = stack[--top];
      double b = bounds[top];
      int hb = node * HOT;
      if (b > bestScore || (b == bestScore && h[hb + MIN_OFFER] > bestOffer)) {
        continue;
      }
      int l = h[hb + LEFT];
      if (l < 0) {
        int[] bucket = members[node];
        for (int k = 0, n = memberCount[node]; k < n; k++) {
          int s = bucket[k];
          int base = s * 4;
          if (av[base] < r0
              || av[base + 1] < r1
              || av[base + 2] < r2
              || av[base + 3] < r3
              || !allowed[cls[s]]) {
            continue;
          }
          double score = scorer.score(r0, r1, r2, r3, av, init, base);
          if (score < bestScore || (score == bestScore && offerOf[s] < bestOffer)) {
            bestScore = score;
            bestOffer = offerOf[s];
          }
        }
        continue;
      }
      int r = l + 1;
      int lh = l * HOT;
      int rh = lh + HOT;
      double lBound = 0;
      double rBound = 0;
      boolean lOk = feasible(h, lh, f0, f1, f2, f3, maskLo, maskHi);
      if (lOk) {
        lBound =
            tight
                ? tightBound(h, lh, q0, q1, q2, q3)
                : scorer.lowerBound(r0, r1, r2, r3, x, l * EXACT);
        lOk = lBound < bestScore || (lBound == bestScore && h[lh + MIN_OFFER] < bestOffer);
      }
      boolean rOk = feasible(h, rh, f0, f1, f2, f3, maskLo, maskHi);
      if (rOk) {
        rBound =
            tight
                ? tightBound(h, rh, q0, q1, q2, q3)
                : scorer.lowerBound(r0, r1, r2, r3, x, r * EXACT);
        rOk = rBound < bestScore || (rBound == bestScore && h[rh + MIN_OFFER] < bestOffer);
      }
      // Push the worse child first so the better one is searched first and tightens the bound.
      if (lOk && rOk) {
        boolean leftFirst = lBound <= rBound;
        stack[top] = leftFirst ? r : l;
        bounds[top++] = leftFirst ? rBound : lBound;
        stack[top] = leftFirst ? l : r;
        bounds[top++] = leftFirst ? lBound : rBound;
      } else if (lOk) {
        stack[top] = l;
        bounds[top++] = lBound;
      } else if (rOk) {
        stack[top] = r;
        bounds[top++] = rBound;
      }
    }
    return bestOffer == Integer.MAX_VALUE ? -1 : bestOffer;
  }

  /** False only when no offer below the node can fit: some request exceeds the maximum. */
  private static boolean feasible(
      int[] h, int hb, float f0, float f1, float f2, float f3, int maskLo, int maskHi) {
    return (Float.intBitsToFloat(h[hb + MAX_F]) >= f0)
        & (Float.intBitsToFloat(h[hb + MAX_F + 1]) >= f1)
        & (Float.intBitsToFloat(h[hb + MAX_F + 2]) >= f2)
        & (Float.intBitsToFloat(h[hb + MAX_F + 3]) >= f3)
        & (((h[hb + MASK_LO] & maskLo) | (h[hb + MASK_HI] & maskHi)) != 0);
  }

  /**
   * The tightest-fit lower bound: per dimension {@code 1 - r/min}, clamped at 0 because fitting
   * offers have at least r, or, where r is 0, 1 unless some offer below has none of it.
   */
  private static double tightBound(int[] h, int hb, double q0, double q1, double q2, double q3) {
    return tightTerm(q0, Float.intBitsToFloat(h[hb + INV_MIN_F]))
        + tightTerm(q1, Float.intBitsToFloat(h[hb + INV_MIN_F + 1]))
        + tightTerm(q2, Float.intBitsToFloat(h[hb + INV_MIN_F + 2]))
        + tightTerm(q3, Float.intBitsToFloat(h[hb + INV_MIN_F + 3]))
        - MARGIN;
  }

  private static double tightTerm(double r, float inverseMin) {
    if (r > 0) {
      return Math.max(0.0, 1.0 - r * inverseMin);
    }
    return inverseMin < Float.POSITIVE_INFINITY ? 1.0 : 0.0;
  }

  /** Interns attribute maps into dense class ids, in order of first appearance. */
  static int[] classesOf(List<Offer> offers, Map<OfferClass, Integer> classIds) {
    int[] out = new int[offers.size()];
    for (int o = 0; o < out.length; o++) {
      Offer offer = offers.get(o);
      out[o] =
          classIds.computeIfAbsent(
              new OfferClass(offer.attributes(), offer.taints()), k -> classIds.size());
    }
    return out;
  }

  /** What decides whether a task may use an offer at all, resources aside. */
  record OfferClass(Map<String, String> attributes, List<Taint> taints) {}
}
