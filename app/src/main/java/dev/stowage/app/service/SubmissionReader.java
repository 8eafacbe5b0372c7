package dev.stowage.app.service;

import com.fasterxml.jackson.core.JsonToken;
import dev.stowage.app.service.Document.Arr;
import dev.stowage.app.service.Document.Node;
import dev.stowage.app.service.Document.Obj;
import dev.stowage.app.service.Document.Scalar;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Toleration;
import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.ArrayMember;
import dev.stowage.scheduler.Gang;
import dev.stowage.scheduler.InvalidSubmissionException;
import dev.stowage.scheduler.InvalidSubmissionException.FieldError;
import dev.stowage.scheduler.RetryPolicy;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StagedOutput;
import dev.stowage.scheduler.Submissions;
import dev.stowage.scheduler.TaskArrays;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TraceContext;
import dev.stowage.scheduler.preemption.PriorityClass;
import java.math.BigInteger;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A submission read field by field into tasks, with every problem found, each naming its field in
 * the user's words (and, for YAML, its line). Types are the fields' own: a string field takes a
 * YAML scalar as written ({@code yes} stays "yes", {@code 0x10} stays "0x10"), a JSON string field
 * takes only strings, an integer field only a decimal integer, and null is never a value (leave the
 * field out instead). Unknown fields and duplicate keys are errors.
 */
final class SubmissionReader {
  private static final Set<String> TASK_FIELDS =
      Set.of(
          "id",
          "name",
          "command",
          "env",
          "cpuMillis",
          "memoryMiB",
          "diskMiB",
          "gpus",
          "constraints",
          "priority",
          "dependsOn",
          "retry",
          "timeoutSeconds",
          "labels",
          "inputs",
          "outputs",
          "image",
          "tolerations",
          "queue",
          "array",
          "gang",
          "priorityClass");
  private static final Set<String> GANG_FIELDS = Set.of("name", "size");
  private static final Set<String> RETRY_FIELDS =
      Set.of("maxAttempts", "backoffSeconds", "maxBackoffSeconds");
  private static final Set<String> PAIR_FIELDS = Set.of("source", "destination");
  private static final Set<String> TOLERATION_FIELDS = Set.of("key", "operator", "value", "effect");
  private static final Set<String> EFFECTS = Set.of("NoSchedule", "NoExecute", "PreferNoSchedule");
  // Kubernetes' label key and value syntax, which taints share.
  private static final Pattern TAINT_KEY =
      Pattern.compile(
          "([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
              + "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?");
  private static final Pattern TAINT_VALUE =
      Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final Pattern DECIMAL = Pattern.compile("-?[0-9]+");
  private static final BigInteger MAX_AMOUNT = BigInteger.valueOf(Resources.MAX_AMOUNT);
  // The most tasks one submission may hold once its arrays are expanded: one transaction's worth.
  private static final int MAX_EXPANDED = 100_000;

  private final boolean yaml;
  private final Resources defaults;
  private final java.util.function.Predicate<String> queueExists;
  private final Function<String, java.util.Optional<PriorityClass>> priorityClasses;
  private final List<FieldError> errors = new ArrayList<>();

  private SubmissionReader(
      boolean yaml,
      Resources defaults,
      java.util.function.Predicate<String> queueExists,
      Function<String, java.util.Optional<PriorityClass>> priorityClasses) {
    this.yaml = yaml;
    this.defaults = defaults;
    this.queueExists = queueExists;
    this.priorityClasses = priorityClasses;
  }

  /**
   * As {@link #read(String, boolean, TraceContext, AllowedSources, AllowedSources, Resources)},
   * with no default request.
   */
  static TaskJson.Parsed read(
      String body,
      boolean yaml,
      TraceContext trace,
      AllowedSources allowed,
      AllowedSources allowedOutputs) {
    return read(body, yaml, trace, allowed, allowedOutputs, Resources.NONE);
  }

