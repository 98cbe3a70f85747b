package dev.courier.jdbc;

import dev.courier.CourierException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

/**
 * Courier's DDL, shipped as SQL files in the jar under {@code dev/courier/schema/<dialect>/} for
 * users' own migration tools, and applied by {@link #migrate}. Every statement is idempotent
 * ({@code IF NOT EXISTS}), so migrating twice is harmless.
 */
public final class Schema {
  private static final String VERSION_FILE = "V1__courier.sql";

  private Schema() {}

  /** The classpath resource holding the DDL for a dialect. */
  public static String resource(Dialect dialect) {
    return "dev/courier/schema/" + dialect.name() + "/" + VERSION_FILE;
  }

  /** The DDL for a dialect with the table names filled in, as one SQL script. */
  public static String render(Dialect dialect, CourierTables tables) {
    String template = read(resource(dialect));
    Map<String, String> values =
        Map.ofEntries(
            Map.entry("${outbox}", tables.outbox()),
            Map.entry("${processed_events}", tables.processedEvents()),
            Map.entry("${dead_letters}", tables.deadLetters()),
            Map.entry("${outbox_archive}", tables.outboxArchive()),
            Map.entry("${replays}", tables.replays()),
            Map.entry("${audit}", tables.audit()),
            Map.entry("${outbox_name}", bare(tables.outbox())),
            Map.entry("${processed_events_name}", bare(tables.processedEvents())),
            Map.entry("${dead_letters_name}", bare(tables.deadLetters())),
            Map.entry("${outbox_archive_name}", bare(tables.outboxArchive())),
            Map.entry("${replays_name}", bare(tables.replays())),
            Map.entry("${audit_name}", bare(tables.audit())));
    String sql = template;
    for (var e : values.entrySet()) {
      sql = sql.replace(e.getKey(), e.getValue());
    }
    return sql;
  }

  /** The rendered DDL split into single statements, comments removed. */
  public static List<String> statements(Dialect dialect, CourierTables tables) {
    List<String> out = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : render(dialect, tables).split("\n")) {
      String trimmed = line.strip();
      if (trimmed.startsWith("--") || trimmed.isEmpty()) {
        continue;
      }
      current.append(line).append('\n');
      if (trimmed.endsWith(";")) {
        String stmt = current.toString().strip();
        out.add(stmt.substring(0, stmt.length() - 1));
        current.setLength(0);
      }
    }
    return out;
  }

  /**
   * Creates Courier's tables and indexes if they do not exist, in one transaction where the
   * database supports transactional DDL.
   *
   * @return the number of statements applied
   */
  public static int migrate(DataSource dataSource, CourierTables tables) {
    try (Connection c = dataSource.getConnection()) {
      Dialect dialect = Dialect.detect(c);
      List<String> stmts = statements(dialect, tables);
      boolean auto = c.getAutoCommit();
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        for (String stmt : stmts) {
          s.execute(stmt);
        }
        c.commit();
      } catch (SQLException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(auto);
      }
      return stmts.size();
    } catch (SQLException e) {
      throw new CourierException("could not create Courier's tables: " + e.getMessage(), e);
    }
  }

  private static String bare(String table) {
    int dot = table.indexOf('.');
    return dot < 0 ? table : table.substring(dot + 1);
  }

  private static String read(String resource) {
    try (InputStream in = Schema.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new CourierException("schema resource missing from the jar: " + resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new CourierException("could not read schema resource " + resource, e);
    }
  }
}
