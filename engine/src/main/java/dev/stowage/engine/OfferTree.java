package dev.stowage.engine;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The fast matcher's index: a k-d tree over offers' current availability. Internal nodes split
 * space at a fixed plane (dimension and value, chosen at build time at the median); leaves hold
 * buckets of offers. Every node keeps live aggregates of what lies below it: maximum and minimum
 * availability per dimension, minimum and maximum initial cpu and memory, a bit mask of attribute
 * classes, and the lowest offer index.
 *
 * <p>A search walks the tree depth first, better child first, and skips a node when a request
 * exceeds the node's maximum (nothing below can fit), when no attribute class below satisfies the
 * constraints, or when the scorer's lower bound for the node cannot beat the best offer found so
 * far under the lower-index tie rule. Placing a task changes one offer: it moves to the leaf whose
 * region now holds it (so the tree stays as tight in pack mode as at build time), crowded leaves
 * split, and the aggregates on the affected paths are recomputed.
 *
 * <p>Layout: a node is 16 consecutive longs in one array, so a visit touches two cache lines.
 * Offers are renumbered into "slots" in build order, so a leaf's offers start out adjacent in the
 * availability arrays.
 */
final class OfferTree {
  /** Offers per leaf at build time: small enough for tight bounds, large enough to amortise. */
  static final int LEAF_SIZE = 12;

  /** A leaf that grows past this (offers moving into its region) is split. */
  static final int LEAF_SPLIT = 36;

  // Node layout; the first twelve longs are what Scorer.lowerBound reads.
  private static final int STRIDE = 16;
  private static final int MAX_AVAIL = Scorer.MAX_AVAIL;
  private static final int MIN_AVAIL = Scorer.MIN_AVAIL;
  private static final int MIN_INITIAL = Scorer.MIN_INITIAL;
  private static final int MAX_INITIAL = Scorer.MAX_INITIAL;
  private static final int MASK = 12;
  private static final int MIN_OFFER = 13;
  private static final int LEFT = 14;
  private static final int RIGHT = 15;

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
  private long[] nodes;
  private int[] parent;
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
    nodes = new long[capacity * STRIDE];
    parent = new int[capacity];
    members = new int[capacity][];
    memberCount = new int[capacity];

