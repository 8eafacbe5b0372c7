package dev.stowage.app.service;

import dev.stowage.engine.Explanation;
import dev.stowage.engine.MatchMode;
import dev.stowage.engine.Matcher;
import dev.stowage.engine.Rejection;
import dev.stowage.engine.Scorer;
import dev.stowage.engine.Task;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.ClusterBackend;
import dev.stowage.scheduler.SchedulingCycle;
import dev.stowage.scheduler.Stager;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TaskStore;
import dev.stowage.scheduler.queues.FairShare;
import dev.stowage.staging.ByteCounts;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Why a task is where it is, in one line a person reads, with the numbers behind it: for a queued
 * task, the engine's count of offers rejected by reason against the cluster as it is now.
 */
final class Why {
  private static final Matcher WHY = Matcher.reference(Scorer.TIGHTEST_FIT);

  private Why() {}

  /** Why, as the running service knows it: from its cycle, its loop and its stager. */
  static Map<String, Object> of(
      StoredTask t,
      TaskStore store,
      ClusterBackend backend,
      SchedulingCycle cycle,
      CycleLoop loop,
      Stager stager,
      Instant now) {
    return of(
        t,
        store,
        backend,
        cycle::lastExplanation,
        loop::cyclesSince,
        stager::progress,
        cycle::queueAtLimit,
        cycle::gangWaiting,
        cycle::preempted,
        now);
  }

  /**
   * @param lastCycle the last cycle's counts for a task it left unplaced (see {@link
   *     SchedulingCycle#lastExplanation}), and when it ran
   * @param cyclesSince how many cycles have started since a moment
   * @param gangWaiting why the last cycle left a gang of that name out, if it did
   * @param preempted what a task preempted lately, if it did
   */
  static Map<String, Object> of(
      StoredTask t,
      TaskStore store,
      ClusterBackend backend,
      Function<StoredTask, Optional<Map.Entry<Instant, Explanation>>> lastCycle,
      java.util.function.ToLongFunction<Instant> cyclesSince,
      Function<AttemptId, Optional<Stager.Progress>> staging,
      Function<String, Optional<FairShare.AtLimit>> queueAtLimit,
      Function<String, Optional<dev.stowage.scheduler.GangWait>> gangWaiting,
      Function<String, Optional<dev.stowage.scheduler.Preempted>> preempted,
      Instant now) {
    var out = new LinkedHashMap<String, Object>();
    out.put("id", t.id());
    out.put("state", t.state().label());
    String line;
    if (t.neverSchedulable() != null
        && (t.state() == TaskState.WAITING || t.state() == TaskState.QUEUED)) {
      out.put("neverSchedulable", true);
      out.put(
          "why",
          t.neverSchedulable()
              + "; it stays out of the queue until the cluster's nodes change (submitted "
              + t.submittedAt()
              + ")");
      return out;
    }
    switch (t.state()) {
      case WAITING -> {
        var unfinished = new ArrayList<String>();
        for (StoredTask d : dependencies(t, store)) {
          if (d.state() != TaskState.SUCCEEDED) {
            unfinished.add(d.id() + " (" + d.state().label() + ")");
          }
        }
        out.put("waitingFor", unfinished);
        line =
            "waiting since "
                + t.submittedAt()
                + " for "
                + unfinished.size()
                + " of "
                + t.spec().dependsOn().size()
                + " dependencies: "
                + String.join(", ", unfinished);
      }
      case QUEUED -> {
        var evicted = preempted.apply(t.id()).map(dev.stowage.scheduler.Preempted::describe);
        if (evicted.isPresent()) {
          out.put("preempted", evicted.get());
          line = evicted.get() + queuedSince(t, cyclesSince.applyAsLong(t.updatedAt()), out);
        } else if (t.notBefore() != null && t.notBefore().isAfter(now)) {
          line =
              "retrying: attempt "
                  + (t.attemptsCounted() + 1)
                  + " of "
                  + t.spec().retry().maxAttempts()
                  + " not before "
                  + t.notBefore()
                  + (t.lastError() == null ? "" : "; last attempt: " + t.lastError());
        } else if (queueAtLimit.apply(t.spec().queue()).orElse(null)
            instanceof FairShare.AtLimit a) {
          long cycles = cyclesSince.applyAsLong(t.updatedAt());
          out.put("queueAtLimit", a.view());
          line =
              "at the last cycle: "
                  + a.describe()
                  + " (task "
                  + a.task()
                  + " next), so none of its tasks was placed"
                  + queuedSince(t, cycles, out);
        } else if (t.spec().gang() != null
            && gangWaiting.apply(t.spec().gang().name()).orElse(null)
                instanceof dev.stowage.scheduler.GangWait wait) {
          String gang = wait.describe();
          long cycles = cyclesSince.applyAsLong(t.updatedAt());
          out.put("gangWaiting", gang);
          line =
              "at the last cycle: "
                  + gang
                  + ", so none was placed (a gang is placed whole or not at all)"
                  + queuedSince(t, cycles, out);
        } else {
          var last = lastCycle.apply(t);
          // A queued task last changed when it was queued: submitted, released or retried.
          long cycles = cyclesSince.applyAsLong(t.updatedAt());
          Explanation e;
          String when;
          if (last.isPresent()) {
            e = last.get().getValue();
            when = "at the last cycle (" + last.get().getKey() + "): ";
            out.put("lastCycleAt", last.get().getKey().toString());
          } else {
            // No cycle has run yet: against the cluster as it is now. One task: the contract's
            // plain loop is a single pass over the offers.
            var task =
                new Task(
                    t.id(), t.spec().resources(), t.spec().constraints(), t.spec().tolerations());
            e = WHY.match(List.of(task), backend.offers(), MatchMode.PACK).explain(0);
            when = "now: ";
          }
          out.put("offers", e.offers());
          out.put("fitting", e.fitting());
          out.put("reasons", e.reasons());
          out.put("rejections", rejections(e));
          // Never schedulable on this cluster is the submit-time flag (handled above); the
          // engine's "never fits" only means none of these offers could, as they were then.
          out.put("neverSchedulable", false);
          e = e.withNeverFits(false);
          line =
              when
                  + (e.fitting() > 0
                      ? e.message() + "; the next cycle should place it"
                      : e.message())
                  + queuedSince(t, cycles, out);
        }
      }
      case STAGING -> {
        line = "staging its inputs for attempt " + t.attempt() + " on " + t.offer();
        var progress = staging.apply(new AttemptId(t.id(), t.attempt()));
        if (progress.isPresent()) {
          Stager.Progress p = progress.get();
          out.put("staging", p);
          line +=
              ": "
                  + ByteCounts.human(p.bytesDone())
                  + " of "
                  + ByteCounts.human(p.bytesTotal())
                  + ", "
                  + p.filesDone()
                  + " of "
                  + p.filesTotal()
                  + " file(s)";
        }
      }
      case ASSIGNED -> line = t.state().label() + " on " + t.offer() + ", attempt " + t.attempt();
      case LAUNCHED, RUNNING -> {
        line = t.state().label() + " on " + t.offer() + ", attempt " + t.attempt();
        var said = backend.describe(new AttemptId(t.id(), t.attempt()));
        if (said.isPresent()) {
          out.put("cluster", said.get());
          line += "; the cluster says: " + said.get();
        }
      }
      case UPSTREAM_FAILED -> {
        var failed = new ArrayList<String>();
        for (StoredTask d : dependencies(t, store)) {
          if (d.state().blocksDependants()) {
            failed.add(d.id() + " (" + d.state().label() + ")");
          }
        }
        line = "will never run: dependency " + String.join(", ", failed) + " did not succeed";
      }
      default ->
          line =
              t.state().label()
                  + " after "
                  + t.attempt()
                  + " attempt(s)"
                  + (t.state() == TaskState.FAILED && t.lastError() != null
                      ? "; last attempt: " + t.lastError()
                      : "");
    }
    if (t.preemptedBy() != null && t.state() == TaskState.QUEUED) {
      // Back in the queue because a task of higher claim took its place.
      out.put("preemptedBy", t.preemptedBy());
      line += "; attempt " + t.attempt() + " was preempted by " + t.preemptedBy();
    }
    out.put("why", line);
    return out;
  }