  /** As the full read, with every queue name accepted. */
  static TaskJson.Parsed read(
      String body,
      boolean yaml,
      TraceContext trace,
      AllowedSources allowed,
      AllowedSources allowedOutputs,
      Resources defaults) {
    return read(
        body,
        yaml,
        trace,
        allowed,
        allowedOutputs,
        defaults,
        q -> true,
        c -> java.util.Optional.empty());
  }

  /**
   * Specs from a body, and every field error in it; a submission with any error is not stored.
   *
   * @param defaults what a task that names no amount of a resource requests of it
   * @param queueExists whether a queue of that name exists: a task naming another is an error
   * @param priorityClasses the priority class of each name: a task naming none of them is an error
   */
  static TaskJson.Parsed read(
      String body,
      boolean yaml,
      TraceContext trace,
      AllowedSources allowed,
      AllowedSources allowedOutputs,
      Resources defaults,
      java.util.function.Predicate<String> queueExists,
      Function<String, java.util.Optional<PriorityClass>> priorityClasses) {
    Document doc = Document.read(body, yaml);
    var reader = new SubmissionReader(yaml, defaults, queueExists, priorityClasses);
    reader.errors.addAll(doc.duplicates);
    var specs = reader.tasks(doc.root, trace, allowed, allowedOutputs);
    var expanded = reader.expandArrays(specs);
    return new TaskJson.Parsed(expanded.specs(), expanded.at(), reader.errors);
  }

  /** A task as read, before an array is expanded into its tasks. */
  private record Read(TaskSpec spec, String at, Integer arraySize, Node arrayNode) {}

  /**
   * Each array's tasks in its place, and every dependency on an array of this submission made a
   * dependency on each of its tasks (as a Slurm dependency on an array waits for all of it).
   */
  private TaskJson.Parsed expandArrays(List<Read> read) {
    long total = 0;
    var arrays = new HashMap<String, Integer>();
    var ids = new HashMap<String, String>();
    for (Read r : read) {
      total += r.arraySize() == null ? 1 : r.arraySize();
      String first = ids.putIfAbsent(r.spec().id(), r.at());
      if (first != null && (r.arraySize() != null || arrays.containsKey(r.spec().id()))) {
        error(
            r.at() + ".id",
            "'" + r.spec().id() + "' names an array and another task (also " + first + ")",
            r.arrayNode());
      }
      if (r.arraySize() != null) {
        arrays.put(r.spec().id(), r.arraySize());
      }
    }
    var specs = new ArrayList<TaskSpec>();
    var at = new ArrayList<String>();
    long edges = 0;
    for (Read r : read) {
      long copies = r.arraySize() == null ? 1 : r.arraySize();
      for (String dep : r.spec().dependsOn()) {
        edges += copies * arrays.getOrDefault(dep, 1);
      }
    }
    if (edges > TaskArrays.MAX_EDGES) {
      errors.add(new FieldError("tasks", TaskArrays.tooManyEdges(edges)));
      return new TaskJson.Parsed(specs, at, errors);
    }
    if (total > MAX_EXPANDED) {
      errors.add(
          new FieldError(
              "tasks",
              "the arrays expand to "
                  + total
                  + " tasks, more than the "
                  + MAX_EXPANDED
                  + " one submission may hold"));
      return new TaskJson.Parsed(specs, at, errors);
    }
    for (Read r : read) {
      TaskSpec spec = r.spec();
      if (!arrays.isEmpty()) {
        spec = spec.withDependsOn(TaskArrays.members(spec.dependsOn(), arrays::get));
      }
      String last =
          r.arraySize() == null ? null : ArrayMember.memberId(spec.id(), r.arraySize() - 1);
      if (r.arraySize() == null || !Submissions.validId(spec.id())) {
        // Not an array, or one whose id the batch's check refuses once, not once per task.
        specs.add(spec);
        at.add(r.at());
      } else if (!Submissions.validId(last)) {
        error(
            r.at() + ".id",
            "'" + last + "', the array's last task, is not an id: at most 200 characters",
            r.arrayNode());
      } else {
        for (TaskSpec member : TaskArrays.expand(spec, r.arraySize())) {
          specs.add(member);
          at.add(r.at());
        }
      }
    }
    return new TaskJson.Parsed(specs, at, errors);
  }

