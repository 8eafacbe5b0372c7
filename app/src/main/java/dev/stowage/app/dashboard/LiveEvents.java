package dev.stowage.app.dashboard;

import io.javalin.http.sse.SseClient;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The pages' live updates: one Server-Sent Events stream per open page, told at most once a second
 * that cycles ran (the page then fetches the parts it shows), with a comment every tick so that a
 * closed page's stream is noticed and dropped. Nothing is queued per page: a slow page misses
 * nothing it needs, since each event only says "read again".
 */
final class LiveEvents {
  /** Pages held open at most; one more is refused (the page falls back to its reload button). */
  static final int MAX_PAGES = 200;

  private final CopyOnWriteArrayList<SseClient> pages = new CopyOnWriteArrayList<>();
  private final AtomicLong cycles = new AtomicLong();
  private long told;

  /** Called after every cycle, on the cycle's thread. */
  void cycleRan() {
    cycles.incrementAndGet();
  }

  /** Opens a page's stream; false when too many are open. */
  boolean open(SseClient page) {
    if (pages.size() >= MAX_PAGES) {
      return false;
    }
    page.keepAlive();
    page.onClose(() -> pages.remove(page));
    pages.add(page);
    page.sendEvent("hello", Long.toString(cycles.get()));
    return true;
  }

  /** Once a second: tells every page that cycles ran since the last tick, if they did. */
  synchronized void tick() {
    long now = cycles.get();
    boolean ran = now != told;
    told = now;
    for (SseClient page : pages) {
      try {
        if (page.terminated()) {
          pages.remove(page);
        } else if (ran) {
          page.sendEvent("cycle", Long.toString(now));
        } else {
          page.sendComment("idle");
        }
      } catch (RuntimeException e) {
        pages.remove(page); // the connection is gone
      }
    }
  }

  int open() {
    return pages.size();
  }
}
