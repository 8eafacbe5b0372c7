package dev.stowage.engine;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The default matcher. Same greedy order and tie rule as the reference loop, but each task's best
 * offer comes from a branch-and-bound search of an {@link OfferTree} instead of a scan.
 *
 * <p>Tasks with equal requests and constraints form one class: constraints are compiled once per
 * class, and once a class has failed to fit, later tasks of that class are skipped, which is exact
 * because availability only ever shrinks during a match.
 */
final class FastMatcher implements Matcher {
  private final Scorer scorer;

  FastMatcher(Scorer scorer) {
    this.scorer = scorer;
  }

  @Override
  public Scorer scorer() {
    return scorer;
  }

  @Override
  public MatchResult match(List<Task> tasks, List<Offer> offers, MatchMode mode) {
    Problem problem = Problem.of(tasks, offers);
    var attributeClasses = new HashMap<OfferTree.OfferClass, Integer>();
    int[] classOfOffer = OfferTree.classesOf(offers, attributeClasses);
    List<OfferTree.OfferClass> classAttributes = new ArrayList<>(attributeClasses.keySet());
    for (var e : attributeClasses.entrySet()) {
      classAttributes.set(e.getValue(), e.getKey());
    }
    OfferTree tree = new OfferTree(problem.initial(), classOfOffer);

    var taskClasses = new TaskClasses(classAttributes);
    long[] req = problem.requested();
    int[] offerOfTask = new int[tasks.size()];
    boolean consume = mode == MatchMode.CONSUME;
    boolean[] taken = new boolean[offers.size()];
    final Scorer s = scorer;
    for (int t = 0; t < offerOfTask.length; t++) {
      TaskClasses.Compiled c = taskClasses.of(tasks.get(t));
      if (c.failed) {
        offerOfTask[t] = -1;
        continue;
      }
      int b = t * 4;
      long r0 = req[b], r1 = req[b + 1], r2 = req[b + 2], r3 = req[b + 3];
      int offer = tree.best(r0, r1, r2, r3, c.allowed, c.mask, s);
      if (offer < 0) {
        c.failed = true;
        offerOfTask[t] = -1;
        continue;
      }
      offerOfTask[t] = offer;
      if (consume) {
        taken[offer] = true;
        tree.take(offer);
      } else {
        tree.subtract(offer, r0, r1, r2, r3);
      }
    }
    return new MatchResult(problem, mode, offerOfTask, tree.availability(), taken);
  }

  /**
   * Interns tasks by (requests, constraints, tolerations) and compiles each class's constraints and
   * tolerations once, against each class of offers.
   */
  static final class TaskClasses {
    private final List<OfferTree.OfferClass> classAttributes;
    private final Map<Object, Compiled> byShape = new HashMap<>();
    private final Map<Object, Compiled> byConstraints = new HashMap<>();

    TaskClasses(List<OfferTree.OfferClass> classAttributes) {
      this.classAttributes = classAttributes;
    }

    Compiled of(Task task) {
      Object shape = List.of(task.requested(), task.constraints(), task.tolerations());
      Compiled c = byShape.get(shape);
      if (c == null) {
        Compiled proto =
            byConstraints.computeIfAbsent(
                Map.entry(task.constraints(), task.tolerations()),
                k -> compile(task.constraints(), task.tolerations()));
        c = new Compiled(proto.allowed, proto.mask);
        byShape.put(shape, c);
      }
      return c;
    }

    private Compiled compile(Map<String, String> constraints, List<Toleration> tolerations) {
      boolean[] allowed = new boolean[classAttributes.size()];
      long mask = 0;
      for (int k = 0; k < allowed.length; k++) {
        OfferTree.OfferClass offers = classAttributes.get(k);
        allowed[k] =
            ReferenceMatcher.satisfies(offers.attributes(), constraints)
                && Toleration.firstUntolerated(tolerations, offers.taints()) == null;
        if (allowed[k]) {
          mask |= 1L << (k & 63);
        }
      }
      return new Compiled(allowed, mask);
    }

    static final class Compiled {
      final boolean[] allowed;
      final long mask;
      boolean failed;

      Compiled(boolean[] allowed, long mask) {
        this.allowed = allowed;
        this.mask = mask;
      }
    }
  }
}
