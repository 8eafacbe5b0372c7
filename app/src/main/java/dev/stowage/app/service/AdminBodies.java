package dev.stowage.app.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.access.AccessStore;
import dev.stowage.access.AuditEntry;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import io.javalin.http.Context;
import java.time.Clock;
import java.util.List;

/** What the admins' named things (queues, priority classes) read and record alike. */
final class AdminBodies {
  private AdminBodies() {}

  /**
   * The body's {@code name}: required on a create ({@code pathName} null); on a replace it may be
   * left out, and must be the path's when given. Null, with the error added, when it is wrong.
   */
  static String name(JsonNode root, String pathName, List<FieldError> errors) {
    JsonNode n = root.get("name");
    if (n == null || n.isNull()) {
      if (pathName == null) {
        errors.add(new FieldError("name", "required: a string"));
      }
      return pathName;
    }
    if (!n.isTextual()) {
      errors.add(new FieldError("name", "must be a string, got " + n));
      return null;
    }
    if (pathName != null && !pathName.equals(n.asText())) {
      errors.add(
          new FieldError("name", "is '" + n.asText() + "' but the path names '" + pathName + "'"));
      return null;
    }
    return n.asText();
  }

  /** One change by the request's token, in the audit log. */
  static void audit(
      AccessStore access, Clock clock, Context ctx, String action, String target, String detail) {
    access.record(
        AuditEntry.of(clock.instant(), ApiGuard.token(ctx).name(), action, target, detail));
  }
}
