package dev.stowage.workload;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.stowage.engine.Assignment;
import dev.stowage.engine.Offer;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Task;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the contract's JSON Lines files. Every problem in a file is reported as a {@link
 * WorkloadException} naming the file and the line; blank lines are allowed and ignored. Unknown
 * fields are errors, so a misspelt resource never silently becomes 0.
 */
public final class WorkloadFiles {
  private static final JsonFactory JSON =
      JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
  private static final BigInteger MAX = BigInteger.valueOf(Resources.MAX_AMOUNT);

  private WorkloadFiles() {}

  public static Workload read(Path tasks, Path offers) throws WorkloadException {
    return new Workload(readTasks(tasks), readOffers(offers));
  }

  public static List<Task> readTasks(Path file) throws WorkloadException {
    var names = new HashMap<String, Long>();
    var out = new ArrayList<Task>();
    forEachLine(
        file,
        (line, text) -> {
          Record r = parse(file, line, text, "constraints");
          if (r.node != null) {
            throw new WorkloadException(file, line, "unknown field 'node' (tasks have no node)");
          }
          unique(file, line, names, r.name, "task");
          out.add(new Task(r.name, r.resources, r.labels));
        });
    return out;
  }

  public static List<Offer> readOffers(Path file) throws WorkloadException {
    var names = new HashMap<String, Long>();
    var out = new ArrayList<Offer>();
    forEachLine(
        file,
        (line, text) -> {
          Record r = parse(file, line, text, "attributes");
          if (r.node == null) {
            throw new WorkloadException(file, line, "missing field 'node'");
          }
          unique(file, line, names, r.name, "offer");
          out.add(new Offer(r.name, r.node, r.resources, r.labels));
        });
    return out;
  }

  /** Reads assignments ({@code {"task":..., "offer":...}} per line). */
  public static List<Assignment> readAssignments(Path file) throws WorkloadException {
    var out = new ArrayList<Assignment>();
    forEachLine(
        file,
        (line, text) -> {
          String task = null;
          String offer = null;
          try (JsonParser p = JSON.createParser(text)) {
            expect(file, line, p.nextToken() == JsonToken.START_OBJECT, "expected a JSON object");
            for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
              String field = p.currentName();
              p.nextToken();
              switch (field) {
                case "task" -> task = text(file, line, p, field);
                case "offer" -> offer = text(file, line, p, field);
                default -> throw new WorkloadException(file, line, "unknown field '" + field + "'");
              }
            }
            expect(file, line, p.nextToken() == null, "unexpected content after the object");
          } catch (JsonProcessingException e) {
            throw new WorkloadException(file, line, "malformed JSON: " + e.getOriginalMessage());
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
          expect(file, line, task != null, "missing field 'task'");
          expect(file, line, offer != null, "missing field 'offer'");
          out.add(new Assignment(task, offer));
        });
    return out;
  }

