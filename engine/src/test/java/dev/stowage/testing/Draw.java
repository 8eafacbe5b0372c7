package dev.stowage.testing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Where a property's generator takes its values from: a sequence of choices, each a non-negative
 * offset from the low end of the range asked for. A first run draws the choices at random and
 * records them; a replay reads a recorded (and edited) sequence, clamping each choice into its
 * range and reading 0 once the sequence runs out. Shrinking edits the sequence towards fewer and
 * smaller choices, so every value a generator builds shrinks towards its simplest form (the range's
 * low end, the first option, the shortest list) without the generator knowing anything about it.
 */
public final class Draw {
  private final SplittableRandom random;
  private final long[] replay;
  private long[] recorded = new long[64];
  private int length;
  private final List<Element> elements = new ArrayList<>();

  /**
   * Where one element of a list was drawn: choices {@code [start, end)}, and the list's size at
   * {@code sizeAt}. Shrinking deletes an element whole by removing its choices and lowering the
   * size by one, which keeps every later choice where it was.
   */
  record Element(int sizeAt, int start, int end) {}

  private Draw(SplittableRandom random, long[] replay) {
    this.random = random;
    this.replay = replay;
  }

  static Draw random(long seed) {
    return new Draw(new SplittableRandom(seed), null);
  }

  static Draw replay(long[] choices) {
    return new Draw(null, choices);
  }

  /** The choices this draw made, in order. */
  long[] choices() {
    return Arrays.copyOf(recorded, length);
  }

  /** The list elements this draw made, in the order they were drawn. */
  List<Element> elements() {
    return List.copyOf(elements);
  }

  private long choose(long span) {
    long offset;
    if (replay != null) {
      offset = length < replay.length ? Math.min(replay[length], span) : 0;
    } else {
      offset =
          span == Long.MAX_VALUE ? random.nextLong() & Long.MAX_VALUE : random.nextLong(span + 1);
    }
    if (length == recorded.length) {
      recorded = Arrays.copyOf(recorded, length * 2);
    }
    recorded[length++] = offset;
    return offset;
  }

  /** A value in {@code [min, max]}, shrinking towards {@code min}. */
  public long between(long min, long max) {
    if (max < min || max - min < 0) {
      throw new IllegalArgumentException("no long in [" + min + ", " + max + "]");
    }
    return min + choose(max - min);
  }

  /** A value in {@code [min, max]}, shrinking towards {@code min}. */
  public int between(int min, int max) {
    return (int) between((long) min, (long) max);
  }

  /** Any long, shrinking towards 0 (a seed, say). */
  public long anyLong() {
    return choose(Long.MAX_VALUE) * (between(0, 1) == 0 ? 1 : -1);
  }

  /** True with probability {@code p}, shrinking towards false. */
  public boolean chance(double p) {
    return between(0, 999_999) >= Math.round((1 - p) * 1_000_000);
  }

  /** One of {@code options}, shrinking towards the first. */
  @SafeVarargs
  public final <T> T oneOf(T... options) {
    return options[between(0, options.length - 1)];
  }

  /** One of {@code options}, shrinking towards the first. */
  public <T> T oneOf(List<T> options) {
    return options.get(between(0, options.size() - 1));
  }

  /** A generator picked with the weights given, shrinking towards the first. */
  @SafeVarargs
  public final <T> T weighted(Weighted<T>... choices) {
    int total = 0;
    for (Weighted<T> c : choices) {
      total += c.weight();
    }
    int pick = between(0, total - 1);
    for (Weighted<T> c : choices) {
      pick -= c.weight();
      if (pick < 0) {
        return c.generator().apply(this);
      }
    }
    throw new AssertionError("unreachable");
  }

  /** A weight and what to draw with it, for {@link #weighted}. */
  public record Weighted<T>(int weight, Function<Draw, T> generator) {}

  public static <T> Weighted<T> weight(int weight, Function<Draw, T> generator) {
    return new Weighted<>(weight, generator);
  }

  /** A list of {@code min} to {@code max} elements, shrinking towards shorter lists. */
  public <T> List<T> list(int min, int max, Function<Draw, T> element) {
    int sizeAt = length;
    int size = between(min, max);
    var out = new ArrayList<T>(size);
    for (int i = 0; i < size; i++) {
      int start = length;
      out.add(element.apply(this));
      elements.add(new Element(sizeAt, start, length));
    }
    return out;
  }
}