  private List<Read> tasks(
      Node root, TraceContext trace, AllowedSources allowed, AllowedSources allowedOutputs) {
    if (!(root instanceof Obj obj)) {
      throw new InvalidSubmissionException(
          List.of(
              new FieldError(
                  "body",
                  "expected a task object, or {\"tasks\": [...]} for a batch, got "
                      + describe(root))));
    }
    var specs = new ArrayList<Read>();
    if (obj.fields().containsKey("tasks")) {
      for (String f : obj.fields().keySet()) {
        if (!f.equals("tasks")) {
          error(
              f,
              "unknown field beside 'tasks' (a batch holds only its tasks)",
              obj.fields().get(f));
        }
      }
      Node tasks = obj.fields().get("tasks");
      if (!(tasks instanceof Arr arr)) {
        error("tasks", "must be a list of tasks, got " + describe(tasks), tasks);
        return specs;
      }
      for (int i = 0; i < arr.items().size(); i++) {
        Read read = task(arr.items().get(i), "tasks[" + i + "]", i, trace, allowed, allowedOutputs);
        if (read != null) {
          specs.add(read);
        }
      }
    } else {
      Read read = task(obj, "", 0, trace, allowed, allowedOutputs);
      if (read != null) {
        specs.add(read);
      }
    }
    return specs;
  }

  /**
   * One task; where a field is wrong the spec carries a stand-in, so the batch is still checked.
   */
  private Read task(
      Node node,
      String at,
      int index,
      TraceContext trace,
      AllowedSources allowed,
      AllowedSources allowedOutputs) {
    if (!(node instanceof Obj obj)) {
      error(at.isEmpty() ? "body" : at, "must be a task object, got " + describe(node), node);
      return null;
    }
    String prefix = at.isEmpty() ? "" : at + ".";
    Map<String, Node> f = obj.fields();
    unknown(f, TASK_FIELDS, prefix, "a task");
    String id = f.containsKey("id") ? string(f.get("id"), prefix + "id") : null;
    if (!f.containsKey("id")) {
      error(prefix + "id", "required", obj);
    }
    List<String> command = null;
    if (!f.containsKey("command")) {
      error(prefix + "command", "required: the program and its arguments", obj);
    } else {
      command = strings(f.get("command"), prefix + "command");
    }
    long[] amounts = new long[4];
    for (int d = 0; d < 4; d++) {
      String name = Resources.DIMENSIONS[d];
      amounts[d] = defaults.get(d);
      if (f.containsKey(name)) {
        Long v = integer(f.get(name), prefix + name, BigInteger.ZERO, MAX_AMOUNT, "[0, 2^53]");
        amounts[d] = v == null ? 0 : v;
      }
    }
    Integer priority = null;
    if (f.containsKey("priority")) {
      Long p =
          integer(
              f.get("priority"),
              prefix + "priority",
              BigInteger.valueOf(Integer.MIN_VALUE),
              BigInteger.valueOf(Integer.MAX_VALUE),
              "[-2^31, 2^31-1]");
      priority = p == null ? null : p.intValue();
    }
    PriorityClass priorityClass = null;
    if (f.containsKey("priorityClass")) {
      priorityClass = priorityClass(f.get("priorityClass"), prefix + "priorityClass");
      if (f.containsKey("priority")) {
        error(
            prefix + "priority",
            "give priority or priorityClass, not both (a class's tasks take its value)",
            f.get("priority"));
      }
    }
    RetryPolicy retry = f.containsKey("retry") ? retry(f.get("retry"), prefix + "retry") : null;
    Duration timeout = null;
    if (f.containsKey("timeoutSeconds")) {
      timeout = seconds(f.get("timeoutSeconds"), prefix + "timeoutSeconds");
      if (timeout != null && timeout.isZero()) {
        error(prefix + "timeoutSeconds", "must be positive", f.get("timeoutSeconds"));
        timeout = null;
      }
    }
    var inputs =
        pairs(f.get("inputs"), prefix + "inputs", StagedInput::new, in -> in.problems(allowed));
    var outputs =
        pairs(
            f.get("outputs"),
            prefix + "outputs",
            StagedOutput::new,
            out -> out.problems(allowedOutputs));
    sameDestination(inputs, StagedInput::destination, prefix + "inputs", f.get("inputs"), true);
    sameDestination(
        outputs, StagedOutput::destination, prefix + "outputs", f.get("outputs"), false);
    Integer arraySize = null;
    if (f.containsKey("array")) {
      Long n =
          integer(
              f.get("array"),
              prefix + "array",
              BigInteger.ONE,
              BigInteger.valueOf(ArrayMember.MAX_SIZE),
              "[1, " + ArrayMember.MAX_SIZE + "] (how many tasks the array has)");
      arraySize = n == null ? null : n.intValue();
    }
    Map<String, String> env = f.containsKey("env") ? map(f.get("env"), prefix + "env", true) : null;
    if (arraySize != null && env != null) {
      for (String reserved : List.of(ArrayMember.INDEX_VARIABLE, ArrayMember.SIZE_VARIABLE)) {
        if (env.containsKey(reserved)) {
          error(
              prefix + "env." + reserved,
              "is set by Stowage for each task of an array",
              f.get("env"));
        }
      }
    }
    var spec =
        new TaskSpec(
            id == null || id.isBlank() ? "missing-id-" + index : id,
            f.containsKey("name") ? string(f.get("name"), prefix + "name") : null,
            command == null || command.contains(null) ? List.of("missing-command") : command,
            env,
            new Resources(amounts[0], amounts[1], amounts[2], amounts[3]),
            f.containsKey("constraints")
                ? map(f.get("constraints"), prefix + "constraints", false)
                : null,
            priorityClass != null ? priorityClass.value() : priority == null ? 0 : priority,
            f.containsKey("dependsOn")
                ? nonNull(strings(f.get("dependsOn"), prefix + "dependsOn"))
                : null,
            retry,
            timeout,
            f.containsKey("labels") ? map(f.get("labels"), prefix + "labels", false) : null,
            trace,
            inputs,
            outputs,
            null,
            f.containsKey("image") ? image(f.get("image"), prefix + "image") : null,
            f.containsKey("tolerations")
                ? tolerations(f.get("tolerations"), prefix + "tolerations")
                : null,
            f.containsKey("queue") ? queue(f.get("queue"), prefix + "queue") : null,
            null,
            f.containsKey("gang") ? gang(f.get("gang"), prefix + "gang") : null,
            priorityClass == null ? null : priorityClass.name());
    return new Read(spec, at.isEmpty() ? "tasks[0]" : at, arraySize, f.get("array"));
  }

