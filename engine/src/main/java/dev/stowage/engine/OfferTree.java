package dev.stowage.engine;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The fast matcher's index: a k-d tree over offers' current availability, in struct-of-arrays
 * form. Internal nodes split space at a fixed plane (dimension and value, chosen at build time at
 * the median); leaves hold buckets of offers. Every node keeps live aggregates of what lies below
 * it: minimum and maximum availability and initial availability per dimension, a bit mask of
 * attribute classes, and the lowest offer index.
 *
 * <p>A search walks the tree depth first, better child first, and skips a node when a request
 * exceeds the node's maximum (nothing below can fit), when no attribute class below satisfies the
 * constraints, or when the scorer's lower bound for the node cannot beat the best offer found so
 * far under the lower-index tie rule. Placing a task changes one offer: it is moved to the leaf
 * whose region now holds it (so the tree stays as tight in pack mode as at build time), crowded
 * leaves are split, and the aggregates on the affected paths are recomputed.
 */
final class OfferTree {
  /** Offers per leaf at build time: small enough for tight bounds, large enough to amortise. */
  static final int LEAF_SIZE = Integer.getInteger("leaf", 8);

  /** A leaf that grows past this (offers moving into its region) is split. */
  static final int LEAF_SPLIT = Integer.getInteger("split", 24);

  private static final long EMPTY_MIN = Long.MAX_VALUE;
  private static final long EMPTY_MAX = -1;

  // Per offer, in input order: four longs each.
  private final long[] avail;
  private final long[] initial;
  private final int[] classOf;
  private final int[] leafOf;
  private final int[] positionInLeaf;

  // Per node; arrays grow when leaves split.
  private long[] minAvail;
  private long[] maxAvail;
  private long[] minInitial;
  private long[] maxInitial;
  private long[] classMask;
  private int[] minOffer;
  private int[] left;
  private int[] right;
  private int[] parent;
  private int[] splitDim;
  private long[] splitValue;
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
    this.avail = initialAvail.clone();
    this.initial = initialAvail.clone();
    this.classOf = classOfOffer.clone();
    this.leafOf = new int[m];
    this.positionInLeaf = new int[m];
    int capacity = Math.max(4, 2 * (m / LEAF_SIZE + 1) * 2);
    minAvail = new long[capacity * 4];
    maxAvail = new long[capacity * 4];
    minInitial = new long[capacity * 4];
    maxInitial = new long[capacity * 4];
    classMask = new long[capacity];
    minOffer = new int[capacity];
    left = new int[capacity];
    right = new int[capacity];
    parent = new int[capacity];
    splitDim = new int[capacity];
    splitValue = new long[capacity];
    members = new int[capacity][];
    memberCount = new int[capacity];

