package dev.stowage.store;

import dev.stowage.access.AccessStore;
import dev.stowage.access.ApiToken;
import dev.stowage.access.AuditEntry;
import dev.stowage.access.Role;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/** Tokens and the audit log in PostgreSQL (tables {@code api_tokens} and {@code audit_log}). */
public final class PostgresAccessStore implements AccessStore {
  private static final String UNIQUE_VIOLATION = "23505";
  private static final String TOKEN_COLUMNS =
      "name, role, created_at, expires_at, revoked_at, created_by";

  private final DataSource dataSource;

  public PostgresAccessStore(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  @Override
  public void addToken(ApiToken token, String secretHash) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement insert =
            c.prepareStatement(
                "insert into api_tokens ("
                    + TOKEN_COLUMNS
                    + ", secret_hash) values (?, ?, ?, ?, ?, ?, ?)")) {
      insert.setString(1, token.name());
      insert.setString(2, token.role().label());
      insert.setTimestamp(3, Timestamp.from(token.createdAt()));
      insert.setTimestamp(4, timestamp(token.expiresAt()));
      insert.setTimestamp(5, timestamp(token.revokedAt()));
      insert.setString(6, token.createdBy());
      insert.setString(7, secretHash);
      insert.executeUpdate();
    } catch (SQLException e) {
      if (UNIQUE_VIOLATION.equals(e.getSQLState())) {
        throw new TokenNameTakenException(token.name());
      }
      throw new StoreException(e);
    }
  }

  @Override
  public Optional<ApiToken> tokenByHash(String secretHash) {
    List<ApiToken> found =
        query(
            "select " + TOKEN_COLUMNS + " from api_tokens where secret_hash = ?",
            q -> q.setString(1, secretHash),
            PostgresAccessStore::token);
    return found.stream().findFirst();
  }

  @Override
  public List<ApiToken> tokens() {
    return query(
        "select " + TOKEN_COLUMNS + " from api_tokens order by created_at, name",
        q -> {},
        PostgresAccessStore::token);
  }

  @Override
  public boolean revoke(String name, Instant at) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement update =
            c.prepareStatement(
                "update api_tokens set revoked_at = ? where name = ? and revoked_at is null")) {
      update.setTimestamp(1, Timestamp.from(at));
      update.setString(2, name);
      return update.executeUpdate() == 1;
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }

  @Override
  public void record(AuditEntry entry) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement insert =
            c.prepareStatement(
                "insert into audit_log (at, actor, action, target, detail) values (?, ?, ?, ?, ?)")) {
      insert.setTimestamp(1, Timestamp.from(entry.at()));
      insert.setString(2, entry.actor());
      insert.setString(3, entry.action());
      insert.setString(4, entry.target());
      insert.setString(5, entry.detail());
      insert.executeUpdate();
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }

  @Override
  public List<AuditEntry> auditLog(long afterId, int limit) {
    return query(
        "select id, at, actor, action, target, detail from audit_log where id > ? order by id"
            + " limit ?",
        q -> {
          q.setLong(1, afterId);
          q.setInt(2, limit);
        },
        rs ->
            new AuditEntry(
                rs.getLong("id"),
                rs.getTimestamp("at").toInstant(),
                rs.getString("actor"),
                rs.getString("action"),
                rs.getString("target"),
                rs.getString("detail")));
  }

  private interface Binder {
    void bind(PreparedStatement q) throws SQLException;
  }

  private interface Row<T> {
    T read(ResultSet rs) throws SQLException;
  }

  private <T> List<T> query(String sql, Binder binder, Row<T> row) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement q = c.prepareStatement(sql)) {
      binder.bind(q);
      var out = new ArrayList<T>();
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          out.add(row.read(rs));
        }
      }
      return out;
    } catch (SQLException e) {
      throw new StoreException(e);
    }
  }

  private static ApiToken token(ResultSet rs) throws SQLException {
    return new ApiToken(
        rs.getString("name"),
        Role.parse(rs.getString("role")),
        rs.getTimestamp("created_at").toInstant(),
        instant(rs.getTimestamp("expires_at")),
        instant(rs.getTimestamp("revoked_at")),
        rs.getString("created_by"));
  }

  private static Timestamp timestamp(Instant at) {
    return at == null ? null : Timestamp.from(at);
  }

  private static Instant instant(Timestamp t) {
    return t == null ? null : t.toInstant();
  }
}
