package dev.stowage.app.service;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A request body read as written, JSON or YAML, before any type is given to it: every value keeps
 * its text and its line, so that a reader can take a YAML scalar as the string the user typed
 * ({@code yes}, {@code 0x10} and {@code NO} stay themselves) and name where each problem is.
 * Duplicate keys are refused while reading, every one of them.
 */
final class Document {
  private static final JsonFactory JSON =
      JsonFactory.builder()
          .enable(com.fasterxml.jackson.core.StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
          .build();
  private static final YAMLFactory YAML = new YAMLFactory();

  /** A value of the document. */
  sealed interface Node {
    int line();
  }

  record Obj(Map<String, Node> fields, int line) implements Node {}

  record Arr(List<Node> items, int line) implements Node {}

  /**
   * A scalar: {@code token} says what the parser took it for; {@code text} is as written.
   *
   * @param quoted a JSON string, or a quoted (or non-numeric, non-boolean) YAML scalar
   */
  record Scalar(JsonToken token, String text, int line) implements Node {
    boolean isNull() {
      return token == JsonToken.VALUE_NULL;
    }
  }

  final Node root;
  final boolean yaml;
  final List<FieldError> duplicates;

  private Document(Node root, boolean yaml, List<FieldError> duplicates) {
    this.root = root;
    this.yaml = yaml;
    this.duplicates = duplicates;
  }

  /** Reads a body; a syntax error is a 400 naming its line. */
  static Document read(String body, boolean yaml) {
    var duplicates = new ArrayList<FieldError>();
    try (JsonParser p = (yaml ? YAML : JSON).createParser(body)) {
      JsonToken first = p.nextToken();
      if (first == null) {
        throw invalid("body", "empty: expected a task, or {\"tasks\": [...]} for a batch");
      }
      Node root = node(p, "", duplicates);
      if (p.nextToken() != null && !yaml) {
        throw invalid("body", "more after the end of the first value (line " + line(p) + ")");
      }
      return new Document(root, yaml, duplicates);
    } catch (JsonProcessingException e) {
      var at = e.getLocation();
      throw invalid(
          "body",
          "not "
              + (yaml ? "YAML" : "JSON")
              + ": "
              + e.getOriginalMessage().lines().findFirst().orElse("").strip()
              + (at == null
                  ? ""
                  : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
    } catch (IOException e) {
      throw invalid("body", "unreadable: " + e.getMessage());
    }
  }

  private static Node node(JsonParser p, String path, List<FieldError> duplicates)
      throws IOException {
    int line = line(p);
    JsonToken t = p.currentToken();
    if (t == JsonToken.START_OBJECT) {
      var fields = new LinkedHashMap<String, Node>();
      for (JsonToken k = p.nextToken(); k != JsonToken.END_OBJECT; k = p.nextToken()) {
        String name = p.currentName();
        int keyLine = line(p);
        p.nextToken();
        Node value = node(p, path.isEmpty() ? name : path + "." + name, duplicates);
        if (fields.containsKey(name)) {
          duplicates.add(
              new FieldError(
                  path.isEmpty() ? name : path + "." + name,
                  "duplicate key '"
                      + name
                      + "' (line "
                      + keyLine
                      + "; first at line "
                      + fields.get(name).line()
                      + ")"));
        } else {
          fields.put(name, value);
        }
      }
      return new Obj(fields, line);
    }
    if (t == JsonToken.START_ARRAY) {
      var items = new ArrayList<Node>();
      for (JsonToken k = p.nextToken(); k != JsonToken.END_ARRAY; k = p.nextToken()) {
        items.add(node(p, path + "[" + items.size() + "]", duplicates));
      }
      return new Arr(items, line);
    }
    return new Scalar(t, p.getText(), line);
  }

  private static int line(JsonParser p) {
    return p.currentTokenLocation().getLineNr();
  }

  private static InvalidSubmissionException invalid(String field, String message) {
    return new InvalidSubmissionException(List.of(new FieldError(field, message)));
  }
}
