package dev.stowage.access;

import java.time.Instant;

/**
 * One change made through the API, as the audit log records it.
 *
 * @param id increasing in the order of recording; 0 for an entry not yet recorded
 * @param actor the name of the token that made the change
 * @param action what was done: {@code submit}, {@code cancel}, {@code pause}, {@code resume},
 *     {@code token.create}, {@code token.revoke}
 * @param target what it was done to (task ids, a token's name), or empty
 * @param detail anything else worth keeping (a count, a role), or empty
 */
public record AuditEntry(
    long id, Instant at, String actor, String action, String target, String detail) {
  public AuditEntry {
    target = target == null ? "" : target;
    detail = detail == null ? "" : detail;
  }

  /** An entry to record now; the store gives it its id. */
  public static AuditEntry of(
      Instant at, String actor, String action, String target, String detail) {
    return new AuditEntry(0, at, actor, action, target, detail);
  }
}
