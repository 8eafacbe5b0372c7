package dev.stowage.scheduler;

import java.util.Objects;

/**
 * Tasks placed together or not at all: in one cycle every member that is not already running gets
 * an offer, or none does (a gang never holds resources while it waits).
 *
 * @param name what the members share, unique among the gangs not finished
 * @param size how many tasks the gang has, all submitted together
 */
public record Gang(String name, int size) {
  /** The most members a gang may have. */
  public static final int MAX_SIZE = 10_000;

  public Gang {
    Objects.requireNonNull(name, "name");
    if (size < 1 || size > MAX_SIZE) {
      throw new IllegalArgumentException("gang " + name + ": size " + size);
    }
  }
}