  /** The task's dependencies as stored, in the order it names them: one read for all. */
  /** How long a queued task has waited, for people and in {@code out}. */
  private static String queuedSince(StoredTask t, long cycles, Map<String, Object> out) {
    out.put("queuedSince", t.updatedAt().toString());
    out.put("cyclesSinceQueued", cycles);
    return "; queued since " + t.updatedAt() + ", " + cycles + (cycles == 1 ? " cycle" : " cycles");
  }

  private static List<StoredTask> dependencies(StoredTask t, TaskStore store) {
    Map<String, StoredTask> found = store.getAll(t.spec().dependsOn());
    var out = new ArrayList<StoredTask>();
    for (String id : t.spec().dependsOn()) {
      if (found.containsKey(id)) {
        out.add(found.get(id));
      }
    }
    return out;
  }

  /** Each reason with its numbers, for programs: the kind, the offers, and what it measured. */
  private static List<Map<String, Object>> rejections(Explanation e) {
    var out = new ArrayList<Map<String, Object>>();
    for (Rejection.Count c : e.rejections()) {
      var r = new LinkedHashMap<String, Object>();
      r.put("reason", c.reason().text());
      r.put("offers", c.offers());
      switch (c.reason()) {
        case Rejection.Constraint k -> {
          r.put("key", k.key());
          r.put("wanted", k.wanted());
        }
        case Rejection.Insufficient i -> {
          r.put("resource", i.resource());
          r.put("requested", i.requested());
          r.put("mostFree", i.mostFree());
          r.put("mostOffered", i.mostOffered());
        }
        case Rejection.Untolerated u -> {
          r.put("taint", u.taint().toString());
        }
        case Rejection.Taken t -> {}
      }
      out.add(r);
    }
    return out;
  }
}
