package dev.stowage.scheduler.preemption;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Task;
import dev.stowage.testing.Draw;
import dev.stowage.testing.PropertyCheck;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/** The choice of victims against every subset tried, on small drawn clusters. */
class VictimChoiceTest {
  private static final Instant T0 = Instant.parse("2026-12-02T12:00:00Z");

  private static VictimChoice.Candidate running(String id, long cpu, int minutesAgo) {
    return new VictimChoice.Candidate(
        id, new Resources(cpu, 100, 0, 0), T0.minusSeconds(60L * minutesAgo));
  }

  private static Predicate<Offer> fits(Resources wanted, Map<String, String> constraints) {
    Task task = new Task("p", wanted, constraints, List.of());
    return o -> Matcher.fast().match(List.of(task), List.of(o), MatchMode.PACK).matchedCount() == 1;
  }

  @Test
  void theFewestVictimsGoThenTheYoungest() {
    var nodes =
        List.of(
            new VictimChoice.Node(
                new Offer("a", "a", new Resources(0, 1000, 0, 0)),
                List.of(
                    running("a-old", 2000, 50),
                    running("a-young", 1000, 1),
                    running("a-mid", 1000, 5))),
            new VictimChoice.Node(
                new Offer("b", "b", new Resources(500, 1000, 0, 0)),
                List.of(running("b-1", 1000, 3), running("b-2", 1000, 2))));

    // 2000 mCPU: one victim does it on a (the old one) and two on b; one it is.
    var one = VictimChoice.choose(nodes, fits(new Resources(2000, 100, 0, 0), Map.of()), v -> true);
    assertThat(one.orElseThrow().offer()).isEqualTo("a");
    assertThat(one.get().victims()).extracting(VictimChoice.Candidate::id).containsExactly("a-old");

    // 1000 mCPU: one victim on either node; the youngest of them all is a-young.
    var young =
        VictimChoice.choose(nodes, fits(new Resources(1000, 100, 0, 0), Map.of()), v -> true);
    assertThat(young.orElseThrow().victims())
        .extracting(VictimChoice.Candidate::id)
        .containsExactly("a-young");

    // Nothing fits even with every candidate gone: no choice.
    assertThat(
            VictimChoice.choose(nodes, fits(new Resources(9000, 100, 0, 0), Map.of()), v -> true))
        .isEmpty();
    // A constraint no node meets: no eviction makes it fit.
    assertThat(
            VictimChoice.choose(
                nodes, fits(new Resources(100, 100, 0, 0), Map.of("zone", "mars")), v -> true))
        .isEmpty();
    // Not allowed to take a-old: two victims then, the pair whose older one started last (on b,
    // 3 minutes ago, against a-mid's 5).
    var allowed =
        VictimChoice.choose(
            nodes,
            fits(new Resources(2000, 100, 0, 0), Map.of()),
            v -> v.stream().noneMatch(c -> c.id().equals("a-old")));
    assertThat(allowed.orElseThrow().offer()).isEqualTo("b");
    assertThat(allowed.get().victims())
        .extracting(VictimChoice.Candidate::id)
        .containsExactly("b-2", "b-1");
  }

  /** Every subset of every node's youngest candidates, ranked by the rule: the obvious loop. */
  static Optional<VictimChoice.Choice> reference(
      List<VictimChoice.Node> nodes,
      Predicate<Offer> fits,
      Predicate<List<VictimChoice.Candidate>> allowed) {
    VictimChoice.Choice best = null;
    Instant bestOldest = null;
    int bestLargest = 0;
    for (VictimChoice.Node node : nodes) {
      List<VictimChoice.Candidate> c = VictimChoice.youngest(node.candidates());
      for (int mask = 1; mask < (1 << c.size()); mask++) {
        boolean[] flags = new boolean[c.size()];
        var set = new ArrayList<VictimChoice.Candidate>();
        int largest = 0;
        for (int i = 0; i < c.size(); i++) {
          if ((mask & (1 << i)) != 0) {
            flags[i] = true;
            set.add(c.get(i));
            largest = i;
          }
        }
        if (!fits.test(VictimChoice.freed(node.offer(), c, flags)) || !allowed.test(set)) {
          continue;
        }
        Instant oldest = c.get(largest).since();
        boolean better;
        if (best == null) {
          better = true;
        } else if (set.size() != best.victims().size()) {
          better = set.size() < best.victims().size();
        } else if (!oldest.equals(bestOldest)) {
          better = oldest.isAfter(bestOldest);
        } else if (!best.offer().equals(node.offer().name())) {
          better = false; // an earlier node wins a tie
        } else if (largest != bestLargest) {
          better = largest < bestLargest;
        } else {
          better = lexicographicallyBefore(set, best.victims(), c);
        }
        if (better) {
          best = new VictimChoice.Choice(node.offer().name(), List.copyOf(set));
          bestOldest = oldest;
          bestLargest = largest;
        }
      }
    }
    return Optional.ofNullable(best);
  }

  private static boolean lexicographicallyBefore(
      List<VictimChoice.Candidate> a,
      List<VictimChoice.Candidate> b,
      List<VictimChoice.Candidate> order) {
    for (int i = 0; i < a.size(); i++) {
      int x = order.indexOf(a.get(i));
      int y = order.indexOf(b.get(i));
      if (x != y) {
        return x < y;
      }
    }
    return false;
  }

  record Case(List<VictimChoice.Node> nodes, Resources wanted, long cap) {}

  static Case draw(Draw d) {
    var nodes = new ArrayList<VictimChoice.Node>();
    int n = d.between(1, 4);
    int id = 0;
    for (int i = 0; i < n; i++) {
      var c = new ArrayList<VictimChoice.Candidate>();
      int m = d.between(0, 7);
      for (int j = 0; j < m; j++) {
        c.add(running("t" + id++, d.between(1, 4) * 500L, d.between(0, 5)));
      }
      nodes.add(
          new VictimChoice.Node(
              new Offer("n" + i, "n" + i, new Resources(d.between(0, 3) * 500L, 1000, 0, 0)), c));
    }
    return new Case(
        nodes, new Resources(d.between(1, 8) * 500L, 100, 0, 0), d.between(1, 4) * 1000L);
  }

  @Test
  void theChoiceIsTheBestOfEverySubset() {
    PropertyCheck.forAll(
        400,
        VictimChoiceTest::draw,
        c -> {
          Predicate<Offer> fits = fits(c.wanted(), Map.of());
          // A cap on what the victims hold together stands in for a queue's fair share.
          Predicate<List<VictimChoice.Candidate>> allowed =
              v -> v.stream().mapToLong(x -> x.resources().cpuMillis()).sum() <= c.cap();
          assertThat(VictimChoice.choose(c.nodes(), fits, allowed))
              .isEqualTo(reference(c.nodes(), fits, allowed));
        });
  }
}
