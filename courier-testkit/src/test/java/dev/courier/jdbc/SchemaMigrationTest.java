package dev.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Courier's versioned migrations on a real PostgreSQL: every upgrade path ends where a fresh
 * install does, a schema from before versions were recorded is taken as version 1, and a schema
 * newer than this release is refused untouched.
 */
class SchemaMigrationTest {
  private final TestDatabase database = TestDatabase.shared();
  private final List<PGSimpleDataSource> schemas = new ArrayList<>();

  @AfterEach
  void dropSchemas() {
    schemas.forEach(database::dropSchema);
  }

  @Test
  void upgradeFromEveryEarlierVersion_endsExactlyLikeAFreshInstall() throws SQLException {
    PGSimpleDataSource fresh = schema("mig_fresh");
    Schema.migrate(fresh, CourierTables.DEFAULT);
    assertThat(Schema.currentVersion(fresh, CourierTables.DEFAULT)).isEqualTo(Schema.LATEST_VERSION);

    for (int from = 1; from < Schema.LATEST_VERSION; from++) {
      PGSimpleDataSource upgraded = schema("mig_from" + from);
      Schema.migrate(upgraded, CourierTables.DEFAULT, from);
      assertThat(Schema.currentVersion(upgraded, CourierTables.DEFAULT)).isEqualTo(from);

      Schema.migrate(upgraded, CourierTables.DEFAULT);

      assertThat(catalog(upgraded)).as("upgraded from version %d", from).isEqualTo(catalog(fresh));
      assertThat(Schema.currentVersion(upgraded, CourierTables.DEFAULT)).isEqualTo(Schema.LATEST_VERSION);
    }
  }

  @Test
  void tablesCreatedBeforeVersionsWereRecorded_areTakenAsVersionOne_andUpgraded() throws SQLException {
    PGSimpleDataSource fresh = schema("mig_fresh");
    Schema.migrate(fresh, CourierTables.DEFAULT);
    PGSimpleDataSource old = schema("mig_unversioned");
    try (Connection c = old.getConnection();
        Statement s = c.createStatement()) {
      for (String stmt : Schema.render(Dialect.POSTGRESQL, CourierTables.DEFAULT, 1).split(";\\s*\n")) {
        if (!stmt.lines().allMatch(l -> l.isBlank() || l.strip().startsWith("--"))) {
          s.execute(stmt);
        }
      }
    }
    assertThat(Schema.currentVersion(old, CourierTables.DEFAULT)).isZero();

    Schema.migrate(old, CourierTables.DEFAULT);

    assertThat(catalog(old)).isEqualTo(catalog(fresh));
  }

  @Test
  void schemaNewerThanThisRelease_isRefused_andLeftUntouched() throws SQLException {
    PGSimpleDataSource ahead = schema("mig_ahead");
    Schema.migrate(ahead, CourierTables.DEFAULT, 1);
    try (Connection c = ahead.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "INSERT INTO courier_outbox_schema_version (version, description, checksum) VALUES (99, 'future', 'x')");
    }
    List<String> before = catalog(ahead);

    assertThatThrownBy(() -> Schema.migrate(ahead, CourierTables.DEFAULT))
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("schema version 99")
        .hasMessageContaining("nothing was changed");
    assertThat(catalog(ahead)).isEqualTo(before);
  }

  @Test
  void migratingAnUpToDateSchema_appliesNothing() {
    PGSimpleDataSource db = schema("mig_twice");
    assertThat(Schema.migrate(db, CourierTables.DEFAULT)).isPositive();
    assertThat(Schema.migrate(db, CourierTables.DEFAULT)).isZero();
  }

  private PGSimpleDataSource schema(String prefix) {
    PGSimpleDataSource ds = database.freshSchema(prefix);
    schemas.add(ds);
    return ds;
  }

  /** The schema's tables, columns, indexes and constraints, without its name, one line each. */
  private static List<String> catalog(PGSimpleDataSource ds) throws SQLException {
    List<String> lines = new ArrayList<>();
    try (Connection c = ds.getConnection()) {
      String schema = c.getSchema();
      query(
          c,
          "SELECT table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable"
              + " || ' default=' || COALESCE(column_default, '') FROM information_schema.columns"
              + " WHERE table_schema = ? ORDER BY table_name, column_name",
          schema,
          lines);
      query(
          c,
          "SELECT tablename || ' ' || replace(indexdef, schemaname || '.', '') FROM pg_indexes"
              + " WHERE schemaname = ? ORDER BY indexname",
          schema,
          lines);
      query(
          c,
          "SELECT t.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid) || ' valid='"
              + " || k.convalidated FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid"
              + " JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = ? ORDER BY 1",
          schema,
          lines);
    }
    return lines;
  }

  private static void query(Connection c, String sql, String schema, List<String> into) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, schema);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          into.add(rs.getString(1));
        }
      }
    }
  }
}
