package dev.stowage.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.stowage.engine.Resources;
import dev.stowage.engine.Toleration;
import dev.stowage.scheduler.ArrayMember;
import dev.stowage.scheduler.AttemptId;
import dev.stowage.scheduler.Gang;
import dev.stowage.scheduler.RetryPolicy;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StagedOutput;
import dev.stowage.scheduler.StoredTask;
import dev.stowage.scheduler.Submissions;
import dev.stowage.scheduler.TaskFilter;
import dev.stowage.scheduler.TaskSpec;
import dev.stowage.scheduler.TaskState;
import dev.stowage.scheduler.TaskStore;
import dev.stowage.scheduler.TraceContext;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;

/** The task store on PostgreSQL: one transaction per call, the lifecycle checked twice. */
public final class PostgresTaskStore implements TaskStore {
  private static final ObjectMapper JSON = new ObjectMapper();
  // Readers built once: the cycle reads tens of thousands of rows, each with four JSON columns.
  private static final ObjectReader STRING_MAP =
      JSON.readerFor(new TypeReference<Map<String, String>>() {});
  private static final ObjectReader OUTPUTS =
      JSON.readerFor(new TypeReference<List<StagedOutput>>() {});
  private static final ObjectReader INPUTS =
      JSON.readerFor(new TypeReference<List<StagedInput>>() {});
  private static final ObjectReader TOLERATIONS =
      JSON.readerFor(new TypeReference<List<Toleration>>() {});
  private static final ObjectReader STRING_LIST =
      JSON.readerFor(new TypeReference<List<String>>() {});

  private static final String COLUMNS =
      "id, name, state, priority, cpu_millis, memory_mib, disk_mib, gpus, constraints, command,"
          + " env, labels, max_attempts, backoff_ms, max_backoff_ms, timeout_ms, trace_parent,"
          + " attempt, offer, pending_dependencies, not_before, submitted_at, updated_at,"
          + " depends_on, never_schedulable, inputs, last_error, trace_state, outputs, owner, image,"
          + " tolerations, queue, array_id, array_index, array_size, gang, gang_size,"
          + " priority_class, preemptions, preempted_by, attempts_before_retry";

  private final DataSource dataSource;
  private final int writers;
  private final int chunkMin;

  public PostgresTaskStore(DataSource dataSource) {
    // Two writers already halve a 20,000-row cycle write on two cores; more than four rarely pay.
    this(dataSource, Math.clamp(Runtime.getRuntime().availableProcessors(), 1, 4), 4_000);
  }

  /**
   * A store that writes each batch in one transaction: behind the scheduling state, whose writes
   * are off the cycle's path, a second writer would only take a core from the API's readers.
   */
  public static PostgresTaskStore oneWriter(DataSource dataSource) {
    return new PostgresTaskStore(dataSource, 1, 4_000);
  }

  /**
   * @param writers how many transactions a large batch write is split into, side by side
   * @param chunkMin the fewest rows worth a transaction of their own
   */
  PostgresTaskStore(DataSource dataSource, int writers, int chunkMin) {
    if (writers < 1 || chunkMin < 1) {
      throw new IllegalArgumentException("writers and chunkMin must be at least 1");
    }
    this.dataSource = dataSource;
    this.writers = writers;
    this.chunkMin = chunkMin;
  }

  @Override
  public void submit(List<TaskSpec> batch, Map<String, String> neverSchedulable, Instant now) {
    try {
      insert(batch, neverSchedulable, now);
    } catch (StoreException e) {
      if (!"23505".equals(e.sqlState())) {
        throw e;
      }
      // Another submit stored one of these ids after this one checked: the same conflict.
      var ids = batch.stream().map(TaskSpec::id).toList();
      var taken = existing(ids);
      throw new dev.stowage.scheduler.DuplicateTaskException(
          ids.stream().filter(taken::contains).toList());
    }
  }

