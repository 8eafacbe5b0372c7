package dev.stowage.workload;

import dev.stowage.engine.Offer;
import dev.stowage.engine.Task;
import java.util.List;

/** Tasks and offers for one match, in input order. */
public record Workload(List<Task> tasks, List<Offer> offers) {
  public Workload {
    tasks = List.copyOf(tasks);
    offers = List.copyOf(offers);
  }
}