  public static void writeTasks(Path file, List<Task> tasks) throws IOException {
    try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        JsonGenerator g = generator(w)) {
      for (Task t : tasks) {
        g.writeStartObject();
        g.writeStringField("name", t.name());
        writeResources(g, t.requested());
        writeLabels(g, "constraints", t.constraints());
        g.writeEndObject();
        g.writeRaw('\n');
      }
    }
  }

  public static void writeOffers(Path file, List<Offer> offers) throws IOException {
    try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
        JsonGenerator g = generator(w)) {
      for (Offer o : offers) {
        g.writeStartObject();
        g.writeStringField("name", o.name());
        g.writeStringField("node", o.node());
        writeResources(g, o.available());
        writeLabels(g, "attributes", o.attributes());
        g.writeEndObject();
        g.writeRaw('\n');
      }
    }
  }

  public static void writeAssignments(Writer out, List<Assignment> assignments) throws IOException {
    var w = out instanceof BufferedWriter ? out : new BufferedWriter(out);
    try (JsonGenerator g = generator(w)) {
      g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
      for (Assignment a : assignments) {
        g.writeStartObject();
        g.writeStringField("task", a.task());
        g.writeStringField("offer", a.offer());
        g.writeEndObject();
        g.writeRaw('\n');
      }
    }
    w.flush();
  }

  /** One object per line: no separator between root values but the newline we write. */
  private static JsonGenerator generator(Writer w) throws IOException {
    JsonGenerator g = JSON.createGenerator(w);
    g.setRootValueSeparator(null);
    return g;
  }

  private static void writeResources(JsonGenerator g, Resources r) throws IOException {
    for (int d = 0; d < 4; d++) {
      g.writeNumberField(Resources.DIMENSIONS[d], r.get(d));
    }
  }

  private static void writeLabels(JsonGenerator g, String field, Map<String, String> labels)
      throws IOException {
    g.writeObjectFieldStart(field);
    // Sorted so that generated files are byte-for-byte reproducible.
    for (var e : new java.util.TreeMap<>(labels).entrySet()) {
      g.writeStringField(e.getKey(), e.getValue());
    }
    g.writeEndObject();
  }

  private record Record(
      String name, String node, Resources resources, Map<String, String> labels) {}

  private static Record parse(Path file, long line, String text, String labelsField)
      throws WorkloadException {
    String name = null;
    String node = null;
    long[] amounts = new long[4];
    Map<String, String> labels = Map.of();
    try (JsonParser p = JSON.createParser(text)) {
      expect(file, line, p.nextToken() == JsonToken.START_OBJECT, "expected a JSON object");
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        int dim = dimension(field);
        if (dim >= 0) {
          amounts[dim] = amount(file, line, p, value, field);
        } else if (field.equals("name")) {
          name = text(file, line, p, field);
        } else if (field.equals("node")) {
          node = text(file, line, p, field);
        } else if (field.equals(labelsField)) {
          labels = labels(file, line, p, value, field);
        } else {
          throw new WorkloadException(
              file,
              line,
              "unknown field '"
                  + field
                  + "' (expected name, "
                  + (labelsField.equals("attributes") ? "node, " : "")
                  + String.join(", ", Resources.DIMENSIONS)
                  + ", "
                  + labelsField
                  + ")");
        }
      }
      expect(file, line, p.nextToken() == null, "unexpected content after the object");
    } catch (JsonProcessingException e) {
      throw new WorkloadException(file, line, "malformed JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    expect(file, line, name != null, "missing field 'name'");
    expect(file, line, !name.isBlank(), "field 'name' must not be blank");
    expect(file, line, node == null || !node.isBlank(), "field 'node' must not be blank");
    return new Record(
        name, node, new Resources(amounts[0], amounts[1], amounts[2], amounts[3]), labels);
  }

  private static int dimension(String field) {
    for (int d = 0; d < 4; d++) {
      if (Resources.DIMENSIONS[d].equals(field)) {
        return d;
      }
    }
    return -1;
  }

  private static long amount(Path file, long line, JsonParser p, JsonToken value, String field)
      throws IOException, WorkloadException {
    if (value != JsonToken.VALUE_NUMBER_INT) {
      throw new WorkloadException(
          file,
          line,
          "field '"
              + field
              + "' must be an integer in [0, 2^53], got "
              + (value == JsonToken.VALUE_STRING ? "\"" + p.getText() + "\"" : p.getText()));
    }
    BigInteger v = p.getBigIntegerValue();
    if (v.signum() < 0 || v.compareTo(MAX) > 0) {
      throw new WorkloadException(
          file, line, "field '" + field + "' must be an integer in [0, 2^53], got " + v);
    }
    return v.longValueExact();
  }

  private static String text(Path file, long line, JsonParser p, String field)
      throws IOException, WorkloadException {
    if (p.currentToken() != JsonToken.VALUE_STRING) {
      throw new WorkloadException(file, line, "field '" + field + "' must be a string");
    }
    return p.getText();
  }

  private static Map<String, String> labels(
      Path file, long line, JsonParser p, JsonToken value, String field)
      throws IOException, WorkloadException {
    if (value == JsonToken.VALUE_NULL) {
      return Map.of();
    }
    if (value != JsonToken.START_OBJECT) {
      throw new WorkloadException(
          file, line, "field '" + field + "' must be an object of string values");
    }
    var out = new LinkedHashMap<String, String>();
    for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
      String key = p.currentName();
      if (p.nextToken() != JsonToken.VALUE_STRING) {
        throw new WorkloadException(
            file, line, "field '" + field + "." + key + "' must be a string");
      }
      out.put(key, p.getText());
    }
    return out;
  }

  private static void unique(Path file, long line, Map<String, Long> seen, String name, String what)
      throws WorkloadException {
    Long first = seen.putIfAbsent(name, line);
    if (first != null) {
      throw new WorkloadException(
          file, line, "duplicate " + what + " name '" + name + "' (first on line " + first + ")");
    }
  }

  private static void expect(Path file, long line, boolean ok, String problem)
      throws WorkloadException {
    if (!ok) {
      throw new WorkloadException(file, line, problem);
    }
  }

  @FunctionalInterface
  private interface LineHandler {
    void accept(long line, String text) throws WorkloadException;
  }

  private static void forEachLine(Path file, LineHandler handler) throws WorkloadException {
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      long line = 0;
      for (String text = in.readLine(); text != null; text = in.readLine()) {
        line++;
        if (!text.isBlank()) {
          handler.accept(line, text);
        }
      }
    } catch (NoSuchFileException e) {
      throw new WorkloadException(file, "no such file");
    } catch (java.nio.charset.MalformedInputException e) {
      throw new WorkloadException(file, "not valid UTF-8 text");
    } catch (IOException e) {
      throw new WorkloadException(file, "cannot read: " + e.getMessage());
    }
  }
}
