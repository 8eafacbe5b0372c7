package dev.stowage.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/** A connection pool on Stowage's database, migrated to the current schema when opened. */
public final class Database implements AutoCloseable {
  private final HikariDataSource pool;

  private Database(HikariDataSource pool) {
    this.pool = pool;
  }

  /** Connects to {@code jdbcUrl} and applies the migrations in {@code db/migration}. */
  public static Database open(String jdbcUrl, String user, String password) {
    var config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setUsername(user);
    config.setPassword(password);
    config.setPoolName("stowage");
    // Errors carry no row contents or statement parameters (a task's env among them): they end
    // up in logs and answers.
    config.addDataSourceProperty("logServerErrorDetail", "false");
    config.setMaximumPoolSize(8);
    var pool = new HikariDataSource(config);
    try {
      Flyway.configure()
          .dataSource(pool)
          .locations("classpath:db/migration")
          .failOnMissingLocations(true)
          .load()
          .migrate();
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
    return new Database(pool);
  }

  /** Opens the database of an embedded server. */
  public static Database open(EmbeddedPostgres server) {
    return open(server.jdbcUrl(), server.user(), server.password());
  }

  public DataSource dataSource() {
    return pool;
  }

  @Override
  public void close() {
    pool.close();
  }
}
