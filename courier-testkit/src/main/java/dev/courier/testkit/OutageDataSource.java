package dev.courier.testkit;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTransientConnectionException;
import java.util.Objects;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A real data source behind a switch: while it is {@linkplain #down(boolean) down}, new connections
 * are refused as by a database that is unreachable (SQLState {@code 08001}). Not a mock: every
 * connection it hands out is a real one. Thread-safe.
 */
public final class OutageDataSource implements DataSource {
  private final DataSource real;
  private volatile boolean down;

  /** Wraps {@code real}, up. */
  public OutageDataSource(DataSource real) {
    this.real = Objects.requireNonNull(real, "real");
  }

  /** Starts ({@code true}) or ends ({@code false}) the outage, for connections opened from now. */
  public void down(boolean down) {
    this.down = down;
  }

  @Override
  public Connection getConnection() throws SQLException {
    if (down) {
      throw new SQLTransientConnectionException("Connection refused (simulated outage)", "08001");
    }
    return real.getConnection();
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    return getConnection();
  }

  @Override
  public PrintWriter getLogWriter() throws SQLException {
    return real.getLogWriter();
  }

  @Override
  public void setLogWriter(PrintWriter out) throws SQLException {
    real.setLogWriter(out);
  }

  @Override
  public void setLoginTimeout(int seconds) throws SQLException {
    real.setLoginTimeout(seconds);
  }

  @Override
  public int getLoginTimeout() throws SQLException {
    return real.getLoginTimeout();
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    return real.getParentLogger();
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    return iface.isInstance(this) ? iface.cast(this) : real.unwrap(iface);
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) throws SQLException {
    return iface.isInstance(this) || real.isWrapperFor(iface);
  }
}