    int[] order = new int[m];
    for (int o = 0; o < m; o++) {
      order[o] = o;
    }
    // Build on input indexes, then renumber into slots in leaf order.
    root = build(order, 0, m, -1, 1, initialAvail);
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
      nodes = Arrays.copyOf(nodes, n * STRIDE);
      parent = Arrays.copyOf(parent, n);
      members = Arrays.copyOf(members, n);
      memberCount = Arrays.copyOf(memberCount, n);
    }
    int node = nodeCount++;
    parent[node] = up;
    nodes[node * STRIDE + LEFT] = -1;
    nodes[node * STRIDE + RIGHT] = -1;
    return node;
  }

  private int left(int node) {
    return (int) nodes[node * STRIDE + LEFT];
  }

  private int right(int node) {
    return (int) nodes[node * STRIDE + RIGHT];
  }

  /** Builds the subtree for {@code order[lo, hi)} (input indexes into {@code values}). */
  private int build(int[] order, int lo, int hi, int up, int level, long[] values) {
    int node = newNode(up);
    depth = Math.max(depth, level);
    if (hi - lo > LEAF_SIZE) {
      long[] plane = splitPlane(order, lo, hi, values);
      int mid;
      if (plane != null) {
        mid = partition(order, lo, hi, values, (int) plane[0], plane[1]);
      } else {
        // Identical offers (a fresh cluster of one node type): split by slot, which at build time
        // is the final position in 'order', so the halves need no reordering.
        mid = (lo + hi) >>> 1;
        plane = new long[] {BY_SLOT, mid};
      }
      setPlane(node, (int) plane[0], plane[1]);
      int l = build(order, lo, mid, node, level + 1, values);
      int r = build(order, mid, hi, node, level + 1, values);
      nodes[node * STRIDE + LEFT] = l;
      nodes[node * STRIDE + RIGHT] = r;
      return node;
    }
    int[] bucket = new int[Math.max(LEAF_SPLIT + 1, hi - lo)];
    System.arraycopy(order, lo, bucket, 0, hi - lo);
    members[node] = bucket;
    memberCount[node] = hi - lo;
    return node;
  }

  // Split planes are read only when an offer moves, so they stay out of the node array.
  private int[] planeDim = new int[0];
  private long[] planeValue = new long[0];

  private void setPlane(int node, int dim, long value) {
    if (node >= planeDim.length) {
      planeDim = Arrays.copyOf(planeDim, Math.max(16, parent.length));
      planeValue = Arrays.copyOf(planeValue, Math.max(16, parent.length));
    }
    planeDim[node] = dim;
    planeValue[node] = value;
  }

  /**
   * The split plane for the offers in {@code order[lo, hi)}: the dimension with the widest spread
   * relative to its magnitude (scores are ratios, so a 2x range matters alike in any unit), at the
   * median value; offers below the value go left. Null when their availability is all equal.
   */
  private static long[] splitPlane(int[] order, int lo, int hi, long[] values) {
    int dim = -1;
    double widest = 0;
    long widestMin = 0;
    for (int d = 0; d < 4; d++) {
      long min = Long.MAX_VALUE;
      long max = Long.MIN_VALUE;
      for (int i = lo; i < hi; i++) {
        long v = values[order[i] * 4 + d];
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      if (max > min) {
        double spread = (double) (max - min) / (double) (max + 1);
        if (spread > widest) {
          widest = spread;
          dim = d;
          widestMin = min;
        }
      }
    }
    if (dim < 0) {
      return null;
    }
    int mid = (lo + hi) >>> 1;
    Select.nth(order, lo, hi, mid, values, dim);
    long value = values[order[mid] * 4 + dim];
    if (value == widestMin) {
      value++; // all equal to the minimum go left; something is greater, so right is not empty
    }
    return new long[] {dim, value};
  }

  private static int partition(int[] order, int lo, int hi, long[] values, int dim, long value) {
    int i = lo;
    for (int j = lo; j < hi; j++) {
      if (values[order[j] * 4 + dim] < value) {
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
        i++;
      }
    }
    return i;
  }

  private void refreshAll(int node) {
    if (left(node) < 0) {
      refreshLeaf(node);
      return;
    }
    refreshAll(left(node));
    refreshAll(right(node));
    combine(node);
  }

  private void refreshLeaf(int node) {
    long min0 = EMPTY_MIN, min1 = EMPTY_MIN, min2 = EMPTY_MIN, min3 = EMPTY_MIN;
    long max0 = EMPTY_MAX, max1 = EMPTY_MAX, max2 = EMPTY_MAX, max3 = EMPTY_MAX;
    long imin0 = EMPTY_MIN, imin1 = EMPTY_MIN, imax0 = EMPTY_MAX, imax1 = EMPTY_MAX;
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
      mask |= 1L << (classOfSlot[s] & 63);
      lowest = Math.min(lowest, offerOfSlot[s]);
    }
    final long[] g = nodes;
    int nb = node * STRIDE;
    g[nb + MAX_AVAIL] = max0;
    g[nb + MAX_AVAIL + 1] = max1;
    g[nb + MAX_AVAIL + 2] = max2;
    g[nb + MAX_AVAIL + 3] = max3;
    g[nb + MIN_AVAIL] = min0;
    g[nb + MIN_AVAIL + 1] = min1;
    g[nb + MIN_AVAIL + 2] = min2;
    g[nb + MIN_AVAIL + 3] = min3;
    g[nb + MIN_INITIAL] = imin0;
    g[nb + MIN_INITIAL + 1] = imin1;
    g[nb + MAX_INITIAL] = imax0;
    g[nb + MAX_INITIAL + 1] = imax1;
    g[nb + MASK] = mask;
    g[nb + MIN_OFFER] = lowest;
  }

  private void combine(int node) {
    final long[] g = nodes;
    int nb = node * STRIDE;
    int lb = (int) g[nb + LEFT] * STRIDE;
    int rb = (int) g[nb + RIGHT] * STRIDE;
    for (int d = 0; d < 4; d++) {
      g[nb + MAX_AVAIL + d] = Math.max(g[lb + MAX_AVAIL + d], g[rb + MAX_AVAIL + d]);
      g[nb + MIN_AVAIL + d] = Math.min(g[lb + MIN_AVAIL + d], g[rb + MIN_AVAIL + d]);
    }
    for (int d = 0; d < 2; d++) {
      g[nb + MIN_INITIAL + d] = Math.min(g[lb + MIN_INITIAL + d], g[rb + MIN_INITIAL + d]);
      g[nb + MAX_INITIAL + d] = Math.max(g[lb + MAX_INITIAL + d], g[rb + MAX_INITIAL + d]);
    }
    g[nb + MASK] = g[lb + MASK] | g[rb + MASK];
    g[nb + MIN_OFFER] = Math.min(g[lb + MIN_OFFER], g[rb + MIN_OFFER]);
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
    while (left(node) >= 0) {
      int dim = planeDim[node];
      long key = dim == BY_SLOT ? slot : avail[b + dim];
      node = key < planeValue[node] ? left(node) : right(node);
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

  /**
   * Turns a crowded leaf into an internal node with two leaves, if a plane separates its offers.
   */
  private void splitLeaf(int leaf) {
    int n = memberCount[leaf];
    int[] order = Arrays.copyOf(members[leaf], n);
    long[] plane = splitPlane(order, 0, n, avail);
    int mid;
    if (plane != null) {
      mid = partition(order, 0, n, avail, (int) plane[0], plane[1]);
    } else {
      Arrays.sort(order); // identical offers: split by slot
      mid = n / 2;
      plane = new long[] {BY_SLOT, order[mid]};
    }
    setPlane(leaf, (int) plane[0], plane[1]);
    int level = 1;
    for (int p = parent[leaf]; p >= 0; p = parent[p]) {
      level++;
    }
    int l = newNode(leaf);
    int r = newNode(leaf);
    fillLeaf(l, order, 0, mid);
    fillLeaf(r, order, mid, n);
    nodes[leaf * STRIDE + LEFT] = l;
    nodes[leaf * STRIDE + RIGHT] = r;
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
    final long[] g = nodes;
    final long[] av = avail;
    final long[] init = initial;
    final int[] cls = classOfSlot;
    final int[] offerOf = offerOfSlot;
    final int[] stack = stackNode;
    final double[] bounds = stackBound;
    double bestScore = Double.POSITIVE_INFINITY;
    int bestOffer = Integer.MAX_VALUE;

    int rootBase = root * STRIDE;
    if (!feasible(g, rootBase, r0, r1, r2, r3, mask)) {
      return -1;
    }
    int top = 0;
    stack[top] = root;
    bounds[top++] = scorer.lowerBound(r0, r1, r2, r3, g, rootBase);
    while (top > 0) {
      int node = stack[--top];
      double b = bounds[top];
      int nb = node * STRIDE;
      if (b > bestScore || (b == bestScore && g[nb + MIN_OFFER] > bestOffer)) {
        continue;
      }
      int l = (int) g[nb + LEFT];
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
      int r = (int) g[nb + RIGHT];
      int lb = l * STRIDE;
      int rb = r * STRIDE;
      double lBound = 0;
      double rBound = 0;
      boolean lOk = feasible(g, lb, r0, r1, r2, r3, mask);
      if (lOk) {
        lBound = scorer.lowerBound(r0, r1, r2, r3, g, lb);
        lOk = lBound < bestScore || (lBound == bestScore && g[lb + MIN_OFFER] < bestOffer);
      }
      boolean rOk = feasible(g, rb, r0, r1, r2, r3, mask);
      if (rOk) {
        rBound = scorer.lowerBound(r0, r1, r2, r3, g, rb);
        rOk = rBound < bestScore || (rBound == bestScore && g[rb + MIN_OFFER] < bestOffer);
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

  private static boolean feasible(long[] g, int nb, long r0, long r1, long r2, long r3, long mask) {
    return g[nb + MAX_AVAIL] >= r0
        && g[nb + MAX_AVAIL + 1] >= r1
        && g[nb + MAX_AVAIL + 2] >= r2
        && g[nb + MAX_AVAIL + 3] >= r3
        && (g[nb + MASK] & mask) != 0;
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
