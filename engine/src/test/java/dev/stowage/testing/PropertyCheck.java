package dev.stowage.testing;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A property checked on generated inputs: {@code tries} inputs drawn from seeds that one base seed
 * determines, and, when one fails, that input shrunk to the smallest one found that still fails.
 * The failure names the base seed (to run the same inputs again), the try, and the smallest input.
 *
 * <p>The base seed is random for each run unless the system property {@value #SEED_PROPERTY} sets
 * it: repeated runs explore new inputs, and any failure can be replayed exactly.
 *
 * <pre>{@code
 * PropertyCheck.forAll(400, d -> d.list(0, 40, Gen::task), tasks -> assertThat(...));
 * }</pre>
 */
public final class PropertyCheck {
  public static final String SEED_PROPERTY = "stowage.property.seed";

  /** How many candidate inputs shrinking may try before it reports the smallest so far. */
  private static final int SHRINK_BUDGET = 2_000;

  private PropertyCheck() {}

  /** Checks {@code property} on {@code tries} inputs built by {@code generator}. */
  public static <T> void forAll(int tries, Function<Draw, T> generator, Consumer<T> property) {
    String fixed = System.getProperty(SEED_PROPERTY);
    long seed = fixed != null ? Long.parseLong(fixed.strip()) : new SplittableRandom().nextLong();
    forAll(seed, tries, generator, property);
  }

  /** As {@link #forAll(int, Function, Consumer)}, from the base seed given. */
  public static <T> void forAll(
      long seed, int tries, Function<Draw, T> generator, Consumer<T> property) {
    var seeds = new SplittableRandom(seed);
    for (int i = 1; i <= tries; i++) {
      Draw draw = Draw.random(seeds.nextLong());
      T input = generator.apply(draw);
      Throwable failure = failureOf(property, input);
      if (failure != null) {
        Shrunk<T> smallest = shrink(draw, input, failure, generator, property);
        var error =
            new AssertionError(
                "property failed at try "
                    + i
                    + " of "
                    + tries
                    + " (seed "
                    + seed
                    + "; run again with -D"
                    + SEED_PROPERTY
                    + "="
                    + seed
                    + ")\nsmallest failing input, after "
                    + smallest.steps
                    + " shrinking step(s):\n"
                    + smallest.input
                    + "\nfailure: "
                    + smallest.failure,
                smallest.failure);
        throw error;
      }
    }
  }

  private static <T> Throwable failureOf(Consumer<T> property, T input) {
    try {
      property.accept(input);
      return null;
    } catch (Throwable t) {
      if (t instanceof VirtualMachineError) {
        throw (VirtualMachineError) t;
      }
      return t;
    }
  }

  private record Shrunk<T>(T input, Throwable failure, int steps, Draw draw) {}

  /**
   * Edits the failing choices towards fewer and smaller ones, keeping each edit after which the
   * property still fails: first deleting list elements whole, then runs of choices, then lowering
   * each choice (to zero, else by binary search between a value that passed and one that failed).
   * Repeats until no edit helps or the budget ends.
   */
  private static <T> Shrunk<T> shrink(
      Draw failing, T input, Throwable failure, Function<Draw, T> generator, Consumer<T> property) {
    var best = new Shrunk<>(input, failure, 0, failing);
    int[] tried = {0};
    boolean improved = true;
    while (improved && tried[0] < SHRINK_BUDGET) {
      improved = false;
      // Whole elements, the last first, so that earlier ones keep their places.
      List<Draw.Element> elements = best.draw.elements();
      for (int e = elements.size() - 1; e >= 0 && tried[0] < SHRINK_BUDGET; e--) {
        Draw.Element el = elements.get(e);
        long[] current = best.draw.choices();
        if (el.end() > current.length || current[el.sizeAt()] == 0) {
          continue;
        }
        long[] candidate = new long[current.length - (el.end() - el.start())];
        System.arraycopy(current, 0, candidate, 0, el.start());
        System.arraycopy(current, el.end(), candidate, el.start(), current.length - el.end());
        candidate[el.sizeAt()]--;
        Shrunk<T> next = attempt(candidate, generator, property, best, tried);
        if (next != null) {
          best = next;
          improved = true;
          elements = best.draw.elements();
          e = Math.min(e, elements.size());
        }
      }
      for (int run = 8; run >= 1 && tried[0] < SHRINK_BUDGET; run /= 2) {
        for (int at = 0; tried[0] < SHRINK_BUDGET; ) {
          long[] current = best.draw.choices();
          if (at + run > current.length) {
            break;
          }
          long[] candidate = new long[current.length - run];
          System.arraycopy(current, 0, candidate, 0, at);
          System.arraycopy(current, at + run, candidate, at, current.length - at - run);
          Shrunk<T> next = attempt(candidate, generator, property, best, tried);
          if (next != null) {
            best = next;
            improved = true;
          } else {
            at++;
          }
        }
      }
      for (int at = 0; tried[0] < SHRINK_BUDGET; at++) {
        long[] current = best.draw.choices();
        if (at >= current.length) {
          break;
        }
        if (current[at] == 0) {
          continue;
        }
        long passed = -1;
        long failed = current[at];
        while (failed - passed > 1 && tried[0] < SHRINK_BUDGET) {
          long mid = passed == -1 ? 0 : passed + (failed - passed) / 2;
          long[] candidate = best.draw.choices();
          if (at >= candidate.length) {
            break;
          }
          candidate[at] = mid;
          Shrunk<T> next = attempt(candidate, generator, property, best, tried);
          if (next != null) {
            best = next;
            failed = mid;
            improved = true;
          } else {
            passed = mid;
          }
        }
      }
    }
    return best;
  }

  /** The failure on {@code candidate}, if it fails and its choices are simpler than the best's. */
  private static <T> Shrunk<T> attempt(
      long[] candidate,
      Function<Draw, T> generator,
      Consumer<T> property,
      Shrunk<T> best,
      int[] tried) {
    tried[0]++;
    Draw draw = Draw.replay(candidate);
    T input;
    try {
      input = generator.apply(draw);
    } catch (RuntimeException e) {
      return null; // not an input the generator can build: not a smaller case
    }
    if (!simpler(draw.choices(), best.draw.choices())) {
      return null; // what the generator read is no smaller (it read zeros for what was cut)
    }
    Throwable failure = failureOf(property, input);
    return failure == null ? null : new Shrunk<>(input, failure, best.steps + 1, draw);
  }

  /** Fewer choices, or as many and lower at the first that differs: so shrinking ends. */
  private static boolean simpler(long[] a, long[] b) {
    if (a.length != b.length) {
      return a.length < b.length;
    }
    return java.util.Arrays.compare(a, b) < 0;
  }
}