  /** A gang: {@code {name, size}}, the name a Kubernetes name's syntax. */
  private Gang gang(Node node, String at) {
    if (!(node instanceof Obj obj)) {
      error(at, "must be {name, size}, got " + describe(node), node);
      return null;
    }
    Map<String, Node> f = obj.fields();
    unknown(f, GANG_FIELDS, at + ".", "a gang");
    String name = field(obj, "name", at);
    if (name != null && !dev.stowage.scheduler.queues.Queue.NAME.matcher(name).matches()) {
      error(
          at + ".name",
          dev.stowage.scheduler.queues.Queue.NAME_RULE + ", got \"" + name + "\"",
          f.get("name"));
      name = null;
    }
    Long size = null;
    if (!f.containsKey("size")) {
      error(at + ".size", "required: how many tasks the gang has", obj);
    } else {
      size =
          integer(
              f.get("size"),
              at + ".size",
              BigInteger.ONE,
              BigInteger.valueOf(Gang.MAX_SIZE),
              "[1, " + Gang.MAX_SIZE + "]");
    }
    return name == null || size == null ? null : new Gang(name, size.intValue());
  }

  private PriorityClass priorityClass(Node node, String at) {
    String s = string(node, at);
    if (s == null) {
      return null;
    }
    var found = priorityClasses.apply(s);
    if (found.isEmpty()) {
      error(
          at,
          "no priority class named \""
              + s.replace("\0", "\\0")
              + "\" (GET /api/priority-classes lists them)",
          node);
      return null;
    }
    return found.get();
  }

