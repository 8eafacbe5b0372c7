package dev.stowage.engine;

/**
 * Why offers (or nodes) could not take a task: the first check they failed, with its numbers.
 * Formatted only for people ({@link #text()}); programs read the fields, and metrics the {@link
 * #kind()}, which has few values.
 */
public sealed interface Rejection {

  /**
   * A low-cardinality name, a metric's label: {@code constraint} (whatever the key), {@code taken
   * by an earlier task}, {@code insufficient cpuMillis}.
   */
  String kind();

  /** As a person reads it after a count: {@code constraint zone=a}, {@code insufficient gpus}. */
  String text();

  /** The offer's attribute {@code key} is not {@code wanted} (or is absent). */
  record Constraint(String key, String wanted) implements Rejection {
    @Override
    public String kind() {
      return "constraint";
    }

    @Override
    public String text() {
      return "constraint " + key + "=" + wanted;
    }
  }

  /** The offer carries a taint the task does not tolerate. */
  record Untolerated(Taint taint) implements Rejection {
    @Override
    public String kind() {
      return "untolerated taint";
    }

    @Override
    public String text() {
      return "untolerated taint " + taint;
    }
  }

  /** The offer was taken by a task placed earlier in the same match (consume mode). */
  record Taken() implements Rejection {
    @Override
    public String kind() {
      return Explanation.TAKEN;
    }

    @Override
    public String text() {
      return Explanation.TAKEN;
    }
  }

  /**
   * Too little of one resource.
   *
   * @param dimension the index in {@link Resources#DIMENSIONS}
   * @param requested what the task asks for
   * @param mostFree the most any offer counted here had left (after the tasks placed before it)
   * @param mostOffered the most any of them offered before this match placed anything; for a check
   *     against empty nodes, their capacity
   */
  record Insufficient(int dimension, long requested, long mostFree, long mostOffered)
      implements Rejection {
    public Insufficient {
      if (dimension < 0 || dimension >= Resources.DIMENSIONS.length) {
        throw new IllegalArgumentException("no resource dimension " + dimension);
      }
    }

    /** The resource's name: {@code memoryMiB}. */
    public String resource() {
      return Resources.DIMENSIONS[dimension];
    }

    @Override
    public String kind() {
      return "insufficient " + resource();
    }

    @Override
    public String text() {
      return "insufficient " + resource();
    }
  }

  /** How many offers were rejected for one reason. */
  record Count(Rejection reason, int offers) {}
}
