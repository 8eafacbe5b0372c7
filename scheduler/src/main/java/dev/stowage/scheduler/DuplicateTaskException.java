package dev.stowage.scheduler;

import java.util.List;

/** A submission naming ids the store already holds: nothing of it was stored. */
public final class DuplicateTaskException extends RuntimeException {
  private final List<String> ids;

  public DuplicateTaskException(List<String> ids) {
    super(
        (ids.size() == 1
                ? "a task with id '" + ids.getFirst() + "' exists"
                : "tasks exist with ids " + ids)
            + " already");
    this.ids = List.copyOf(ids);
  }

  public List<String> ids() {
    return ids;
  }
}
