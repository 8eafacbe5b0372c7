package dev.stowage.scheduler;

import dev.stowage.engine.MatchResult;
import dev.stowage.engine.Offer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The gang rule around the match stage: a gang's tasks are placed together in one cycle, or none of
 * them is. A gang whose tasks are not all among those taken is left out before matching; one the
 * match placed only in part is left out and the rest matched again, so that its offers go to the
 * tasks behind it. Each round leaves out at least one gang, so it ends; with no gang among the
 * tasks it is one match, as without this rule. Keeps why each gang waited, for {@code why}.
 */
final class PlaceGangs {
  /** The match once the gang rule holds: the tasks left and their match. */
  record Placed(List<StoredTask> tasks, MatchResult result) {}

  /**
   * The most matches one cycle runs for its gangs: each gang placed in part is left out in a round
   * of its own until then, and all those left at the last round together.
   */
  static final int MAX_ROUNDS = 16;

  private final TaskStore store;
  private final MatchTasks match;
  private volatile Map<String, GangWait> lastWaiting = Map.of();

  PlaceGangs(TaskStore store, MatchTasks match) {
    this.store = store;
    this.match = match;
  }

  Placed place(List<StoredTask> tasks, List<Offer> offers) {
    var members = new LinkedHashMap<String, List<Integer>>();
    var gangOf = new HashMap<String, String>();
    for (int i = 0; i < tasks.size(); i++) {
      Gang g = tasks.get(i).spec().gang();
      if (g != null) {
        members.computeIfAbsent(g.name(), n -> new ArrayList<>()).add(i);
        gangOf.put(tasks.get(i).id(), g.name());
      }
    }
    if (members.isEmpty()) {
      lastWaiting = Map.of();
      return new Placed(tasks, match.match(tasks, offers));
    }
    Map<String, Integer> inFlight = store.gangsInFlight(members.keySet());
    var waiting = new HashMap<String, GangWait>();
    var needed = new HashMap<String, Integer>();
    members.forEach(
        (name, at) -> {
          Gang g = tasks.get(at.getFirst()).spec().gang();
          int need = g.size() - inFlight.getOrDefault(name, 0);
          needed.put(name, need);
          if (at.size() < need) {
            waiting.put(name, new GangWait(name, g.size(), need, at.size(), -1));
          }
        });
    List<StoredTask> left = without(tasks, waiting.keySet());
    for (int round = 1; ; round++) {
      MatchResult result = match.match(left, offers);
      var placed = new HashMap<String, Integer>();
      for (var a : result.assignments()) {
        String g = gangOf.get(a.task());
        if (g != null) {
          placed.merge(g, 1, Integer::sum);
        }
      }
      // In take order, so priority decides: the first gang placed in part is left out, and the
      // gangs behind it, which may fit once it is, are matched again without it.
      var partial = new java.util.LinkedHashSet<String>();
      for (StoredTask t : left) {
        String g = gangOf.get(t.id());
        if (g != null && placed.getOrDefault(g, 0) < needed.get(g)) {
          partial.add(g);
        }
      }
      if (partial.isEmpty()) {
        lastWaiting = Map.copyOf(waiting);
        return new Placed(left, result);
      }
      // Past the last round, every gang placed in part waits, to bound the cycle's matches.
      var out = round < MAX_ROUNDS ? Set.of(partial.getFirst()) : partial;
      for (String name : out) {
        int need = needed.get(name);
        waiting.put(
            name,
            new GangWait(
                name,
                need + inFlight.getOrDefault(name, 0),
                need,
                members.get(name).size(),
                placed.getOrDefault(name, 0)));
      }
      left = without(left, out);
    }
  }

  private static List<StoredTask> without(List<StoredTask> tasks, Set<String> gangs) {
    if (gangs.isEmpty()) {
      return tasks;
    }
    var out = new ArrayList<StoredTask>(tasks.size());
    for (StoredTask t : tasks) {
      if (t.spec().gang() == null || !gangs.contains(t.spec().gang().name())) {
        out.add(t);
      }
    }
    return out;
  }

  /** Why this gang was not placed in the last cycle, if it was not. Safe from any thread. */
  Optional<GangWait> waiting(String gang) {
    return Optional.ofNullable(lastWaiting.get(gang));
  }
}
