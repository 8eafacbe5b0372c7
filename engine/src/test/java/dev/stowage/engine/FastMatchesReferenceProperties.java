package dev.stowage.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * The fast matcher returns exactly what the reference loop returns, for every scorer and mode, on
 * random workloads built to hit the contract's corners: exact ties (few distinct small values),
 * zero dimensions, amounts up to 2^53, constraints on attributes no offer has, tasks that fit
 * nothing, and empty inputs. Every result is also checked for feasibility on its own.
 */
class FastMatchesReferenceProperties {

  @Property(tries = 400)
  void fastEqualsReference(
      @ForAll("workloads") Tuple.Tuple2<List<Task>, List<Offer>> workload,
      @ForAll MatchMode mode,
      @ForAll Scorer scorer) {
    List<Task> tasks = workload.get1();
    List<Offer> offers = workload.get2();

    MatchResult fast = Matcher.fast(scorer).match(tasks, offers, mode);
    MatchResult reference = Matcher.reference(scorer).match(tasks, offers, mode);

    assertThat(fast.assignments()).isEqualTo(reference.assignments());
    assertFeasible(tasks, offers, mode, fast);
  }

  @Property(tries = 60)
  void fastEqualsReferenceOnLargerWorkloads(
      @ForAll("largeWorkloads") Tuple.Tuple2<List<Task>, List<Offer>> workload,
      @ForAll MatchMode mode,
      @ForAll Scorer scorer) {
    MatchResult fast = Matcher.fast(scorer).match(workload.get1(), workload.get2(), mode);
    MatchResult reference = Matcher.reference(scorer).match(workload.get1(), workload.get2(), mode);

    assertThat(fast.assignments()).isEqualTo(reference.assignments());
    assertFeasible(workload.get1(), workload.get2(), mode, fast);
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

  @Provide
  Arbitrary<Tuple.Tuple2<List<Task>, List<Offer>>> workloads() {
    return Combinators.combine(tasks(0, 40), offers(0, 30)).as(Tuple::of);
  }

  @Provide
  Arbitrary<Tuple.Tuple2<List<Task>, List<Offer>>> largeWorkloads() {
    return Combinators.combine(tasks(100, 400), offers(50, 300)).as(Tuple::of);
  }

  /** Amounts from a few regimes: tiny (ties, zeros), ordinary, and near 2^53. */
  static Arbitrary<Long> amount() {
    return Arbitraries.frequencyOf(
        Tuple.of(3, Arbitraries.longs().between(0, 4)),
        Tuple.of(4, Arbitraries.longs().between(0, 64_000)),
        Tuple.of(1, Arbitraries.of(Resources.MAX_AMOUNT, Resources.MAX_AMOUNT - 1, 1L << 52)),
        Tuple.of(1, Arbitraries.longs().between(0, Resources.MAX_AMOUNT)));
  }

  static Arbitrary<Resources> resources() {
    return Combinators.combine(amount(), amount(), amount(), amount()).as(Resources::new);
  }

  static Arbitrary<Map<String, String>> labels() {
    var zone = Arbitraries.of("a", "b");
    var arch = Arbitraries.of("x", "y");
    return Combinators.combine(
            zone.optional(0.8), arch.optional(0.6), Arbitraries.of("r1").optional(0.05))
        .as(
            (z, a, r) -> {
              var m = new HashMap<String, String>();
              z.ifPresent(v -> m.put("zone", v));
              a.ifPresent(v -> m.put("arch", v));
              r.ifPresent(v -> m.put("rack", v));
              return Map.copyOf(m);
            });
  }

  static Arbitrary<List<Offer>> offers(int min, int max) {
    return Combinators.combine(resources(), labels())
        .as((r, l) -> new Object[] {r, l})
        .list()
        .ofMinSize(min)
        .ofMaxSize(max)
        .map(
            raw -> {
              var out = new ArrayList<Offer>();
              for (int i = 0; i < raw.size(); i++) {
                out.add(
                    new Offer(
                        "o" + i, "n" + i, (Resources) raw.get(i)[0], castLabels(raw.get(i)[1])));
              }
              return out;
            });
  }

  static Arbitrary<List<Task>> tasks(int min, int max) {
    // Constraints: mostly none, sometimes on attributes that exist, sometimes on ones that don't.
    Arbitrary<Map<String, String>> constraints =
        Arbitraries.frequencyOf(
            Tuple.of(5, Arbitraries.just(Map.<String, String>of())),
            Tuple.of(3, labels()),
            Tuple.of(1, Arbitraries.just(Map.of("gpu-model", "h100"))));
    return Combinators.combine(resources(), constraints)
        .as((r, c) -> new Object[] {r, c})
        .list()
        .ofMinSize(min)
        .ofMaxSize(max)
        .map(
            raw -> {
              var out = new ArrayList<Task>();
              for (int i = 0; i < raw.size(); i++) {
                out.add(new Task("t" + i, (Resources) raw.get(i)[0], castLabels(raw.get(i)[1])));
              }
              return out;
            });
  }

  @SuppressWarnings("unchecked")
  private static Map<String, String> castLabels(Object o) {
    return (Map<String, String>) o;
  }
}