  private String queue(Node node, String at) {
    String s = string(node, at);
    if (s == null) {
      return null;
    }
    if (!dev.stowage.scheduler.queues.Queue.NAME.matcher(s).matches()) {
      error(at, dev.stowage.scheduler.queues.Queue.NAME_RULE + ", got \"" + s + "\"", node);
      return null;
    }
    if (!queueExists.test(s)) {
      error(at, "no queue named \"" + s + "\" (GET /api/queues lists them)", node);
      return null;
    }
    return s;
  }

  /**
   * Tolerations as Kubernetes writes them: {@code {key, operator: Equal|Exists, value, effect}},
   * operator {@code Equal} when absent, no key with {@code Exists} for every taint.
   */
  private List<Toleration> tolerations(Node node, String at) {
    var out = new ArrayList<Toleration>();
    if (!(node instanceof Arr arr)) {
      error(at, "must be a list of {key, operator, value, effect}, got " + describe(node), node);
      return out;
    }
    for (int j = 0; j < arr.items().size(); j++) {
      Node item = arr.items().get(j);
      String here = at + "[" + j + "]";
      if (!(item instanceof Obj obj)) {
        error(here, "must be {key, operator, value, effect}, got " + describe(item), item);
        continue;
      }
      Map<String, Node> f = obj.fields();
      unknown(f, TOLERATION_FIELDS, here + ".", "a toleration");
      int before = errors.size();
      String key = f.containsKey("key") ? string(f.get("key"), here + ".key") : "";
      String operator =
          f.containsKey("operator") ? string(f.get("operator"), here + ".operator") : "Equal";
      String value = f.containsKey("value") ? string(f.get("value"), here + ".value") : "";
      String effect = f.containsKey("effect") ? string(f.get("effect"), here + ".effect") : "";
      if (key != null
          && !key.isEmpty()
          && (key.length() > 317 || !TAINT_KEY.matcher(key).matches())) {
        error(
            here + ".key",
            "must be a taint key such as nvidia.com/gpu or dedicated, got '" + key + "'",
            f.get("key"));
      }
      if (operator != null && !operator.equals("Equal") && !operator.equals("Exists")) {
        error(
            here + ".operator",
            "must be Equal or Exists, got '" + operator + "'",
            f.get("operator"));
      }
      if (value != null && !TAINT_VALUE.matcher(value).matches()) {
        error(
            here + ".value",
            "must be a taint value: up to 63 letters, digits, '-', '_' or '.', got '" + value + "'",
            f.get("value"));
      }
      if (effect != null && !effect.isEmpty() && !EFFECTS.contains(effect)) {
        error(
            here + ".effect",
            "must be NoSchedule, NoExecute or PreferNoSchedule (or absent for all), got '"
                + effect
                + "'",
            f.get("effect"));
      }
      if ("Equal".equals(operator) && "".equals(key)) {
        error(here + ".key", "required with operator Equal (only Exists may leave it out)", item);
      }
      if ("Exists".equals(operator) && value != null && !value.isEmpty()) {
        error(here + ".value", "must be absent with operator Exists", f.get("value"));
      }
      if (errors.size() == before) {
        out.add(new Toleration(key, operator.equals("Exists"), value, effect));
      }
    }
    return out;
  }

  /** A container image reference: what a backend that runs images pulls; no spaces. */
  private String image(Node node, String at) {
    String s = string(node, at);
    if (s != null
        && (s.isEmpty() || s.length() > 512 || !s.chars().allMatch(c -> c > 32 && c < 127))) {
      error(
          at,
          "must be an image reference such as registry.example/team/etl:1.4, 1 to 512 visible"
              + " ASCII characters, got '"
              + s
              + "'",
          node);
      return null;
    }
    return s;
  }