  private void insert(List<TaskSpec> batch, Map<String, String> neverSchedulable, Instant now) {
    inTransaction(
        c -> {
          var named = new LinkedHashSet<String>();
          for (TaskSpec t : batch) {
            named.add(t.id());
            named.addAll(t.dependsOn());
          }
          Map<String, TaskState> stored = states(c, named);
          Set<String> gangsTaken =
              unfinishedGangs(
                  c,
                  batch.stream()
                      .filter(t -> t.gang() != null)
                      .map(t -> t.gang().name())
                      .collect(java.util.stream.Collectors.toSet()));
          Submissions.check(batch, stored.keySet(), gangsTaken::contains);
          Submissions.refuseTaken(batch, stored.keySet());

          // A dependency that already failed dooms its dependants, through the whole batch.
          Set<String> doomed = Submissions.doomed(batch, stored);

          // One statement for the whole batch, a column per array: PostgreSQL parses and plans
          // it once, where batched rows (even rewritten into multi-row inserts) cost a plan per
          // statement and a parameter per field.
          int n = batch.size();
          var ids = new String[n];
          var names = new String[n];
          var states = new String[n];
          var priorities = new Integer[n];
          var cpu = new Long[n];
          var memory = new Long[n];
          var disk = new Long[n];
          var gpus = new Long[n];
          var constraints = new String[n];
          var commands = new String[n];
          var envs = new String[n];
          var labels = new String[n];
          var maxAttempts = new Integer[n];
          var backoff = new Long[n];
          var maxBackoff = new Long[n];
          var timeout = new Long[n];
          var traceParent = new String[n];
          var pendingDeps = new Integer[n];
          var dependsOn = new String[n];
          var never = new String[n];
          var inputs = new String[n];
          var traceState = new String[n];
          var outputs = new String[n];
          var owners = new String[n];
          var images = new String[n];
          var tolerations = new String[n];
          var queues = new String[n];
          var arrayIds = new String[n];
          var arrayIndices = new Integer[n];
          var arraySizes = new Integer[n];
          var gangs = new String[n];
          var gangSizes = new Integer[n];
          var priorityClasses = new String[n];
          var edgeFrom = new ArrayList<String>();
          var edgeTo = new ArrayList<String>();
          for (int r = 0; r < n; r++) {
            TaskSpec t = batch.get(r);
            var deps = new LinkedHashSet<>(t.dependsOn());
            int pending = 0;
            for (String dep : deps) {
              if (stored.get(dep) != TaskState.SUCCEEDED) {
                pending++;
              }
              edgeFrom.add(t.id());
              edgeTo.add(dep);
            }
            TaskState state =
                doomed.contains(t.id())
                    ? TaskState.UPSTREAM_FAILED
                    : pending == 0 ? TaskState.QUEUED : TaskState.WAITING;
            ids[r] = t.id();
            names[r] = t.name();
            states[r] = state.label();
            priorities[r] = t.priority();
            cpu[r] = t.resources().cpuMillis();
            memory[r] = t.resources().memoryMiB();
            disk[r] = t.resources().diskMiB();
            gpus[r] = t.resources().gpus();
            constraints[r] = json(t.constraints());
            commands[r] = json(t.command());
            envs[r] = json(t.env());
            labels[r] = json(t.labels());
            maxAttempts[r] = t.retry().maxAttempts();
            backoff[r] = t.retry().backoff().toMillis();
            maxBackoff[r] = t.retry().maxBackoff().toMillis();
            timeout[r] = t.timeout() == null ? null : t.timeout().toMillis();
            traceParent[r] = t.trace() == null ? null : t.trace().traceparent();
            pendingDeps[r] = pending;
            dependsOn[r] = json(new java.util.TreeSet<>(deps));
            never[r] = neverSchedulable.get(t.id());
            inputs[r] = json(t.inputs());
            traceState[r] = t.trace() == null ? null : t.trace().tracestate();
            outputs[r] = json(t.outputs());
            owners[r] = t.owner();
            images[r] = t.image();
            tolerations[r] = json(t.tolerations());
            queues[r] = t.queue();
            if (t.array() != null) {
              arrayIds[r] = t.array().arrayId();
              arrayIndices[r] = t.array().index();
              arraySizes[r] = t.array().size();
            }
            priorityClasses[r] = t.priorityClass();
            if (t.gang() != null) {
              gangs[r] = t.gang().name();
              gangSizes[r] = t.gang().size();
            }
          }
          try (PreparedStatement insert =
                  c.prepareStatement(
                      "insert into tasks ("
                          + COLUMNS
                          + ") select id, name, state, priority, cpu, memory, disk, gpus,"
                          + " constraints::jsonb, command::jsonb, env::jsonb, labels::jsonb,"
                          + " max_attempts, backoff, max_backoff, timeout, trace_parent, 0, null,"
                          + " pending, null, ?, ?,"
                          + " array(select jsonb_array_elements_text(depends_on::jsonb)),"
                          + " never, inputs::jsonb, null, trace_state, outputs::jsonb, owner,"
                          + " image, tolerations::jsonb, queue, array_id, array_index, array_size,"
                          + " gang, gang_size, priority_class, 0, null, 0"
                          + " from unnest(?::text[], ?::text[], ?::text[], ?::int[], ?::bigint[],"
                          + " ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[],"
                          + " ?::text[], ?::text[], ?::int[], ?::bigint[], ?::bigint[],"
                          + " ?::bigint[], ?::text[], ?::int[], ?::text[], ?::text[], ?::text[],"
                          + " ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],"
                          + " ?::text[], ?::int[], ?::int[], ?::text[], ?::int[], ?::text[])"
                          + " with"
                          + " ordinality as"
                          + " u(id, name,"
                          + " state, priority, cpu, memory, disk, gpus, constraints, command, env,"
                          + " labels, max_attempts, backoff, max_backoff, timeout, trace_parent,"
                          + " pending, depends_on, never, inputs, trace_state, outputs, owner,"
                          + " image, tolerations, queue, array_id, array_index, array_size, gang,"
                          + " gang_size, priority_class, ord) order by ord");
              PreparedStatement edge =
                  c.prepareStatement(
                      "insert into task_dependencies (task_id, depends_on)"
                          + " select * from unnest(?::text[], ?::text[])")) {
            Timestamp at = Timestamp.from(now);
            int i = 1;
            insert.setTimestamp(i++, at);
            insert.setTimestamp(i++, at);
            insert.setArray(i++, c.createArrayOf("text", ids));
            insert.setArray(i++, c.createArrayOf("text", names));
            insert.setArray(i++, c.createArrayOf("text", states));
            insert.setArray(i++, c.createArrayOf("int4", priorities));
            insert.setArray(i++, c.createArrayOf("int8", cpu));
            insert.setArray(i++, c.createArrayOf("int8", memory));
            insert.setArray(i++, c.createArrayOf("int8", disk));
            insert.setArray(i++, c.createArrayOf("int8", gpus));
            insert.setArray(i++, c.createArrayOf("text", constraints));
            insert.setArray(i++, c.createArrayOf("text", commands));
            insert.setArray(i++, c.createArrayOf("text", envs));
            insert.setArray(i++, c.createArrayOf("text", labels));
            insert.setArray(i++, c.createArrayOf("int4", maxAttempts));
            insert.setArray(i++, c.createArrayOf("int8", backoff));
            insert.setArray(i++, c.createArrayOf("int8", maxBackoff));
            insert.setArray(i++, c.createArrayOf("int8", timeout));
            insert.setArray(i++, c.createArrayOf("text", traceParent));
            insert.setArray(i++, c.createArrayOf("int4", pendingDeps));
            insert.setArray(i++, c.createArrayOf("text", dependsOn));
            insert.setArray(i++, c.createArrayOf("text", never));
            insert.setArray(i++, c.createArrayOf("text", inputs));
            insert.setArray(i++, c.createArrayOf("text", traceState));
            insert.setArray(i++, c.createArrayOf("text", outputs));
            insert.setArray(i++, c.createArrayOf("text", owners));
            insert.setArray(i++, c.createArrayOf("text", images));
            insert.setArray(i++, c.createArrayOf("text", tolerations));
            insert.setArray(i++, c.createArrayOf("text", queues));
            insert.setArray(i++, c.createArrayOf("text", arrayIds));
            insert.setArray(i++, c.createArrayOf("int4", arrayIndices));
            insert.setArray(i++, c.createArrayOf("int4", arraySizes));
            insert.setArray(i++, c.createArrayOf("text", gangs));
            insert.setArray(i++, c.createArrayOf("int4", gangSizes));
            insert.setArray(i, c.createArrayOf("text", priorityClasses));
            insert.executeUpdate();
            if (!edgeFrom.isEmpty()) {
              edge.setArray(1, c.createArrayOf("text", edgeFrom.toArray()));
              edge.setArray(2, c.createArrayOf("text", edgeTo.toArray()));
              edge.executeUpdate();
            }
          }
          return null;
        });
  }

