package dev.stowage.access;

import java.util.Locale;

/**
 * What a token may do. Each role includes the ones before it: a reader reads, a submitter also
 * submits and cancels its own tasks, an admin does everything (any task, scheduling, tokens, the
 * audit log).
 */
public enum Role {
  READER,
  SUBMITTER,
  ADMIN;

  /** The role's name as the API and the command line write it. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Whether this role may do what {@code needed} may. */
  public boolean includes(Role needed) {
    return compareTo(needed) >= 0;
  }

  /** A role from its label; the message names the three. */
  public static Role parse(String label) {
    for (Role r : values()) {
      if (r.label().equals(label)) {
        return r;
      }
    }
    throw new IllegalArgumentException(
        "must be one of reader, submitter, admin, got '" + label + "'");
  }
}