  private RetryPolicy retry(Node node, String at) {
    if (!(node instanceof Obj obj)) {
      error(
          at,
          "must be an object {maxAttempts, backoffSeconds, maxBackoffSeconds}, got "
              + describe(node),
          node);
      return null;
    }
    Map<String, Node> f = obj.fields();
    unknown(f, RETRY_FIELDS, at + ".", "retry");
    int max = 1;
    if (f.containsKey("maxAttempts")) {
      Long m =
          integer(
              f.get("maxAttempts"),
              at + ".maxAttempts",
              BigInteger.ONE,
              BigInteger.valueOf(Integer.MAX_VALUE),
              "[1, 2^31-1]");
      max = m == null ? 1 : m.intValue();
    }
    Duration backoff =
        f.containsKey("backoffSeconds")
            ? seconds(f.get("backoffSeconds"), at + ".backoffSeconds")
            : null;
    Duration maxBackoff =
        f.containsKey("maxBackoffSeconds")
            ? seconds(f.get("maxBackoffSeconds"), at + ".maxBackoffSeconds")
            : null;
    return new RetryPolicy(
        max,
        backoff == null ? Duration.ZERO : backoff,
        maxBackoff == null ? Duration.ZERO : maxBackoff);
  }

  /** Each {source, destination} pair of a list, made a T, with every field error it has. */
  private <T> List<T> pairs(
      Node node,
      String at,
      BiFunction<String, String, T> make,
      Function<T, Map<String, String>> problems) {
    var out = new ArrayList<T>();
    if (node == null) {
      return out;
    }
    if (!(node instanceof Arr arr)) {
      error(at, "must be a list of {source, destination}, got " + describe(node), node);
      return out;
    }
    for (int j = 0; j < arr.items().size(); j++) {
      Node item = arr.items().get(j);
      String here = at + "[" + j + "]";
      if (!(item instanceof Obj obj)) {
        error(here, "must be {source, destination}, got " + describe(item), item);
        continue;
      }
      unknown(obj.fields(), PAIR_FIELDS, here + ".", "a {source, destination} pair");
      String source = field(obj, "source", here);
      String destination = field(obj, "destination", here);
      if (source == null || destination == null) {
        continue;
      }
      T made = make.apply(source, destination);
      problems
          .apply(made)
          .forEach((k, v) -> errors.add(new FieldError(here + "." + k, v + where(item))));
      out.add(made);
    }
    return out;
  }

  private String field(Obj obj, String name, String at) {
    Node n = obj.fields().get(name);
    if (n == null) {
      error(at + "." + name, "required", obj);
      return null;
    }
    return string(n, at + "." + name);
  }

  /**
   * Two inputs into one place would overwrite each other; two outputs from one source to one
   * destination would too.
   */
  private <T> void sameDestination(
      List<T> pairs, Function<T, String> destination, String at, Node node, boolean inputs) {
    var seen = new HashMap<String, Integer>();
    for (int j = 0; j < pairs.size(); j++) {
      String d = destination.apply(pairs.get(j));
      String key = inputs ? Path.of(d).normalize().toString() : d;
      Integer first = seen.putIfAbsent(key, j);
      if (first != null) {
        error(
            at + "[" + j + "].destination",
            "the same destination as " + at + "[" + first + "] ('" + d + "')",
            node);
      }
    }
  }

  private void unknown(Map<String, Node> fields, Set<String> known, String prefix, String what) {
    for (var e : fields.entrySet()) {
      if (!known.contains(e.getKey())) {
        error(
            prefix + e.getKey(),
            "unknown field of "
                + what
                + " (expected one of "
                + String.join(", ", new java.util.TreeSet<>(known))
                + ")",
            e.getValue());
      }
    }
  }

  /** A string as written; null (with an error) for anything else. */
  private String string(Node node, String at) {
    if (node instanceof Scalar s && !s.isNull()) {
      if (s.token() == JsonToken.VALUE_STRING || yaml) {
        if (s.text().indexOf('\0') >= 0) {
          error(at, "contains a NUL character", node);
          return null;
        }
        return s.text();
      }
    }
    error(at, "must be a string, got " + describe(node), node);
    return null;
  }

