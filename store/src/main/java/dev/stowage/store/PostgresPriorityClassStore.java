package dev.stowage.store;

import dev.stowage.scheduler.preemption.PriorityClass;
import dev.stowage.scheduler.preemption.PriorityClassStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;
import javax.sql.DataSource;

/**
 * Priority classes in PostgreSQL (table {@code priority_classes}), answered from a copy in memory:
 * only this service writes them. Each write goes to the database first.
 */
public final class PostgresPriorityClassStore implements PriorityClassStore {
  private final DataSource dataSource;
  private final ConcurrentSkipListMap<String, PriorityClass> classes =
      new ConcurrentSkipListMap<>();

  public PostgresPriorityClassStore(DataSource dataSource) {
    this.dataSource = dataSource;
    try (Connection c = dataSource.getConnection();
        PreparedStatement q =
            c.prepareStatement("select name, value, preempts, preemptible from priority_classes");
        ResultSet rs = q.executeQuery()) {
      while (rs.next()) {
        var pc =
            new PriorityClass(rs.getString(1), rs.getInt(2), rs.getBoolean(3), rs.getBoolean(4));
        classes.put(pc.name(), pc);
      }
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }

  @Override
  public List<PriorityClass> list() {
    return List.copyOf(classes.values());
  }

  @Override
  public Optional<PriorityClass> get(String name) {
    return Optional.ofNullable(classes.get(name));
  }

  @Override
  public synchronized boolean create(PriorityClass pc) {
    return write(
        "insert into priority_classes (value, preempts, preemptible, name) values (?, ?, ?, ?)"
            + " on conflict (name) do nothing",
        pc);
  }

  @Override
  public synchronized boolean replace(PriorityClass pc) {
    return write(
        "update priority_classes set value = ?, preempts = ?, preemptible = ? where name = ?", pc);
  }

  @Override
  public synchronized boolean delete(String name) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement d = c.prepareStatement("delete from priority_classes where name = ?")) {
      d.setString(1, name);
      if (d.executeUpdate() == 0) {
        return false;
      }
    } catch (SQLException e) {
      throw new StoreException(e);
    }
    classes.remove(name);
    return true;
  }

  /**
   * Runs {@code sql} with the class's value, policy and name; true (and kept) when a row changed.
   */
  private boolean write(String sql, PriorityClass pc) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement w = c.prepareStatement(sql)) {
      w.setInt(1, pc.value());
      w.setBoolean(2, pc.preempts());
      w.setBoolean(3, pc.preemptible());
      w.setString(4, pc.name());
      if (w.executeUpdate() != 1) {
        return false;
      }
      classes.put(pc.name(), pc);
      return true;
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }
}
