package dev.stowage.engine;

import java.util.List;
import java.util.Map;

/** MATCHING.md written as plainly as possible: every task against every offer, in order. */
final class ReferenceMatcher implements Matcher {
  private final Scorer scorer;

  ReferenceMatcher(Scorer scorer) {
    this.scorer = scorer;
  }

  @Override
  public Scorer scorer() {
    return scorer;
  }

  @Override
  public MatchResult match(List<Task> tasks, List<Offer> offers, MatchMode mode) {
    Problem problem = Problem.of(tasks, offers);
    long[] req = problem.requested();
    long[] initial = problem.initial();
    long[] avail = initial.clone();
    boolean[] taken = new boolean[offers.size()];
    int[] offerOfTask = new int[tasks.size()];

    for (int t = 0; t < tasks.size(); t++) {
      int r = t * 4;
      Map<String, String> constraints = tasks.get(t).constraints();
      List<Toleration> tolerations = tasks.get(t).tolerations();
      int best = -1;
      double bestScore = Double.POSITIVE_INFINITY;
      for (int o = 0; o < offers.size(); o++) {
        int a = o * 4;
        if (taken[o]
            || req[r] > avail[a]
            || req[r + 1] > avail[a + 1]
            || req[r + 2] > avail[a + 2]
            || req[r + 3] > avail[a + 3]
            || !satisfies(offers.get(o).attributes(), constraints)
            || Toleration.firstUntolerated(tolerations, offers.get(o).taints()) != null) {
          continue;
        }
        double score = scorer.score(req[r], req[r + 1], req[r + 2], req[r + 3], avail, initial, a);
        // Strictly lower: among equal scores the first (lowest index) offer stays.
        if (score < bestScore) {
          bestScore = score;
          best = o;
        }
      }
      offerOfTask[t] = best;
      if (best >= 0) {
        if (mode == MatchMode.CONSUME) {
          taken[best] = true;
        } else {
          for (int d = 0; d < 4; d++) {
            avail[best * 4 + d] -= req[r + d];
          }
        }
      }
    }
    return new MatchResult(problem, mode, offerOfTask, avail, taken);
  }

  static boolean satisfies(Map<String, String> attributes, Map<String, String> constraints) {
    for (var c : constraints.entrySet()) {
      if (!c.getValue().equals(attributes.get(c.getKey()))) {
        return false;
      }
    }
    return true;
  }
}
