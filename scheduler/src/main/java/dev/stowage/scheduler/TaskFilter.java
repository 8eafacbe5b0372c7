package dev.stowage.scheduler;

/**
 * Which tasks a listing shows: each part that is null matches every task. A label is one {@code
 * key=value} pair the task carries; an id prefix matches ids that start with it.
 */
public record TaskFilter(
    TaskState state, String queue, String labelKey, String labelValue, String idPrefix) {
  /**
   * The most tasks one listing looks at: a page of a filter that few tasks pass stops after this
   * many, and says where it stopped, so that no page costs more than reading this many tasks.
   */
  public static final int SEARCHED_MAX = 20_000;

  /**
   * One page of a listing: the tasks that passed, newest first, and, when the search stopped at
   * {@link #SEARCHED_MAX} before the page was full, the last task it looked at (the next page
   * starts before it); null when it looked at every older task.
   */
  public record Page(java.util.List<StoredTask> tasks, String searchedTo) {
    public Page {
      tasks = java.util.List.copyOf(tasks);
    }
  }

  /** Every task. */
  public static final TaskFilter ALL = new TaskFilter(null, null, null, null, null);

  public TaskFilter {
    if ((labelKey == null) != (labelValue == null)) {
      throw new IllegalArgumentException("a label filter needs both its key and its value");
    }
  }

  /** Whether the task passes. */
  public boolean test(StoredTask t) {
    return (state == null || t.state() == state)
        && (queue == null || t.spec().queue().equals(queue))
        && (labelKey == null || labelValue.equals(t.spec().labels().get(labelKey)))
        && (idPrefix == null || t.id().startsWith(idPrefix));
  }
}