  /** As {@link #string}, for an env value, which may be a secret: its error never shows it. */
  private String secret(Node node, String at) {
    if (node instanceof Scalar s && !s.isNull() && (s.token() == JsonToken.VALUE_STRING || yaml)) {
      return string(node, at);
    }
    String kind =
        switch (node) {
          case Obj o -> "an object";
          case Arr a -> "a list";
          case Scalar s when s.isNull() -> "null";
          case Scalar s
              when s.token() == JsonToken.VALUE_TRUE || s.token() == JsonToken.VALUE_FALSE ->
              "a boolean";
          default -> "a number";
        };
    error(
        at,
        "must be a string, got " + kind + " (its value is not shown: env may hold secrets)",
        node);
    return null;
  }

  private List<String> strings(Node node, String at) {
    if (!(node instanceof Arr arr)) {
      error(at, "must be a list of strings, got " + describe(node), node);
      return null;
    }
    var out = new ArrayList<String>();
    for (int i = 0; i < arr.items().size(); i++) {
      out.add(string(arr.items().get(i), at + "[" + i + "]"));
    }
    return out;
  }

  private static List<String> nonNull(List<String> values) {
    return values == null ? null : values.stream().filter(java.util.Objects::nonNull).toList();
  }

  /** A map of strings to strings; for {@code env}, keys must be variable names. */
  private Map<String, String> map(Node node, String at, boolean env) {
    if (!(node instanceof Obj obj)) {
      error(at, "must be an object of string values, got " + describe(node), node);
      return null;
    }
    var out = new LinkedHashMap<String, String>();
    for (var e : obj.fields().entrySet()) {
      String key = e.getKey();
      String here = at + "." + key;
      if (env && !ENV_NAME.matcher(key).matches()) {
        error(
            at,
            "'"
                + key.replace("\0", "\\0")
                + "' is not a variable name: letters, digits and '_', not starting with a digit",
            e.getValue());
        continue;
      }
      if (key.indexOf('\0') >= 0 || key.isEmpty()) {
        error(at, "a key may not be empty or hold a NUL character", e.getValue());
        continue;
      }
      String v = env ? secret(e.getValue(), here) : string(e.getValue(), here);
      if (v != null) {
        out.put(key, v);
      }
    }
    return out;
  }

  /** A decimal integer within bounds, as written (no quotes, no fraction, no 0x or _). */
  private Long integer(Node node, String at, BigInteger min, BigInteger max, String range) {
    if (node instanceof Scalar s
        && s.token() == JsonToken.VALUE_NUMBER_INT
        && DECIMAL.matcher(s.text()).matches()) {
      var v = new BigInteger(s.text());
      if (v.compareTo(min) >= 0 && v.compareTo(max) <= 0) {
        return v.longValue();
      }
    }
    error(at, "must be an integer in " + range + ", got " + describe(node), node);
    return null;
  }

  private Duration seconds(Node node, String at) {
    if (node instanceof Scalar s
        && (s.token() == JsonToken.VALUE_NUMBER_INT || s.token() == JsonToken.VALUE_NUMBER_FLOAT)) {
      try {
        double v = Double.parseDouble(s.text());
        if (v >= 0 && v <= 1e9) {
          return Duration.ofNanos((long) (v * 1e9));
        }
      } catch (NumberFormatException e) {
        // reported below
      }
    }
    error(at, "must be a number of seconds in [0, 1e9], got " + describe(node), node);
    return null;
  }

  private void error(String field, String message, Node node) {
    errors.add(new FieldError(field, message + where(node)));
  }

  private String where(Node node) {
    return yaml && node != null ? " (line " + node.line() + ")" : "";
  }

  /** A value as the user would name it. */
  private static String describe(Node node) {
    return switch (node) {
      case null -> "nothing";
      case Obj o -> "an object";
      case Arr a -> "a list";
      case Scalar s when s.isNull() -> "null";
      case Scalar s when s.token() == JsonToken.VALUE_STRING ->
          "the string \"" + s.text().replace("\0", "\\0") + "\"";
      case Scalar s -> s.text();
    };
  }
}
