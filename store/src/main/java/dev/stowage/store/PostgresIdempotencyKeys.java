package dev.stowage.store;

import dev.stowage.access.IdempotencyKeys;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import javax.sql.DataSource;

/** Idempotency keys in PostgreSQL (table {@code idempotency_keys}). */
public final class PostgresIdempotencyKeys implements IdempotencyKeys {
  private final DataSource dataSource;

  public PostgresIdempotencyKeys(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  @Override
  public Claim claim(String actor, String key, String requestHash, Instant now) {
    try (Connection c = dataSource.getConnection()) {
      try (PreparedStatement expire =
          c.prepareStatement("delete from idempotency_keys where created_at < ?")) {
        expire.setTimestamp(1, Timestamp.from(now.minus(RETENTION)));
        expire.executeUpdate();
      }
      // The primary key decides which of two concurrent requests goes first.
      try (PreparedStatement insert =
          c.prepareStatement(
              "insert into idempotency_keys (actor, key, request_hash, created_at)"
                  + " values (?, ?, ?, ?) on conflict do nothing")) {
        insert.setString(1, actor);
        insert.setString(2, key);
        insert.setString(3, requestHash);
        insert.setTimestamp(4, Timestamp.from(now));
        if (insert.executeUpdate() == 1) {
          return new Claim.Fresh();
        }
      }
      try (PreparedStatement read =
          c.prepareStatement(
              "select request_hash, status, body from idempotency_keys where actor = ? and key = ?")) {
        read.setString(1, actor);
        read.setString(2, key);
        try (ResultSet rs = read.executeQuery()) {
          if (!rs.next()) {
            return new Claim.InProgress(); // released between our insert and read: retry later
          }
          if (!rs.getString("request_hash").equals(requestHash)) {
            return new Claim.Mismatch();
          }
          int status = rs.getInt("status");
          return rs.wasNull()
              ? new Claim.InProgress()
              : new Claim.Replay(status, rs.getString("body"));
        }
      }
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }

  @Override
  public void complete(String actor, String key, int status, String body) {
    update(
        "update idempotency_keys set status = ?, body = ? where actor = ? and key = ?",
        q -> {
          q.setInt(1, status);
          q.setString(2, body);
          q.setString(3, actor);
          q.setString(4, key);
        });
  }

  @Override
  public void release(String actor, String key) {
    update(
        "delete from idempotency_keys where actor = ? and key = ? and status is null",
        q -> {
          q.setString(1, actor);
          q.setString(2, key);
        });
  }

  private interface Binder {
    void bind(PreparedStatement q) throws SQLException;
  }

  private void update(String sql, Binder binder) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement q = c.prepareStatement(sql)) {
      binder.bind(q);
      q.executeUpdate();
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }
}
