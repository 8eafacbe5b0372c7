package dev.stowage.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The harness the properties run on: it finds failures, shrinks them, and replays by seed. */
class PropertyCheckTest {

  @Test
  void aFailingListShrinksToTheSmallestCaseAndNamesItsSeed() {
    assertThatThrownBy(
            () ->
                PropertyCheck.forAll(
                    42L,
                    200,
                    d -> d.list(0, 50, x -> x.between(0L, 1_000_000L)),
                    list -> assertThat(list).allMatch(v -> v < 1000)))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("(seed 42; run again with -Dstowage.property.seed=42)")
        // One element, at the threshold: nothing smaller still fails.
        .hasMessageContaining("smallest failing input, after ")
        .hasMessageContaining(":\n[1000]\nfailure: ");
  }

  @Test
  void shrinkingLowersEveryPartOfAStructuredInput() {
    record Pair(long a, String b) {}
    assertThatThrownBy(
            () ->
                PropertyCheck.forAll(
                    7L,
                    500,
                    d -> new Pair(d.between(-5L, 1L << 53), d.oneOf("x", "y", "z")),
                    p -> assertThat(p.a() > 77 && !p.b().equals("x")).isFalse()))
        .hasMessageContaining("\nPair[a=78, b=y]\n");
  }

  @Test
  void theSameSeedDrawsTheSameInputsAndAPassingPropertyPasses() {
    var first = new ArrayList<List<Long>>();
    var second = new ArrayList<List<Long>>();
    PropertyCheck.forAll(99L, 30, d -> d.list(0, 5, x -> x.between(0L, 9L)), first::add);
    PropertyCheck.forAll(99L, 30, d -> d.list(0, 5, x -> x.between(0L, 9L)), second::add);
    assertThat(first).hasSize(30).isEqualTo(second);
    assertThat(new java.util.HashSet<>(first)).as("tries differ").hasSizeGreaterThan(10);
  }

  @Test
  void weightsAndChancesStayInTheirRanges() {
    var seen = new java.util.HashSet<String>();
    PropertyCheck.forAll(
        1L,
        2_000,
        d ->
            d.weighted(Draw.weight(9, x -> "often"), Draw.weight(1, x -> "rarely"))
                + (d.chance(0.5) ? "+" : "-")
                + d.between(-2, 2),
        seen::add);
    assertThat(seen)
        .contains("often+2", "rarely-2", "often--2", "rarely+0")
        .allMatch(s -> s.matches("(often|rarely)[+-]-?[0-2]"));
  }
}
