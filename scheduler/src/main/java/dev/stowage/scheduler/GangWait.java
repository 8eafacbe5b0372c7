package dev.stowage.scheduler;

/**
 * Why a gang was not placed in the last cycle, with the numbers; {@link #describe} says it for
 * people.
 *
 * @param needed its tasks not already in flight: those that must be placed together
 * @param taken how many of those the order stage took (all of them queued and due)
 * @param fit how many of those the match placed, when it was matched (-1 when it was not)
 */
public record GangWait(String gang, int size, int needed, int taken, int fit) {
  /** For people: {@code gang train-7: 5 of 8 members fit}. */
  public String describe() {
    if (fit < 0) {
      return "gang "
          + gang
          + ": "
          + taken
          + " of "
          + needed
          + " members are queued and ready to place (the others wait on dependencies, a retry's"
          + " backoff or the cycle's limit)";
    }
    return "gang " + gang + ": " + fit + " of " + needed + " members fit";
  }
}
