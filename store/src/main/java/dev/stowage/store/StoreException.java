package dev.stowage.store;

import java.sql.SQLException;

/** The database failed a call: unreachable, or refused a write (the SQL state says which). */
public final class StoreException extends RuntimeException {
  public StoreException(SQLException cause) {
    super(cause.getMessage() + " (SQL state " + cause.getSQLState() + ")", cause);
  }

  public String sqlState() {
    return ((SQLException) getCause()).getSQLState();
  }
}
