package dev.stowage.store;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.scheduler.queues.Queue;
import dev.stowage.scheduler.queues.QueueStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import javax.sql.DataSource;

/**
 * Queues in PostgreSQL (table {@code queues}), answered from a copy in memory: the cycle reads them
 * every time, and only this service writes them. Each write goes to the database first.
 */
public final class PostgresQueueStore implements QueueStore {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<Map<String, Long>> LIMITS = new TypeReference<>() {};

  private final DataSource dataSource;
  private volatile List<Queue> queues;

  public PostgresQueueStore(DataSource dataSource) {
    this.dataSource = dataSource;
    this.queues = load();
  }

  private List<Queue> load() {
    try (Connection c = dataSource.getConnection();
        PreparedStatement q =
            c.prepareStatement("select name, weight, limits from queues order by name");
        ResultSet rs = q.executeQuery()) {
      var out = new java.util.ArrayList<Queue>();
      while (rs.next()) {
        out.add(
            new Queue(
                rs.getString("name"),
                rs.getDouble("weight"),
                JSON.readValue(rs.getString("limits"), LIMITS)));
      }
      return List.copyOf(out);
    } catch (SQLException e) {
      throw new StoreException(e);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("a queue's limits in the database are not JSON", e);
    }
  }

  @Override
  public List<Queue> list() {
    return queues;
  }

  @Override
  public Optional<Queue> get(String name) {
    return queues.stream().filter(q -> q.name().equals(name)).findFirst();
  }

  @Override
  public synchronized boolean create(Queue queue) {
    return write(
        "insert into queues (weight, limits, name) values (?, ?::jsonb, ?)"
            + " on conflict (name) do nothing",
        queue);
  }

  @Override
  public synchronized boolean replace(Queue queue) {
    return write("update queues set weight = ?, limits = ?::jsonb where name = ?", queue);
  }

  @Override
  public synchronized boolean delete(String name) {
    if (Queue.DEFAULT.name().equals(name)) {
      throw new IllegalArgumentException("the default queue cannot be deleted");
    }
    try (Connection c = dataSource.getConnection();
        PreparedStatement d = c.prepareStatement("delete from queues where name = ?")) {
      d.setString(1, name);
      if (d.executeUpdate() == 0) {
        return false;
      }
    } catch (SQLException e) {
      throw new StoreException(e);
    }
    var by = byName();
    by.remove(name);
    queues = List.copyOf(by.values());
    return true;
  }

  private TreeMap<String, Queue> byName() {
    var by = new TreeMap<String, Queue>();
    queues.forEach(q -> by.put(q.name(), q));
    return by;
  }

  /**
   * Runs {@code sql} with the queue's weight, limits and name as its three parameters; when a row
   * changed, the copy in memory takes the queue too. True when a row changed.
   */
  private boolean write(String sql, Queue queue) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement w = c.prepareStatement(sql)) {
      w.setDouble(1, queue.weight());
      w.setString(2, JSON.writeValueAsString(queue.limits()));
      w.setString(3, queue.name());
      if (w.executeUpdate() != 1) {
        return false;
      }
      var by = byName();
      by.put(queue.name(), queue);
      queues = List.copyOf(by.values());
      return true;
    } catch (SQLException e) {
      throw new StoreException(e);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
