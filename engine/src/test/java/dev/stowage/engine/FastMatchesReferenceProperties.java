package dev.stowage.engine;

import static dev.stowage.testing.Draw.weight;
import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.testing.Draw;
import dev.stowage.testing.PropertyCheck;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The fast matcher returns exactly what the reference loop returns, for every scorer and mode, on
 * random workloads built to hit the contract's corners: exact ties (few distinct small values),
 * zero dimensions, amounts up to 2^53, constraints on attributes no offer has, tainted offers and
 * tolerations of every kind, tasks that fit nothing, and empty inputs. Every result is also checked
 * for feasibility on its own. A failure prints its seed and the smallest workload found that still
 * fails.
 */
class FastMatchesReferenceProperties {
  /** A workload and how to match it. */
  record Case(List<Task> tasks, List<Offer> offers, MatchMode mode, Scorer scorer) {
    @Override
    public String toString() {
      return mode + " " + scorer + "\n  tasks:  " + tasks + "\n  offers: " + offers;
    }
  }

  static Case workload(Draw d, int minTasks, int maxTasks, int minOffers, int maxOffers) {
    return new Case(
        tasks(d, minTasks, maxTasks),
        offers(d, minOffers, maxOffers),
        d.oneOf(MatchMode.values()),
        d.oneOf(Scorer.values()));
  }

  @Test
  void fastEqualsReference() {
    PropertyCheck.forAll(
        400, d -> workload(d, 0, 40, 0, 30), FastMatchesReferenceProperties::fastMatchesReference);
  }

  @Test
  void fastEqualsReferenceOnLargerWorkloads() {
    PropertyCheck.forAll(
        60,
        d -> workload(d, 100, 400, 50, 300),
        FastMatchesReferenceProperties::fastMatchesReference);
  }

  static void fastMatchesReference(Case c) {
    MatchResult fast = Matcher.fast(c.scorer()).match(c.tasks(), c.offers(), c.mode());
    MatchResult reference = Matcher.reference(c.scorer()).match(c.tasks(), c.offers(), c.mode());

    assertThat(fast.assignments()).isEqualTo(reference.assignments());
    assertFeasible(c.tasks(), c.offers(), c.mode(), fast);
  }

  /** Each task fits its offer as the offer stood when the task was placed, constraints included. */
  static void assertFeasible(
      List<Task> tasks, List<Offer> offers, MatchMode mode, MatchResult result) {
    var left = new HashMap<Integer, long[]>();
    var used = new HashMap<Integer, Integer>();
    for (int t = 0; t < tasks.size(); t++) {
      int o = result.offerIndexOf(t);
      if (o < 0) {
        continue;
      }
      Task task = tasks.get(t);
      Offer offer = offers.get(o);
      for (var c : task.constraints().entrySet()) {
        assertThat(offer.attributes()).containsEntry(c.getKey(), c.getValue());
      }
      assertThat(Toleration.firstUntolerated(task.tolerations(), offer.taints())).isNull();
      long[] avail =
          left.computeIfAbsent(
              o,
              k -> {
                long[] a = new long[4];
                for (int d = 0; d < 4; d++) {
                  a[d] = offer.available().get(d);
                }
                return a;
              });
      for (int d = 0; d < 4; d++) {
        assertThat(task.requested().get(d)).isLessThanOrEqualTo(avail[d]);
        avail[d] -= task.requested().get(d);
      }
      int count = used.merge(o, 1, Integer::sum);
      if (mode == MatchMode.CONSUME) {
        assertThat(count).as("offer %s used once", offer.name()).isEqualTo(1);
      }
    }
  }

  /** Amounts from a few regimes: tiny (ties, zeros), ordinary, and near 2^53. */
  static long amount(Draw d) {
    return d.weighted(
        weight(3, x -> x.between(0L, 4L)),
        weight(4, x -> x.between(0L, 64_000L)),
        weight(1, x -> x.oneOf(Resources.MAX_AMOUNT, Resources.MAX_AMOUNT - 1, 1L << 52)),
        weight(1, x -> x.between(0L, Resources.MAX_AMOUNT)));
  }

  static Resources resources(Draw d) {
    return new Resources(amount(d), amount(d), amount(d), amount(d));
  }

  static Map<String, String> labels(Draw d) {
    var m = new HashMap<String, String>();
    if (d.chance(0.8)) {
      m.put("zone", d.oneOf("a", "b"));
    }
    if (d.chance(0.6)) {
      m.put("arch", d.oneOf("x", "y"));
    }
    if (d.chance(0.05)) {
      m.put("rack", "r1");
    }
    return Map.copyOf(m);
  }

  static final Taint GPU = new Taint("gpu", "true", "NoSchedule");
  static final Taint DEDICATED = new Taint("dedicated", "etl", "NoExecute");

  static List<Taint> taints(Draw d) {
    return d.weighted(
        weight(6, x -> List.<Taint>of()),
        weight(2, x -> List.of(GPU)),
        weight(1, x -> List.of(DEDICATED)),
        weight(1, x -> List.of(GPU, DEDICATED)));
  }

  static List<Toleration> tolerations(Draw d) {
    return d.weighted(
        weight(5, x -> List.<Toleration>of()),
        weight(2, x -> List.of(new Toleration("gpu", false, "true", "NoSchedule"))),
        weight(1, x -> List.of(new Toleration("gpu", false, "false", ""))),
        weight(1, x -> List.of(new Toleration("dedicated", true, "", "NoExecute"))),
        weight(1, x -> List.of(new Toleration("dedicated", true, "", "NoSchedule"))),
        weight(1, x -> List.of(new Toleration("", true, "", ""))));
  }

  static List<Offer> offers(Draw d, int min, int max) {
    List<Offer> drawn =
        d.list(min, max, x -> new Offer("o", "n", resources(x), labels(x), taints(x)));
    var out = new ArrayList<Offer>(drawn.size());
    for (int i = 0; i < drawn.size(); i++) {
      Offer o = drawn.get(i);
      out.add(new Offer("o" + i, "n" + i, o.available(), o.attributes(), o.taints()));
    }
    return out;
  }

  static List<Task> tasks(Draw d, int min, int max) {
    // Constraints: mostly none, sometimes on attributes that exist, sometimes on ones that don't.
    List<Task> drawn =
        d.list(
            min,
            max,
            x ->
                new Task(
                    "t",
                    resources(x),
                    x.weighted(
                        weight(5, y -> Map.<String, String>of()),
                        weight(3, FastMatchesReferenceProperties::labels),
                        weight(1, y -> Map.of("gpu-model", "h100"))),
                    tolerations(x)));
    var out = new ArrayList<Task>(drawn.size());
    for (int i = 0; i < drawn.size(); i++) {
      Task t = drawn.get(i);
      out.add(new Task("t" + i, t.requested(), t.constraints(), t.tolerations()));
    }
    return out;
  }
}
