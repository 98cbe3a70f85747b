package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code courier migrate} against a real PostgreSQL, each test in a schema of its own. */
class MigrateCommandTest {
  private TestDatabase db;
  private String schema;

  @BeforeEach
  void setUp() {
    db = TestDatabase.shared();
    schema = "cli_migrate_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  @AfterEach
  void dropSchema() {
    db.dropSchema(schema);
  }

  private Map<String, String> environment() {
    Map<String, String> env = new HashMap<>();
    env.put("COURIER_DB_URL", db.jdbcUrl());
    if (db.user() != null) {
      env.put("COURIER_DB_USER", db.user());
    }
    if (db.password() != null) {
      env.put("COURIER_DB_PASSWORD", db.password());
    }
    return env;
  }

  @Test
  void migrate_createsTheSchemaAndCouriersTables_inAFreshSchema() throws SQLException {
    CliRun run = CliRun.of(environment(), "migrate", "--db-schema", schema);

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out())
        .contains("Applied")
        .contains("(schema " + schema + ")")
        .contains("courier_outbox");
    assertThat(tablesIn(schema))
        .containsExactlyInAnyOrder(
            "courier_outbox",
            "courier_processed_events",
            "courier_dead_letters",
            "courier_outbox_archive",
            "courier_replays",
            "courier_audit",
            "courier_outbox_partitions",
            "courier_outbox_relays",
            "courier_consumer_pauses",
            "courier_outbox_schema_version");
  }

  @Test
  void migrateWithLogMode_turnsTheOutboxToLogMode_withThePartitionsAskedFor() throws SQLException {
    CliRun run = CliRun.of(environment(), "migrate", "--db-schema", schema, "--log-mode", "--log-partitions", "8");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out()).contains("Log mode is on for courier_outbox with 8 partitions");
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM " + schema + ".courier_outbox_partitions")) {
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(8);
      }
    }
    CliRun again = CliRun.of(environment(), "migrate", "--db-schema", schema, "--log-mode", "--log-partitions", "4");
    assertThat(again.exitCode()).as(again.toString()).isNotZero();
    assertThat(again.err()).contains("8 partitions");
  }

  @Test
  void migrateWithTimePartitions_partitionsTheLogModeOutboxByCreationTime_andRefusesWhatCannotBe() throws SQLException {
    CliRun noLogMode = CliRun.of(environment(), "migrate", "--db-schema", schema, "--time-partitions", "1d");
    CliRun badInterval =
        CliRun.of(environment(), "migrate", "--db-schema", schema, "--log-mode", "--time-partitions", "90m");
    CliRun noUnit = CliRun.of(environment(), "migrate", "--db-schema", schema, "--log-mode", "--time-partitions", "24");

    assertThat(noLogMode.exitCode()).as(noLogMode.toString()).isNotZero();
    assertThat(noLogMode.err()).contains("--time-partitions").contains("needs --log-mode");
    assertThat(badInterval.exitCode()).as(badInterval.toString()).isNotZero();
    assertThat(badInterval.err()).contains("whole hours from 1h to 31d");
    assertThat(noUnit.exitCode()).as(noUnit.toString()).isNotZero();
    assertThat(noUnit.err()).contains("has no unit");

    CliRun run = CliRun.of(environment(), "migrate", "--db-schema", schema, "--log-mode", "--time-partitions", "1d");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out()).contains("The outbox courier_outbox is partitioned by creation time, one partition per 1d.");
    assertThat(tablesIn(schema))
        .contains("courier_outbox", "courier_outbox_pdefault")
        .filteredOn(t -> t.matches("courier_outbox_p\\d{8}_0000"))
        .hasSize(3);
    CliRun again = CliRun.of(environment(), "migrate", "--db-schema", schema, "--log-mode", "--time-partitions", "1d");
    assertThat(again.exitCode()).as(again.toString()).isZero();
    assertThat(again.out()).contains("was already partitioned");
  }

  @Test
  void migrate_twice_isHarmless() throws SQLException {
    CliRun first = CliRun.of(environment(), "migrate", "--db-schema", schema);
    CliRun second = CliRun.of(environment(), "migrate", "--db-schema", schema);

    assertThat(first.exitCode()).as(first.toString()).isZero();
    assertThat(second.exitCode()).as(second.toString()).isZero();
    assertThat(tablesIn(schema)).hasSize(10);
  }

  @Test
  void migrate_usesConfiguredTableNames() throws SQLException {
    Map<String, String> env = environment();
    env.put("COURIER_DB_SCHEMA", schema);
    env.put("COURIER_TABLES_OUTBOX", "shop_outbox");

    CliRun run = CliRun.of(env, "migrate");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(tablesIn(schema)).contains("shop_outbox").doesNotContain("courier_outbox");
  }

  private List<String> tablesIn(String schemaName) throws SQLException {
    List<String> tables = new ArrayList<>();
    try (Connection c = db.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?")) {
      ps.setString(1, schemaName);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          tables.add(rs.getString(1));
        }
      }
    }
    return tables;
  }
}
