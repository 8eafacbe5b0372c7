package dev.stowage.scheduler;

import java.util.Objects;

/**
 * One task of an array: a submission of one task that asked for {@code size} copies, as Slurm's job
 * arrays. Its id is the array's id, {@code _} and its index; its process finds its index in {@value
 * #INDEX_VARIABLE}.
 *
 * @param arrayId the id the submission gave, which names the array as a whole
 * @param index this task's place in the array, in [0, size)
 * @param size how many tasks the array has
 */
public record ArrayMember(String arrayId, int index, int size) {
  /** The environment variable that holds a member's index. */
  public static final String INDEX_VARIABLE = "STOWAGE_ARRAY_INDEX";

  /** The environment variable that holds the array's size. */
  public static final String SIZE_VARIABLE = "STOWAGE_ARRAY_SIZE";

  /** The most tasks one array may have. */
  public static final int MAX_SIZE = 100_000;

  public ArrayMember {
    Objects.requireNonNull(arrayId, "arrayId");
    if (size < 1 || size > MAX_SIZE || index < 0 || index >= size) {
      throw new IllegalArgumentException(
          "array " + arrayId + ": index " + index + " outside an array of " + size);
    }
  }

  /** The id of the array's task at {@code index}. */
  public static String memberId(String arrayId, int index) {
    return arrayId + "_" + index;
  }

  /** This member's task id. */
  public String taskId() {
    return memberId(arrayId, index);
  }
}
