package dev.courier.testkit;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

/**
 * Plain SQL for tests that check what Courier wrote: each call opens a connection, runs one
 * statement with positional parameters and turns an {@link SQLException} into an {@link
 * IllegalStateException}.
 */
public final class SqlRows {
  private SqlRows() {}

  /** The rows of a query, in order, each as a map from column label to value. */
  public static List<Map<String, Object>> rows(DataSource db, String sql, Object... params) {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        ps.setObject(i + 1, params[i]);
      }
      List<Map<String, Object>> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
          Map<String, Object> row = new LinkedHashMap<>();
          for (int i = 1; i <= n; i++) {
            row.put(rs.getMetaData().getColumnLabel(i), rs.getObject(i));
          }
          out.add(row);
        }
      }
      return out;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The first row of a query, or an empty map when there is none. */
  public static Map<String, Object> row(DataSource db, String sql, Object... params) {
    List<Map<String, Object>> rows = rows(db, sql, params);
    return rows.isEmpty() ? Map.of() : rows.getFirst();
  }

  /** The first column of the first row, as a number ({@code SELECT count(*) ...}). */
  public static long queryLong(DataSource db, String sql, Object... params) {
    return ((Number) row(db, sql, params).values().iterator().next()).longValue();
  }

  /** Runs one statement without parameters. */
  public static void execute(DataSource db, String sql) {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
