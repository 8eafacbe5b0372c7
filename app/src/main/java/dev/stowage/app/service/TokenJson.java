package dev.stowage.app.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.stowage.access.ApiToken;
import dev.stowage.access.Role;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Tokens as the API reads and shows them; a secret appears only in the answer to its creation. */
final class TokenJson {
  private TokenJson() {}

  /** {@code {"name", "role", "expiresInSeconds"}}: what a new token is to be. */
  record Request(String name, Role role, Duration lifetime) {}

  private static final Set<String> FIELDS = Set.of("name", "role", "expiresInSeconds");

  static Request parse(String body) {
    JsonNode root;
    root = TaskJson.readStrict(body);
    var errors = new ArrayList<FieldError>();
    if (root == null || !root.isObject()) {
      throw new InvalidSubmissionException(
          java.util.List.of(new FieldError("body", "expected {\"name\": ..., \"role\": ...}")));
    }
    root.fieldNames()
        .forEachRemaining(
            f -> {
              if (!FIELDS.contains(f)) {
                errors.add(
                    new FieldError(f, "unknown field (expected name, role, expiresInSeconds)"));
              }
            });
    JsonNode name = root.get("name");
    String n = null;
    if (name == null || !name.isTextual()) {
      errors.add(new FieldError("name", "required: a string"));
    } else if (ApiToken.nameProblem(name.asText()) != null) {
      errors.add(new FieldError("name", ApiToken.nameProblem(name.asText())));
    } else {
      n = name.asText();
    }
    JsonNode role = root.get("role");
    Role r = null;
    if (role == null || !role.isTextual()) {
      errors.add(new FieldError("role", "required: reader, submitter or admin"));
    } else {
      try {
        r = Role.parse(role.asText());
      } catch (IllegalArgumentException e) {
        errors.add(new FieldError("role", e.getMessage()));
      }
    }
    JsonNode expires = root.get("expiresInSeconds");
    Duration lifetime = null;
    if (expires != null && !expires.isNull()) {
      if (!expires.isIntegralNumber() || expires.asLong() < 1) {
        errors.add(
            new FieldError("expiresInSeconds", "must be a positive integer, got " + expires));
      } else {
        lifetime = Duration.ofSeconds(expires.asLong());
      }
    }
    if (!errors.isEmpty()) {
      throw new InvalidSubmissionException(errors);
    }
    return new Request(n, r, lifetime);
  }

  static Map<String, Object> view(ApiToken t) {
    var m = new LinkedHashMap<String, Object>();
    m.put("name", t.name());
    m.put("role", t.role().label());
    m.put("createdAt", t.createdAt().toString());
    m.put("expiresAt", t.expiresAt() == null ? null : t.expiresAt().toString());
    m.put("revokedAt", t.revokedAt() == null ? null : t.revokedAt().toString());
    m.put("createdBy", t.createdBy());
    return m;
  }
}