    int[] order = new int[m];
    for (int o = 0; o < m; o++) {
      order[o] = o;
    }
    root = build(order, 0, m, -1, 1);
    refreshAll(root);
    stackNode = new int[2 * depth + 4];
    stackBound = new double[2 * depth + 4];
  }

  private int newNode(int up) {
    if (nodeCount == left.length) {
      int n = left.length * 2;
      minAvail = Arrays.copyOf(minAvail, n * 4);
      maxAvail = Arrays.copyOf(maxAvail, n * 4);
      minInitial = Arrays.copyOf(minInitial, n * 4);
      maxInitial = Arrays.copyOf(maxInitial, n * 4);
      classMask = Arrays.copyOf(classMask, n);
      minOffer = Arrays.copyOf(minOffer, n);
      left = Arrays.copyOf(left, n);
      right = Arrays.copyOf(right, n);
      parent = Arrays.copyOf(parent, n);
      splitDim = Arrays.copyOf(splitDim, n);
      splitValue = Arrays.copyOf(splitValue, n);
      members = Arrays.copyOf(members, n);
      memberCount = Arrays.copyOf(memberCount, n);
    }
    int node = nodeCount++;
    parent[node] = up;
    left[node] = -1;
    right[node] = -1;
    return node;
  }

  /** Builds the subtree for {@code order[lo, hi)}; reorders that range. */
  private int build(int[] order, int lo, int hi, int up, int level) {
    int node = newNode(up);
    depth = Math.max(depth, level);
    if (hi - lo > LEAF_SIZE && split(node, order, lo, hi)) {
      int mid = partition(order, lo, hi, splitDim[node], splitValue[node]);
      int l = build(order, lo, mid, node, level + 1);
      int r = build(order, mid, hi, node, level + 1);
      left[node] = l;
      right[node] = r;
      return node;
    }
    int[] bucket = new int[Math.max(LEAF_SPLIT + 1, hi - lo)];
    for (int i = lo; i < hi; i++) {
      place(node, bucket, i - lo, order[i]);
    }
    members[node] = bucket;
    memberCount[node] = hi - lo;
    return node;
  }

  private void place(int leaf, int[] bucket, int position, int offer) {
    bucket[position] = offer;
    leafOf[offer] = leaf;
    positionInLeaf[offer] = position;
  }

  /**
   * Chooses the split plane of {@code node} for the offers in {@code order[lo, hi)}: the dimension
   * with the widest spread of current availability, at the median value. Offers below the value go
   * left. Returns false when no plane separates the offers (they are all equal).
   */
  private boolean split(int node, int[] order, int lo, int hi) {
    long[] min = new long[4];
    long[] max = new long[4];
    Arrays.fill(min, Long.MAX_VALUE);
    Arrays.fill(max, Long.MIN_VALUE);
    for (int i = lo; i < hi; i++) {
      int b = order[i] * 4;
      for (int d = 0; d < 4; d++) {
        min[d] = Math.min(min[d], avail[b + d]);
        max[d] = Math.max(max[d], avail[b + d]);
      }
    }
    // Spread relative to magnitude: the scores are ratios, so a 2x range matters equally in any
    // dimension whatever its unit.
    int dim = -1;
    double widest = 0;
    for (int d = 0; d < 4; d++) {
      if (max[d] > min[d]) {
        double spread = (double) (max[d] - min[d]) / (double) (max[d] + 1);
        if (spread > widest) {
          widest = spread;
          dim = d;
        }
      }
    }
    if (dim < 0) {
      return false;
    }
    int mid = (lo + hi) >>> 1;
    Select.nth(order, lo, hi, mid, avail, dim);
    long value = avail[order[mid] * 4 + dim];
    if (value == min[dim]) {
      value++; // everything equal to the minimum goes left; something is greater, so right is not empty
    }
    splitDim[node] = dim;
    splitValue[node] = value;
    return true;
  }

  /** Moves offers with availability below {@code value} in {@code dim} to the front; returns the cut. */
  private int partition(int[] order, int lo, int hi, int dim, long value) {
    int i = lo;
    for (int j = lo; j < hi; j++) {
      if (avail[order[j] * 4 + dim] < value) {
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
        i++;
      }
    }
    return i;
  }

  private void refreshAll(int node) {
    if (left[node] < 0) {
      refreshLeaf(node);
      return;
    }
    refreshAll(left[node]);
    refreshAll(right[node]);
    combine(node);
  }

  private void refreshLeaf(int node) {
    int nb = node * 4;
    long min0 = EMPTY_MIN, min1 = EMPTY_MIN, min2 = EMPTY_MIN, min3 = EMPTY_MIN;
    long max0 = EMPTY_MAX, max1 = EMPTY_MAX, max2 = EMPTY_MAX, max3 = EMPTY_MAX;
    long imin0 = EMPTY_MIN, imin1 = EMPTY_MIN, imax0 = EMPTY_MAX, imax1 = EMPTY_MAX;
    long mask = 0;
    int lowest = Integer.MAX_VALUE;
    final long[] av = avail;
    final long[] init = initial;
    int[] bucket = members[node];
    for (int k = 0, n = memberCount[node]; k < n; k++) {
      int o = bucket[k];
      int b = o * 4;
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
      mask |= 1L << (classOf[o] & 63);
      lowest = Math.min(lowest, o);
    }
    minAvail[nb] = min0;
    minAvail[nb + 1] = min1;
    minAvail[nb + 2] = min2;
    minAvail[nb + 3] = min3;
    maxAvail[nb] = max0;
    maxAvail[nb + 1] = max1;
    maxAvail[nb + 2] = max2;
    maxAvail[nb + 3] = max3;
    // Only cpu and memory feed the scorers that read initial availability.
    minInitial[nb] = imin0;
    minInitial[nb + 1] = imin1;
    maxInitial[nb] = imax0;
    maxInitial[nb + 1] = imax1;
    classMask[node] = mask;
    minOffer[node] = lowest;
  }

  private void combine(int node) {
    int nb = node * 4;
    int l = left[node];
    int r = right[node];
    int lb = l * 4;
    int rb = r * 4;
    for (int d = 0; d < 4; d++) {
      minAvail[nb + d] = Math.min(minAvail[lb + d], minAvail[rb + d]);
      maxAvail[nb + d] = Math.max(maxAvail[lb + d], maxAvail[rb + d]);
      minInitial[nb + d] = Math.min(minInitial[lb + d], minInitial[rb + d]);
      maxInitial[nb + d] = Math.max(maxInitial[lb + d], maxInitial[rb + d]);
    }
    classMask[node] = classMask[l] | classMask[r];
    minOffer[node] = Math.min(minOffer[l], minOffer[r]);
  }

  private void refreshUp(int node) {
    for (int n = parent[node]; n >= 0; n = parent[n]) {
      combine(n);
    }
  }

  /** Consume mode: the offer is gone. */
  void take(int offer) {
    int leaf = leafOf[offer];
    removeFromLeaf(leaf, offer);
    refreshLeaf(leaf);
    refreshUp(leaf);
  }

  /** Pack mode: the offer hosts a task with these requests; it moves to its new region. */
  void subtract(int offer, long r0, long r1, long r2, long r3) {
    int b = offer * 4;
    avail[b] -= r0;
    avail[b + 1] -= r1;
    avail[b + 2] -= r2;
    avail[b + 3] -= r3;
    int from = leafOf[offer];
    int to = leafFor(offer);
    if (to != from) {
      removeFromLeaf(from, offer);
      refreshLeaf(from);
      refreshUp(from);
      addToLeaf(to, offer); // may split 'to': refresh wherever the offer landed
    }
    int leaf = leafOf[offer];
    refreshLeaf(leaf);
    refreshUp(leaf);
  }

  private int leafFor(int offer) {
    int node = root;
    int b = offer * 4;
    while (left[node] >= 0) {
      node = avail[b + splitDim[node]] < splitValue[node] ? left[node] : right[node];
    }
    return node;
  }

  private void removeFromLeaf(int leaf, int offer) {
    int[] bucket = members[leaf];
    int last = --memberCount[leaf];
    int pos = positionInLeaf[offer];
    int moved = bucket[last];
    bucket[pos] = moved;
    positionInLeaf[moved] = pos;
    leafOf[offer] = -1;
  }

  private void addToLeaf(int leaf, int offer) {
    int n = memberCount[leaf];
    if (n == members[leaf].length) {
      members[leaf] = Arrays.copyOf(members[leaf], n * 2);
    }
    place(leaf, members[leaf], n, offer);
    memberCount[leaf] = n + 1;
    if (n + 1 > LEAF_SPLIT) {
      splitLeaf(leaf);
    }
  }

  /** Turns a crowded leaf into an internal node with two leaves, if a plane separates its offers. */
  private void splitLeaf(int leaf) {
    int n = memberCount[leaf];
    int[] order = Arrays.copyOf(members[leaf], n);
    if (!split(leaf, order, 0, n)) {
      return; // identical offers: a split cannot help
    }
    int mid = partition(order, 0, n, splitDim[leaf], splitValue[leaf]);
    int level = 1;
    for (int p = parent[leaf]; p >= 0; p = parent[p]) {
      level++;
    }
    int l = newNode(leaf);
    int r = newNode(leaf);
    fillLeaf(l, order, 0, mid);
    fillLeaf(r, order, mid, n);
    left[leaf] = l;
    right[leaf] = r;
    members[leaf] = null;
    memberCount[leaf] = 0;
    refreshLeaf(l);
    refreshLeaf(r);
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
      place(leaf, bucket, i - lo, order[i]);
    }
    members[leaf] = bucket;
    memberCount[leaf] = hi - lo;
  }

  /** Current availability per offer in input order; taken offers keep their last amounts. */
  long[] availability() {
    return avail.clone();
  }

  /**
   * The best fitting offer for these requests, or -1 if none fits.
   *
   * @param allowed which attribute classes satisfy the task's constraints
   * @param mask the bits of those classes, folded into 64
   */
  int best(long r0, long r1, long r2, long r3, boolean[] allowed, long mask, Scorer scorer) {
    final long[] av = avail;
    final long[] init = initial;
    final int[] stack = stackNode;
    final double[] bounds = stackBound;
    double bestScore = Double.POSITIVE_INFINITY;
    int bestOffer = Integer.MAX_VALUE;

    if (!feasible(root, r0, r1, r2, r3, mask)) {
      return -1;
    }
    int top = 0;
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
        int[] bucket = members[node];
        for (int k = 0, n = memberCount[node]; k < n; k++) {
          int o = bucket[k];
          int base = o * 4;
          if (av[base] < r0
              || av[base + 1] < r1
              || av[base + 2] < r2
              || av[base + 3] < r3
              || !allowed[classOf[o]]) {
            continue;
          }
          double score = scorer.score(r0, r1, r2, r3, av, init, base);
          if (score < bestScore || (score == bestScore && o < bestOffer)) {
            bestScore = score;
            bestOffer = o;
          }
        }
        continue;
      }
      int r = right[node];
      boolean lOk = feasible(l, r0, r1, r2, r3, mask);
      boolean rOk = feasible(r, r0, r1, r2, r3, mask);
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
    return bestOffer == Integer.MAX_VALUE ? -1 : bestOffer;
  }

  private boolean feasible(int node, long r0, long r1, long r2, long r3, long mask) {
    int nb = node * 4;
    final long[] maxA = maxAvail;
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
