package dev.stowage.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.stowage.scheduler.history.ClusterHistory;
import dev.stowage.scheduler.history.ClusterSample;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import javax.sql.DataSource;

/** The cluster's samples in PostgreSQL (table {@code cluster_samples}), one JSON row each. */
public final class PostgresClusterHistory implements ClusterHistory {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * A sample's row. The phases are two lists, since jsonb keeps an object's keys in an order of its
   * own and the phases' order is the cycle's.
   */
  record Row(
      List<Double> used,
      Map<String, Double> queueShares,
      long placed,
      long finished,
      long failed,
      long cycles,
      List<String> phases,
      List<Double> phaseMeanMs) {}

  private final DataSource dataSource;

  public PostgresClusterHistory(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  @Override
  public void append(ClusterSample s, Instant keepFrom) {
    var row =
        new Row(
            s.used(),
            s.queueShares(),
            s.placed(),
            s.finished(),
            s.failed(),
            s.cycles(),
            List.copyOf(s.phaseMeanMs().keySet()),
            List.copyOf(s.phaseMeanMs().values()));
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement insert =
              c.prepareStatement(
                  "insert into cluster_samples (at, sample) values (?, ?::jsonb)"
                      + " on conflict (at) do nothing");
          PreparedStatement forget =
              c.prepareStatement("delete from cluster_samples where at < ?")) {
        insert.setTimestamp(1, Timestamp.from(s.at()));
        insert.setString(2, JSON.writeValueAsString(row));
        insert.executeUpdate();
        forget.setTimestamp(1, Timestamp.from(keepFrom));
        forget.executeUpdate();
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    } catch (SQLException e) {
      throw new StoreException(e);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a cluster sample did not convert to JSON", e);
    }
  }

  @Override
  public List<ClusterSample> since(Instant from, Consumer<Unreadable> unreadable) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement q =
            c.prepareStatement(
                "select at, sample from cluster_samples where at >= ? order by at")) {
      q.setTimestamp(1, Timestamp.from(from));
      try (ResultSet rs = q.executeQuery()) {
        var out = new ArrayList<ClusterSample>();
        while (rs.next()) {
          Instant at = rs.getTimestamp("at").toInstant();
          try {
            out.add(sample(at, JSON.readValue(rs.getString("sample"), Row.class)));
          } catch (JsonProcessingException | IllegalArgumentException e) {
            unreadable.accept(new Unreadable(at, problem(e)));
          }
        }
        return out;
      }
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }

  private static ClusterSample sample(Instant at, Row row) {
    if (row == null) {
      throw new IllegalArgumentException("it is null");
    }
    if (row.used() == null || row.used().contains(null)) {
      throw new IllegalArgumentException("'used' is not a list of numbers");
    }
    if (row.queueShares() == null || row.queueShares().containsValue(null)) {
      throw new IllegalArgumentException("'queueShares' is not an object of numbers");
    }
    if (row.phases() == null
        || row.phaseMeanMs() == null
        || row.phases().contains(null)
        || row.phaseMeanMs().contains(null)
        || row.phases().size() != row.phaseMeanMs().size()) {
      throw new IllegalArgumentException(
          "'phases' and 'phaseMeanMs' are not a list of names and one of numbers, as long");
    }
    var phases = new LinkedHashMap<String, Double>();
    for (int i = 0; i < row.phases().size(); i++) {
      phases.put(row.phases().get(i), row.phaseMeanMs().get(i));
    }
    return new ClusterSample(
        at,
        row.used(),
        row.queueShares(),
        row.placed(),
        row.finished(),
        row.failed(),
        row.cycles(),
        phases);
  }

  private static String problem(Exception e) {
    return e instanceof JsonProcessingException j
        ? "not a sample's JSON: " + j.getOriginalMessage()
        : e.getMessage();
  }
}
