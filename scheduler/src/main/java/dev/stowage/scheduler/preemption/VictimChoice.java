package dev.stowage.scheduler.preemption;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Which running tasks to evict so that one task fits: on one node, the fewest, and among as few the
 * youngest (the set whose oldest victim started last), then the first node in offer order. Only the
 * {@value #MAX_CANDIDATES} youngest candidates of a node are considered, which bounds the search.
 */
public final class VictimChoice {
  /** The most candidates of one node the search looks at: its youngest. */
  public static final int MAX_CANDIDATES = 12;

  private VictimChoice() {}

  /**
   * A running task that may be evicted.
   *
   * @param since when its attempt was placed: the later, the younger
   */
  public record Candidate(String id, Resources resources, Instant since) {}

  /**
   * One node: what its offer has left after this cycle's placements, and its candidates.
   *
   * @param offer the offer, its available resources those left now
   */
  public record Node(Offer offer, List<Candidate> candidates) {}

  /** The node chosen and the tasks to evict on it, youngest first. */
  public record Choice(String offer, List<Candidate> victims) {}

  /**
   * The victims, if evicting some makes the task fit.
   *
   * @param fits whether the task fits this offer (the exact matcher on the freed resources)
   * @param allowed whether these victims may go together (a queue's fair share, say)
   */
  public static Optional<Choice> choose(
      List<Node> nodes, Predicate<Offer> fits, Predicate<List<Candidate>> allowed) {
    Choice best = null;
    Instant bestOldest = null;
    for (Node node : nodes) {
      List<Candidate> c = youngest(node.candidates());
      int m = c.size();
      if (m == 0 || !fits.test(freed(node.offer(), c, allFlags(m)))) {
        continue; // not even every candidate gone makes room
      }
      int most = best == null ? m : best.victims().size();
      for (int k = 1; k <= most; k++) {
        // Among sets of k, the youngest: the least largest index, then the first in order.
        int[] found = smallestLargestIndex(node.offer(), c, k, fits, allowed);
        if (found != null) {
          var victims = new ArrayList<Candidate>(k);
          for (int i : found) {
            victims.add(c.get(i));
          }
          Instant oldest = c.get(found[k - 1]).since();
          if (best == null
              || k < best.victims().size()
              || (k == best.victims().size() && oldest.isAfter(bestOldest))) {
            best = new Choice(node.offer().name(), List.copyOf(victims));
            bestOldest = oldest;
          }
          break;
        }
      }
    }
    return Optional.ofNullable(best);
  }

  /** A node's candidates, youngest first (ties by id), at most {@link #MAX_CANDIDATES}. */
  static List<Candidate> youngest(List<Candidate> candidates) {
    var sorted = new ArrayList<>(candidates);
    sorted.sort(Comparator.comparing(Candidate::since).reversed().thenComparing(Candidate::id));
    return sorted.size() > MAX_CANDIDATES ? sorted.subList(0, MAX_CANDIDATES) : sorted;
  }

  /**
   * The first set of {@code k} indices, by largest index and then in order, that makes the task fit
   * and is allowed; null when none does.
   */
  private static int[] smallestLargestIndex(
      Offer offer,
      List<Candidate> c,
      int k,
      Predicate<Offer> fits,
      Predicate<List<Candidate>> allowed) {
    for (int last = k - 1; last < c.size(); last++) {
      // Every (k-1)-subset of the indices before last, in order, with last.
      int[] idx = new int[k];
      for (int i = 0; i < k - 1; i++) {
        idx[i] = i;
      }
      idx[k - 1] = last;
      while (true) {
        boolean[] flags = new boolean[c.size()];
        var set = new ArrayList<Candidate>(k);
        for (int i : idx) {
          flags[i] = true;
          set.add(c.get(i));
        }
        if (fits.test(freed(offer, c, flags)) && allowed.test(set)) {
          return idx.clone();
        }
        if (!next(idx, k - 1, last)) {
          break;
        }
      }
    }
    return null;
  }

  /** The next (first {@code n} of {@code idx}) combination of indices below {@code bound}. */
  private static boolean next(int[] idx, int n, int bound) {
    int i = n - 1;
    while (i >= 0 && idx[i] == bound - n + i) {
      i--;
    }
    if (i < 0) {
      return false;
    }
    idx[i]++;
    for (int j = i + 1; j < n; j++) {
      idx[j] = idx[j - 1] + 1;
    }
    return true;
  }

  private static boolean[] allFlags(int m) {
    boolean[] all = new boolean[m];
    java.util.Arrays.fill(all, true);
    return all;
  }

  /** The offer with the flagged candidates' resources given back to it. */
  static Offer freed(Offer offer, List<Candidate> c, boolean[] flags) {
    long[] a = new long[Resources.DIMENSIONS.length];
    for (int d = 0; d < a.length; d++) {
      a[d] = offer.available().get(d);
    }
    for (int i = 0; i < c.size(); i++) {
      if (flags[i]) {
        for (int d = 0; d < a.length; d++) {
          a[d] += c.get(i).resources().get(d);
        }
      }
    }
    return new Offer(
        offer.name(),
        offer.node(),
        new Resources(a[0], a[1], a[2], a[3]),
        offer.attributes(),
        offer.taints());
  }
}
