package dev.stowage.scheduler;

import dev.stowage.engine.Explanation;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Task;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The match stage: the engine's exact greedy best fit of the ordered tasks to the offers. It keeps
 * the last result, so that {@code why} can read that cycle's counts without matching again.
 */
final class MatchTasks {
  /** The last cycle's match. */
  private record LastMatch(Map<String, Integer> unassigned, MatchResult result, Instant at) {}

  private final Matcher matcher;
  private final MatchMode mode;
  private final Clock clock;
  private volatile LastMatch last;

  MatchTasks(Matcher matcher, MatchMode mode, Clock clock) {
    this.matcher = matcher;
    this.mode = mode;
    this.clock = clock;
  }

  MatchMode mode() {
    return mode;
  }

  String scorer() {
    return matcher.scorer().label();
  }

  MatchResult match(List<StoredTask> tasks, List<Offer> offers) {
    var engineTasks = new ArrayList<Task>(tasks.size());
    for (StoredTask t : tasks) {
      engineTasks.add(
          new Task(t.id(), t.spec().resources(), t.spec().constraints(), t.spec().tolerations()));
    }
    MatchResult result = matcher.match(engineTasks, offers, mode);
    var unassigned = new HashMap<String, Integer>();
    for (int i : result.unassignedTasks()) {
      unassigned.put(tasks.get(i).id(), i);
    }
    last = new LastMatch(unassigned, result, clock.instant());
    return result;
  }

  /**
   * Why this queued task is not placed, as the last match saw the cluster, and when it ran: the
   * engine's counts from that match if it considered the task (after the tasks ahead of it took
   * their offers), else the task checked against the capacity that match left. Empty before the
   * first match. Safe from any thread: one pass over that match's offers, nothing copied.
   */
  Optional<Map.Entry<Instant, Explanation>> lastExplanation(StoredTask task) {
    LastMatch l = last;
    if (l == null) {
      return Optional.empty();
    }
    Integer index = l.unassigned().get(task.id());
    Explanation e =
        index != null
            ? l.result().explain(index)
            : l.result()
                .explain(
                    new Task(
                        task.id(),
                        task.spec().resources(),
                        task.spec().constraints(),
                        task.spec().tolerations()));
    return Optional.of(Map.entry(l.at(), e));
  }
}