  @Override
  public List<StoredTask> list(TaskState state, String afterId, int limit) {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "select "
                      + COLUMNS
                      + " from tasks where (?::text is null or state = ?)"
                      // An id that is not stored gives no page, rather than the first.
                      + " and seq > (case when ?::text is null then -1"
                      + " else (select seq from tasks where id = ?) end)"
                      + " order by seq limit ?")) {
            String s = state == null ? null : state.label();
            q.setString(1, s);
            q.setString(2, s);
            q.setString(3, afterId);
            q.setString(4, afterId);
            q.setInt(5, limit);
            return readAll(q);
          }
        });
  }

  @Override
  public TaskFilter.Page newest(TaskFilter filter, String beforeId, int limit) {
    // The tasks looked at: newest first, at most SEARCHED_MAX (one more tells whether there are
    // older ones), and no more once the page is full. State and queue stay in the WHERE, each
    // with an index that gives its tasks in order; the label is tested on each task looked at,
    // since a label with a state can match none of a million tasks and its index would then
    // have the planner read all that the state matches.
    var where = new StringBuilder(" where true");
    var hit = new StringBuilder("true");
    var whereParams = new ArrayList<String>();
    var hitParams = new ArrayList<String>();
    if (filter.state() != null) {
      where.append(" and state = ?");
      whereParams.add(filter.state().label());
    }
    if (filter.queue() != null) {
      where.append(" and queue = ?");
      whereParams.add(filter.queue());
    }
    if (beforeId != null) {
      // An id that is not stored gives no page, rather than the first.
      where.append(" and seq < coalesce((select seq from tasks where id = ?), -1)");
      whereParams.add(beforeId);
    }
    if (filter.idPrefix() != null) {
      // Alone, by its index; beside a state or a queue, tested on each task they give (the two
      // together can match none, and the planner cannot know).
      boolean alone = filter.state() == null && filter.queue() == null;
      // The prefix literally: its backslashes, % and _ escaped.
      (alone ? where : hit).append(" and id like ? escape '\\'");
      (alone ? whereParams : hitParams)
          .add(filter.idPrefix().replaceAll("([\\\\%_])", "\\\\$1") + "%");
    }
    if (filter.labelKey() != null) {
      hit.append(" and labels @> jsonb_build_object(?::text, ?::text)");
      hitParams.add(filter.labelKey());
      hitParams.add(filter.labelValue());
    }
    // Both running counts only grow, so PostgreSQL stops the scan at the first row past either
    // bound (a window function's run condition) instead of reading all SEARCHED_MAX.
    String sql =
        "with looked as (select seq, id, hit, looked_n from ("
            + "select seq, id, hit, row_number() over w as looked_n,"
            + " count(case when hit then 1 end) over w as hits_n from ("
            + "select seq, id, "
            + hit
            + " as hit from tasks"
            + where
            + " order by seq desc limit ?) candidates"
            + " window w as (order by seq desc rows between unbounded preceding and current row)"
            + ") counted where looked_n <= ? and hits_n <= ?),"
            + " summary as (select (select max(looked_n) from looked) as looked_n,"
            + " (select id from looked where looked_n = ?) as oldest)"
            + " select s.looked_n, s.oldest, t.* from summary s left join (select "
            + COLUMNS
            + ", seq from tasks where seq in (select seq from looked where hit and looked_n <= ?))"
            + " t on true order by t.seq desc nulls last";
    return inTransaction(
        c -> {
          // A plan for these very values: a generic plan, which the driver's prepared statement
          // gets after a few runs, cannot use the prefix's index for an unknown prefix.
          try (var s = c.createStatement()) {
            s.execute("set local plan_cache_mode = force_custom_plan");
          }
          try (PreparedStatement q = c.prepareStatement(sql)) {
            int i = 1;
            for (String p : hitParams) {
              q.setString(i++, p);
            }
            for (String p : whereParams) {
              q.setString(i++, p);
            }
            q.setInt(i++, TaskFilter.SEARCHED_MAX + 1);
            q.setInt(i++, TaskFilter.SEARCHED_MAX + 1);
            q.setInt(i++, limit);
            q.setInt(i++, TaskFilter.SEARCHED_MAX);
            q.setInt(i, TaskFilter.SEARCHED_MAX);
            var tasks = new ArrayList<StoredTask>();
            long looked = 0;
            String oldest = null;
            try (ResultSet rs = q.executeQuery()) {
              while (rs.next()) {
                looked = rs.getLong("looked_n");
                oldest = rs.getString("oldest");
                if (rs.getString("id") != null) {
                  tasks.add(read(rs));
                }
              }
            }
            boolean stopped = looked > TaskFilter.SEARCHED_MAX && tasks.size() < limit;
            return new TaskFilter.Page(tasks, stopped ? oldest : null);
          }
        });
  }

  @Override
  public Set<String> dependantsOf(Collection<String> ids) {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "select distinct task_id from task_dependencies where depends_on = any(?)"
                      + " order by task_id")) {
            q.setArray(1, c.createArrayOf("text", ids.toArray()));
            var out = new java.util.LinkedHashSet<String>();
            try (var rs = q.executeQuery()) {
              while (rs.next()) {
                out.add(rs.getString(1));
              }
            }
            return out;
          }
        });
  }

  @Override
  public List<StoredTask> inFlight() {
    return tasksWhere("state in " + IN_FLIGHT);
  }

  @Override
  public List<StoredTask> unfinished() {
    return tasksWhere(
        "state in ('waiting', 'queued', 'assigned', 'staging', 'launched', 'running')");
  }

  /** Every task meeting {@code condition} (fixed SQL, no parameters), in submit order. */
  private List<StoredTask> tasksWhere(String condition) {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "select " + COLUMNS + " from tasks where " + condition + " order by seq")) {
            // A million rows (all unfinished tasks, at a start) come in pages, not held twice
            // (as rows and as tasks) at once.
            q.setFetchSize(10_000);
            return readAll(q);
          }
        });
  }

  @Override
  public Set<String> existing(java.util.Collection<String> ids) {
    return inTransaction(c -> states(c, new HashSet<>(ids)).keySet());
  }

  @Override
  public Map<String, StoredTask> getAll(java.util.Collection<String> ids) {
    if (ids.isEmpty()) {
      return Map.of();
    }
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement("select " + COLUMNS + " from tasks where id = any(?)")) {
            q.setArray(1, c.createArrayOf("text", ids.toArray()));
            var out = new HashMap<String, StoredTask>();
            for (StoredTask t : readAll(q)) {
              out.put(t.id(), t);
            }
            return out;
          }
        });
  }

  @Override
  public Optional<StoredTask> get(String id) {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement("select " + COLUMNS + " from tasks where id = ?")) {
            q.setString(1, id);
            return readAll(q).stream().findFirst();
          }
        });
  }

  /** The states of a placed task not finished, as {@link TaskState#isInFlight()} names them. */
  private static final String IN_FLIGHT = "('assigned', 'staging', 'launched', 'running')";

  @Override
  public List<dev.stowage.scheduler.AttemptRecord> attempts(String id) {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "select attempt, node, placed_at, staged_at, launched_at, started_at, ended_at,"
                      + " outcome, error from task_attempts where task_id = ?"
                      + " union all select attempt, offer, placed_at, staged_at, launched_at,"
                      + " started_at, null, null, null from tasks where id = ?"
                      + " and state in "
                      + IN_FLIGHT
                      + " order by attempt")) {
            q.setString(1, id);
            q.setString(2, id);
            var out = new ArrayList<dev.stowage.scheduler.AttemptRecord>();
            try (ResultSet rs = q.executeQuery()) {
              while (rs.next()) {
                String outcome = rs.getString(8);
                out.add(
                    new dev.stowage.scheduler.AttemptRecord(
                        rs.getInt(1),
                        rs.getString(2),
                        instant(rs, 3),
                        instant(rs, 4),
                        instant(rs, 5),
                        instant(rs, 6),
                        instant(rs, 7),
                        outcome == null
                            ? null
                            : dev.stowage.scheduler.AttemptRecord.Outcome.ofLabel(outcome),
                        rs.getString(9)));
              }
            }
            return out;
          }
        });
  }

  private static Instant instant(ResultSet rs, int column) throws SQLException {
    Timestamp at = rs.getTimestamp(column);
    return at == null ? null : at.toInstant();
  }

  @Override
  public Map<TaskState, Long> countByState() {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
                  c.prepareStatement("select state, count(*) from tasks group by state");
              ResultSet rs = q.executeQuery()) {
            var out = new java.util.EnumMap<TaskState, Long>(TaskState.class);
            while (rs.next()) {
              out.put(TaskState.parse(rs.getString(1)), rs.getLong(2));
            }
            return out;
          }
        });
  }

  @Override
  public long countNeverSchedulable() {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
                  c.prepareStatement(
                      "select count(*) from tasks where never_schedulable is not null"
                          + " and state = 'queued'");
              ResultSet rs = q.executeQuery()) {
            rs.next();
            return rs.getLong(1);
          }
        });
  }

  @Override
  public List<StoredTask> neverSchedulable() {
    return tasksWhere("never_schedulable is not null and state in ('waiting', 'queued')");
  }

  @Override
  public void recordError(String id, int attempt, String error) {
    inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement("update tasks set last_error = ? where id = ? and attempt = ?")) {
            q.setString(1, error);
            q.setString(2, id);
            q.setInt(3, attempt);
            return q.executeUpdate();
          }
        });
  }

  @Override
  public void clearNeverSchedulable(java.util.Collection<String> ids) {
    if (ids.isEmpty()) {
      return;
    }
    inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "update tasks set never_schedulable = null"
                      + " where id = any(?) and never_schedulable is not null")) {
            q.setArray(1, c.createArrayOf("text", ids.toArray()));
            return q.executeUpdate();
          }
        });
  }

  @Override
  public List<StoredTask> processable(int limit, Instant now) {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "select "
                      + COLUMNS
                      + " from tasks where state = 'queued' and never_schedulable is null"
                      + " and (not_before is null or not_before <= ?)"
                      + " order by priority desc, submitted_at, seq limit ?")) {
            q.setTimestamp(1, Timestamp.from(now));
            q.setInt(2, limit);
            return readAll(q);
          }
        });
  }

  @Override
  public int assign(String id, String offer, Instant now) {
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "update tasks set state = 'assigned', attempt = attempt + 1, offer = ?,"
                      + " not_before = null, updated_at = ? where id = ? and state = 'queued'"
                      + " returning attempt")) {
            q.setString(1, offer);
            q.setTimestamp(2, Timestamp.from(now));
            q.setString(3, id);
            try (ResultSet rs = q.executeQuery()) {
              return rs.next() ? rs.getInt(1) : 0;
            }
          }
        });
  }

  @Override
  public Map<String, Integer> assignAll(Map<String, String> offerByTask, Instant now) {
    if (offerByTask.isEmpty()) {
      return Map.of();
    }
    var out = new HashMap<String, Integer>();
    for (Map<String, Integer> part :
        inChunks(
            new ArrayList<>(offerByTask.keySet()),
            (c, ids) -> {
              var offers = ids.stream().map(offerByTask::get).toArray();
              // The same trap as the launch write's: stale statistics made this one statement
              // take 25 s for 20,000 tasks (measured), looping over the list for each row.
              steadyBatchPlan(c);
              try (PreparedStatement q =
                  c.prepareStatement(
                      "update tasks t set state = 'assigned', attempt = t.attempt + 1,"
                          + " offer = u.offer, not_before = null, updated_at = ?"
                          + " from unnest(?::text[], ?::text[]) as u(id, offer)"
                          + " where t.id = any(?::text[]) and t.id = u.id and t.state = 'queued'"
                          + " returning t.id, t.attempt")) {
                var idArray = c.createArrayOf("text", ids.toArray());
                q.setTimestamp(1, Timestamp.from(now));
                q.setArray(2, idArray);
                q.setArray(3, c.createArrayOf("text", offers));
                q.setArray(4, idArray);
                var moved = new HashMap<String, Integer>();
                try (ResultSet rs = q.executeQuery()) {
                  while (rs.next()) {
                    moved.put(rs.getString(1), rs.getInt(2));
                  }
                }
                return moved;
              }
            })) {
      out.putAll(part);
    }
    return out;
  }

  @Override
  public Set<String> transitionAll(
      java.util.Collection<AttemptId> attempts, TaskState from, TaskState to, Instant now) {
    dev.stowage.scheduler.TaskStores.requireSideEffectFree(from, to);
    if (attempts.isEmpty()) {
      return Set.of();
    }
    var out = new HashSet<String>();
    for (Set<String> part :
        inChunks(
            new ArrayList<>(attempts),
            (c, chunk) -> {
              var ids = new Object[chunk.size()];
              var numbers = new Object[chunk.size()];
              for (int i = 0; i < ids.length; i++) {
                ids[i] = chunk.get(i).taskId();
                numbers[i] = chunk.get(i).attempt();
              }
              steadyBatchPlan(c);
              try (PreparedStatement q =
                  c.prepareStatement(
                      "update tasks t set state = ?, updated_at = ?"
                          + " from unnest(?::text[], ?::int[]) as u(id, attempt)"
                          + " where t.id = any(?::text[]) and t.id = u.id"
                          + " and t.attempt = u.attempt and t.state = ?"
                          + " returning t.id")) {
                var idArray = c.createArrayOf("text", ids);
                q.setString(1, to.label());
                q.setTimestamp(2, Timestamp.from(now));
                q.setArray(3, idArray);
                q.setArray(4, c.createArrayOf("int4", numbers));
                q.setArray(5, idArray);
                q.setString(6, from.label());
                var moved = new HashSet<String>();
                try (ResultSet rs = q.executeQuery()) {
                  while (rs.next()) {
                    moved.add(rs.getString(1));
                  }
                }
                return moved;
              }
            })) {
      out.addAll(part);
    }
    return out;
  }

  @Override
  public Set<String> succeedAll(
      java.util.Collection<AttemptId> attempts, TaskState from, Instant now) {
    if (!from.canMoveTo(TaskState.SUCCEEDED)) {
      throw new IllegalArgumentException(
          "illegal task transition " + from.label() + " -> succeeded");
    }
    if (attempts.isEmpty()) {
      return Set.of();
    }
    // One transaction, not chunks side by side: two successes may release the same dependant,
    // and parallel writers would then lock its row in either order.
    return inTransaction(
        c -> {
          var ids = new Object[attempts.size()];
          var numbers = new Object[attempts.size()];
          int i = 0;
          for (AttemptId a : attempts) {
            ids[i] = a.taskId();
            numbers[i++] = a.attempt();
          }
          steadyBatchPlan(c);
          try (PreparedStatement q =
              c.prepareStatement(
                  "update tasks t set state = 'succeeded', updated_at = ?"
                      + " from unnest(?::text[], ?::int[]) as u(id, attempt)"
                      + " where t.id = any(?::text[]) and t.id = u.id"
                      + " and t.attempt = u.attempt and t.state = ?"
                      + " returning t.id")) {
            Timestamp at = Timestamp.from(now);
            var idArray = c.createArrayOf("text", ids);
            q.setTimestamp(1, at);
            q.setArray(2, idArray);
            q.setArray(3, c.createArrayOf("int4", numbers));
            q.setArray(4, idArray);
            q.setString(5, from.label());
            var moved = new HashSet<String>();
            try (ResultSet rs = q.executeQuery()) {
              while (rs.next()) {
                moved.add(rs.getString(1));
              }
            }
            releaseDependants(c, moved, at);
            return moved;
          }
        });
  }

  /**
   * After {@code succeeded} succeeded: each of their dependants loses one pending dependency per
   * success among them, and is queued when none is left. One statement, for one task or many.
   */
  private static void releaseDependants(Connection c, Set<String> succeeded, Timestamp at)
      throws SQLException {
    if (succeeded.isEmpty()) {
      return;
    }
    try (PreparedStatement release =
        c.prepareStatement(
            "update tasks t set pending_dependencies = t.pending_dependencies - r.n,"
                + " state = case when t.state = 'waiting' and t.pending_dependencies = r.n"
                + " then 'queued' else t.state end, updated_at = ?"
                + " from (select task_id, count(*)::int as n from task_dependencies"
                + " where depends_on = any(?::text[]) group by task_id) r"
                + " where t.id = r.task_id")) {
      release.setTimestamp(1, at);
      release.setArray(2, c.createArrayOf("text", succeeded.toArray()));
      release.executeUpdate();
    }
  }

  @Override
  public boolean requeue(String id, TaskState from, Instant notBefore, Instant now) {
    if (!from.canMoveTo(TaskState.QUEUED)) {
      throw new IllegalArgumentException(
          "illegal task transition " + from.label() + " -> queued for task " + id);
    }
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "update tasks set state = 'queued', offer = null, not_before = ?,"
                      + " updated_at = ? where id = ? and state = ?")) {
            q.setTimestamp(1, Timestamp.from(notBefore));
            q.setTimestamp(2, Timestamp.from(now));
            q.setString(3, id);
            q.setString(4, from.label());
            return q.executeUpdate() == 1;
          }
        });
  }

  @Override
  public boolean preempt(
      dev.stowage.scheduler.AttemptId attempt, TaskState from, String by, Instant now) {
    if (from != TaskState.LAUNCHED && from != TaskState.RUNNING) {
      throw new IllegalArgumentException(
          "only a launched or running task is preempted, not " + from);
    }
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "update tasks set state = 'queued', offer = null, not_before = null,"
                      + " preemptions = preemptions + 1, preempted_by = ?, last_error = ?,"
                      + " updated_at = ? where id = ? and state = ? and attempt = ?")) {
            q.setString(1, by);
            q.setString(2, "attempt " + attempt.attempt() + " preempted by " + by);
            q.setTimestamp(3, Timestamp.from(now));
            q.setString(4, attempt.taskId());
            q.setString(5, from.label());
            q.setInt(6, attempt.attempt());
            return q.executeUpdate() == 1;
          }
        });
  }

  @Override
  public boolean unassign(String id, TaskState from, Instant now) {
    if (from != TaskState.ASSIGNED && from != TaskState.STAGING) {
      throw new IllegalArgumentException("only a task not yet launched is unassigned, not " + from);
    }
    return inTransaction(
        c -> {
          try (PreparedStatement q =
              c.prepareStatement(
                  "update tasks set state = 'queued', offer = null, not_before = null,"
                      + " attempt = greatest(attempt - 1, 0), updated_at = ? where id = ? and"
                      + " state = ?")) {
            q.setTimestamp(1, Timestamp.from(now));
            q.setString(2, id);
            q.setString(3, from.label());
            return q.executeUpdate() == 1;
          }
        });
  }

  @Override
  public boolean transition(String id, TaskState from, TaskState to, Instant now) {
    if (!from.canMoveTo(to)) {
      throw new IllegalArgumentException(
          "illegal task transition " + from.label() + " -> " + to.label() + " for task " + id);
    }
    return inTransaction(
        c -> {
          Timestamp at = Timestamp.from(now);
          try (PreparedStatement move =
              c.prepareStatement(
                  "update tasks set state = ?, updated_at = ? where id = ? and state = ?")) {
            move.setString(1, to.label());
            move.setTimestamp(2, at);
            move.setString(3, id);
            move.setString(4, from.label());
            if (move.executeUpdate() == 0) {
              return false;
            }
          }
          if (to == TaskState.SUCCEEDED) {
            releaseDependants(c, Set.of(id), at);
          } else if (to.blocksDependants()) {
            try (PreparedStatement doom =
                c.prepareStatement(
                    // Only through waiting tasks: one that is not waiting was doomed already,
                    // or still runs, and dooms its own dependants when it ends.
                    "with recursive below(id) as ("
                        + " select d.task_id from task_dependencies d join tasks t"
                        + " on t.id = d.task_id where d.depends_on = ? and t.state = 'waiting'"
                        + " union select d.task_id from task_dependencies d join below b"
                        + " on d.depends_on = b.id join tasks t on t.id = d.task_id"
                        + " where t.state = 'waiting')"
                        + " update tasks set state = 'upstream_failed', updated_at = ?"
                        + " where id in (select id from below)")) {
              doom.setString(1, id);
              doom.setTimestamp(2, at);
              doom.executeUpdate();
            }
          }
          return true;
        });
  }

  @Override
  public List<StoredTask> retry(String id, TaskState from, Instant now) {
    dev.stowage.scheduler.TaskStores.requireRetryable(id, from);
    return inTransaction(
        c -> {
          Timestamp at = Timestamp.from(now);
          try (PreparedStatement lock =
              c.prepareStatement("select state from tasks where id = ? for update")) {
            lock.setString(1, id);
            try (ResultSet rs = lock.executeQuery()) {
              if (!rs.next() || !rs.getString(1).equals(from.label())) {
                return List.<StoredTask>of();
              }
            }
          }
          TaskState to = reopenedState(c, List.of(id)).get(id);
          try (PreparedStatement q =
              c.prepareStatement(
                  "update tasks set state = ?, offer = null, not_before = ?,"
                      + " attempts_before_retry = attempt - preemptions, seq = default,"
                      + PENDING
                      + ", updated_at = ? where id = ?")) {
            q.setString(1, to.label());
            q.setTimestamp(2, at);
            q.setTimestamp(3, at);
            q.setString(4, id);
            q.executeUpdate();
          }
          // Level by level through upstream_failed tasks: one blocked only by another that this
          // retry opens is looked at again once that one waits, being its dependant too.
          var below = new java.util.TreeSet<String>();
          List<String> frontier = to.blocksDependants() ? List.of() : List.of(id);
          while (!frontier.isEmpty()) {
            var candidates = new ArrayList<String>();
            try (PreparedStatement q =
                c.prepareStatement(
                    "select distinct d.task_id from task_dependencies d join tasks t"
                        + " on t.id = d.task_id where d.depends_on = any(?)"
                        + " and t.state = 'upstream_failed' order by d.task_id")) {
              q.setArray(1, c.createArrayOf("text", frontier.toArray()));
              try (ResultSet rs = q.executeQuery()) {
                while (rs.next()) {
                  candidates.add(rs.getString(1));
                }
              }
            }
            var next = new ArrayList<String>();
            reopenedState(c, candidates)
                .forEach(
                    (task, state) -> {
                      if (!state.blocksDependants()) {
                        next.add(task);
                      }
                    });
            if (!next.isEmpty()) {
              try (PreparedStatement q =
                  c.prepareStatement(
                      "update tasks set state = 'waiting', updated_at = ? where id = any(?)")) {
                q.setTimestamp(1, at);
                q.setArray(2, c.createArrayOf("text", next.toArray()));
                q.executeUpdate();
              }
            }
            below.addAll(next);
            frontier = next;
          }
          // Their places at the end of submit order, one at a time so that they follow in id
          // order, and their dependencies not succeeded counted afresh.
          try (PreparedStatement q =
              c.prepareStatement("update tasks set seq = default, " + PENDING + " where id = ?")) {
            for (String task : below) {
              q.setString(1, task);
              q.addBatch();
            }
            q.executeBatch();
          }
          var order = new ArrayList<String>(1 + below.size());
          order.add(id);
          order.addAll(below);
          Map<String, StoredTask> read = new HashMap<>();
          try (PreparedStatement q =
              c.prepareStatement("select " + COLUMNS + " from tasks where id = any(?)")) {
            q.setArray(1, c.createArrayOf("text", order.toArray()));
            for (StoredTask t : readAll(q)) {
              read.put(t.id(), t);
            }
          }
          return order.stream().map(read::get).toList();
        });
  }

  /** How many of a task's dependencies have not succeeded, as an assignment of the column. */
  private static final String PENDING =
      " pending_dependencies = (select count(*) from task_dependencies d join tasks u"
          + " on u.id = d.depends_on where d.task_id = tasks.id and u.state <> 'succeeded')";

  /**
   * Where each of these tasks would go if opened again now: upstream_failed when a dependency
   * blocks it, queued when all have succeeded, else waiting.
   */
  private static Map<String, TaskState> reopenedState(Connection c, List<String> ids)
      throws SQLException {
    var out = new java.util.LinkedHashMap<String, TaskState>();
    for (String id : ids) {
      out.put(id, TaskState.QUEUED);
    }
    try (PreparedStatement q =
        c.prepareStatement(
            "select d.task_id, u.state from task_dependencies d join tasks u on u.id ="
                + " d.depends_on where d.task_id = any(?)")) {
      q.setArray(1, c.createArrayOf("text", ids.toArray()));
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          TaskState s = TaskState.parse(rs.getString(2));
          String task = rs.getString(1);
          if (s.blocksDependants()) {
            out.put(task, TaskState.UPSTREAM_FAILED);
          } else if (s != TaskState.SUCCEEDED && out.get(task) == TaskState.QUEUED) {
            out.put(task, TaskState.WAITING);
          }
        }
      }
    }
    return out;
  }

  /** The gangs among these that have a task stored and not finished. */
  private static Set<String> unfinishedGangs(Connection c, Set<String> gangs) throws SQLException {
    var out = new java.util.HashSet<String>();
    if (gangs.isEmpty()) {
      return out;
    }
    try (PreparedStatement q =
        c.prepareStatement(
            "select distinct gang from tasks where gang = any(?) and state in ('waiting',"
                + " 'queued', 'assigned', 'staging', 'launched', 'running')")) {
      q.setArray(1, c.createArrayOf("text", gangs.toArray()));
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  @Override
  public boolean gangUnfinished(String gang) {
    return inTransaction(c -> unfinishedGangs(c, Set.of(gang))).contains(gang);
  }

  private static Map<String, TaskState> states(Connection c, Set<String> ids) throws SQLException {
    var out = new HashMap<String, TaskState>();
    try (PreparedStatement q =
        c.prepareStatement("select id, state from tasks where id = any(?)")) {
      q.setArray(1, c.createArrayOf("text", ids.toArray()));
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), TaskState.parse(rs.getString(2)));
        }
      }
    }
    return out;
  }

  /** Runs a query over tasks and reads every row, with dependencies fetched in one query. */
  private static List<StoredTask> readAll(PreparedStatement query) throws SQLException {
    var rows = new ArrayList<StoredTask>();
    try (ResultSet rs = query.executeQuery()) {
      while (rs.next()) {
        rows.add(read(rs));
      }
    }
    return rows;
  }

  /** One row, without its dependencies. */
  private static StoredTask read(ResultSet rs) throws SQLException {
    long timeoutMs = rs.getLong("timeout_ms");
    Duration timeout = rs.wasNull() ? null : Duration.ofMillis(timeoutMs);
    var spec =
        new TaskSpec(
            rs.getString("id"),
            rs.getString("name"),
            readValue(rs.getString("command"), STRING_LIST),
            stringMap(rs.getString("env")),
            new Resources(
                rs.getLong("cpu_millis"),
                rs.getLong("memory_mib"),
                rs.getLong("disk_mib"),
                rs.getLong("gpus")),
            stringMap(rs.getString("constraints")),
            rs.getInt("priority"),
            List.of((String[]) rs.getArray("depends_on").getArray()),
            new RetryPolicy(
                rs.getInt("max_attempts"),
                Duration.ofMillis(rs.getLong("backoff_ms")),
                Duration.ofMillis(rs.getLong("max_backoff_ms"))),
            timeout,
            stringMap(rs.getString("labels")),
            rs.getString("trace_parent") == null
                ? null
                : new TraceContext(rs.getString("trace_parent"), rs.getString("trace_state")),
            inputs(rs.getString("inputs")),
            outputs(rs.getString("outputs")),
            rs.getString("owner"),
            rs.getString("image"),
            tolerations(rs.getString("tolerations")),
            rs.getString("queue"),
            rs.getString("array_id") == null
                ? null
                : new ArrayMember(
                    rs.getString("array_id"), rs.getInt("array_index"), rs.getInt("array_size")),
            rs.getString("gang") == null
                ? null
                : new Gang(rs.getString("gang"), rs.getInt("gang_size")),
            rs.getString("priority_class"));
    Timestamp notBefore = rs.getTimestamp("not_before");
    return new StoredTask(
        spec,
        TaskState.parse(rs.getString("state")),
        rs.getInt("attempt"),
        rs.getString("offer"),
        rs.getInt("pending_dependencies"),
        notBefore == null ? null : notBefore.toInstant(),
        rs.getTimestamp("submitted_at").toInstant(),
        rs.getTimestamp("updated_at").toInstant(),
        rs.getString("never_schedulable"),
        rs.getString("last_error"),
        rs.getInt("preemptions"),
        rs.getString("preempted_by"),
        rs.getInt("attempts_before_retry"));
  }

  private static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode " + value, e);
    }
  }

  private static List<StagedOutput> outputs(String json) {
    return json.equals("[]") ? List.of() : readValue(json, OUTPUTS);
  }

  private static List<Toleration> tolerations(String json) {
    return json.equals("[]") ? List.of() : readValue(json, TOLERATIONS);
  }

  private static List<StagedInput> inputs(String json) {
    return json.equals("[]") ? List.of() : readValue(json, INPUTS);
  }

  private static Map<String, String> stringMap(String json) {
    // Most maps (env, labels, constraints) are empty: skip the parser for them.
    return json.equals("{}") ? Map.of() : readValue(json, STRING_MAP);
  }

  private static <T> T readValue(String json, ObjectReader reader) {
    try {
      return reader.readValue(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("stored JSON does not parse: " + json, e);
    }
  }

  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /**
   * A batch write of rows that each move on their own (no row's transition depends on another's),
   * run as up to {@link #writers} transactions side by side: one statement keeps one database core
   * busy, so on a 20,000-task cycle this nearly halves the write on two cores. Chunks that
   * committed stay committed when another fails; the caller's cycle then fails and reconciliation
   * brings those tasks in line with the backend, as after a crash.
   */
  private <T, R> List<R> inChunks(List<T> items, ChunkWork<T, R> work) {
    int chunks = Math.min(writers, items.size() / chunkMin);
    if (chunks <= 1) {
      R all = inTransaction(c -> work.run(c, items));
      return List.of(all);
    }
    int size = Math.ceilDiv(items.size(), chunks);
    var futures = new ArrayList<java.util.concurrent.Future<R>>();
    try (var executor = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (int start = 0; start < items.size(); start += size) {
        List<T> chunk = items.subList(start, Math.min(items.size(), start + size));
        // The caller's trace context goes along, for whatever instruments JDBC.
        futures.add(
            executor.submit(
                io.opentelemetry.context.Context.current()
                    .wrap(() -> inTransaction(c -> work.run(c, chunk)))));
      }
    }
    var out = new ArrayList<R>(futures.size());
    for (var f : futures) {
      try {
        out.add(f.get());
      } catch (java.util.concurrent.ExecutionException e) {
        if (e.getCause() instanceof RuntimeException r) {
          throw r;
        }
        throw new IllegalStateException(e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted during a batch write", e);
      }
    }
    return out;
  }

  /**
   * For a batch write that joins a list of ids to the tasks: find the rows by id and hash-join the
   * list. Statistics taken when few tasks were in the batch's state (just after a bulk load, say)
   * make the planner expect one row there and loop over the whole list for each of the thousands
   * actually found: 19 s instead of 0.2 s for 20,000 launches, measured.
   */
  private static void steadyBatchPlan(Connection c) throws SQLException {
    try (var s = c.createStatement()) {
      s.execute("set local enable_nestloop = off");
    }
  }

  private interface ChunkWork<T, R> {
    R run(Connection c, List<T> chunk) throws SQLException;
  }

  private <T> T inTransaction(Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }
}
