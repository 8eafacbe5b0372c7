package dev.stowage.engine;

import java.util.List;

/**
 * Places tasks on offers by exact greedy best fit: tasks in input order, each to the fitting offer
 * with the lowest score, ties to the lowest offer index (see MATCHING.md). Every implementation
 * returns exactly the same assignments for the same input and scorer.
 */
public interface Matcher {

  /**
   * Matches {@code tasks} (already in priority order) to {@code offers}.
   *
   * @throws IllegalArgumentException when two tasks or two offers share a name
   */
  MatchResult match(List<Task> tasks, List<Offer> offers, MatchMode mode);

  /** The scorer this matcher ranks offers with. */
  Scorer scorer();

  /** The fast matcher with the contract's tightest-fit scorer: what callers should use. */
  static Matcher fast() {
    return fast(Scorer.TIGHTEST_FIT);
  }

  /** The fast matcher: an offer tree with pruning bounds, exact for every scorer. */
  static Matcher fast(Scorer scorer) {
    return new FastMatcher(scorer);
  }

  /** The contract written as the plain loop over every (task, offer) pair. Slow; for checking. */
  static Matcher reference(Scorer scorer) {
    return new ReferenceMatcher(scorer);
  }
}
