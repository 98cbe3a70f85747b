package dev.courier.server;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
import dev.courier.CourierException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.server.config.DatabaseSettings;
import dev.courier.server.config.Masking;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/** Opens HikariCP pools for the {@code courier} commands. */
public final class Databases {
  private Databases() {}

  /**
   * A fixed-size pool on {@code url} that fails at once when the database cannot be reached within
   * {@code connectTimeout}, with a message naming the URL (passwords hidden) and the driver's
   * reason.
   *
   * @param user the user, or {@code null} to let the driver decide
   * @param password the password, or {@code null}
   * @param schema the schema every connection works in (its search path), or {@code null}
   * @throws CourierException if no connection can be made
   */
  public static HikariDataSource pool(
      String poolName,
      String url,
      String user,
      String password,
      String schema,
      int poolSize,
      Duration connectTimeout) {
    HikariConfig hc = new HikariConfig();
    hc.setPoolName(poolName);
    hc.setJdbcUrl(url);
    if (user != null) {
      hc.setUsername(user);
    }
    if (password != null) {
      hc.setPassword(password);
    }
    if (schema != null) {
      hc.setSchema(schema);
    }
    hc.setMaximumPoolSize(poolSize);
    hc.setConnectionTimeout(connectTimeout.toMillis());
    // Fail at start, not at the first request, when the database is unreachable or refuses us.
    hc.setInitializationFailTimeout(connectTimeout.toMillis());
    hc.addDataSourceProperty("ApplicationName", poolName);
    try {
      return new HikariDataSource(hc);
    } catch (HikariPool.PoolInitializationException | IllegalArgumentException e) {
      String what = "cannot connect to the database at " + Masking.url(url) + (user == null ? "" : " as " + user);
      for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
        if (c instanceof SQLException s) {
          throw DatabaseFailures.of(what, s);
        }
      }
      // not the database's answer: the settings could not make a pool (an unknown driver or URL)
      throw new CourierException(what + ": " + rootMessage(e), e);
    }
  }

  /** A pool from the configured settings ({@code courier.db.*}). */
  static HikariDataSource pool(String poolName, DatabaseSettings settings, int poolSize) {
    return pool(
        poolName,
        settings.url(),
        settings.user(),
        settings.password(),
        settings.schema(),
        poolSize,
        settings.connectTimeout());
  }

  /** Creates a schema unless it exists. The name must have passed Courier's identifier check. */
  static void createSchemaIfMissing(HikariDataSource ds, String schema) {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA IF NOT EXISTS " + schema);
    } catch (SQLException e) {
      throw DatabaseFailures.of("cannot create schema " + schema, e);
    }
  }

  /** The message of the innermost cause: usually the driver's own words. */
  public static String rootMessage(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = root.getMessage();
    return m == null ? root.getClass().getSimpleName() : m;
  }
}
