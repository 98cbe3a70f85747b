package dev.courier.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CourierCliTest {

  @ParameterizedTest
  @ValueSource(strings = {"migrate", "relay", "demo", "config"})
  void everySubcommand_hasHelp(String command) {
    CliRun run = CliRun.of(command, "--help");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out()).startsWith("Usage: courier " + command);
    assertThat(run.err()).isEmpty();
  }

  @Test
  void noCommand_printsTheCommandsAndSucceeds() {
    CliRun run = CliRun.of();

    assertThat(run.exitCode()).isZero();
    assertThat(run.out()).contains("migrate", "relay", "demo", "Exit codes");
  }

  @Test
  void unknownOption_isAUsageError_withExitCode2AndAHint() {
    CliRun run = CliRun.of("migrate", "--bogus");

    assertThat(run.exitCode()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err()).contains("Unknown option: '--bogus'").contains("courier migrate --help");
    assertThat(run.out()).isEmpty();
  }

  @Test
  void unknownCommand_isAUsageError() {
    CliRun run = CliRun.of("migrat");

    assertThat(run.exitCode()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err()).contains("migrat");
  }

  @Test
  void migratePrint_writesTheSchemaWithEveryTable_andNeedsNoDatabase() {
    CliRun run = CliRun.of("migrate", "--print");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out())
        .contains("CREATE TABLE IF NOT EXISTS courier_outbox (")
        .contains("CREATE TABLE IF NOT EXISTS courier_processed_events (")
        .contains("CREATE TABLE IF NOT EXISTS courier_dead_letters (")
        .doesNotContain("${");
  }

  @Test
  void migratePrint_usesConfiguredTableNames() {
    CliRun run =
        CliRun.of(
            Map.of(
                "COURIER_TABLES_OUTBOX",
                "shop.events_out",
                "COURIER_TABLES_PROCESSED_EVENTS",
                "shop.events_seen"),
            "migrate",
            "--print");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out())
        .contains("CREATE TABLE IF NOT EXISTS shop.events_out (")
        .contains("CREATE TABLE IF NOT EXISTS shop.events_seen (")
        .contains("CREATE TABLE IF NOT EXISTS courier_dead_letters (");
  }

  @Test
  void badSetting_exitsWith2_andNamesKeyAndSource_withoutAStackTrace() {
    CliRun run = CliRun.of(Map.of("COURIER_RELAY_BATCH_SIZE", "abc"), "config");

    assertThat(run.exitCode()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err())
        .isEqualTo(
            "courier: configuration error: courier.relay.batch-size (from env"
                + " COURIER_RELAY_BATCH_SIZE): 'abc' is not a whole number"
                + System.lineSeparator());
  }

  @Test
  void badOptionValue_namesTheOption() {
    CliRun run = CliRun.of("demo", "--rate", "lots");

    assertThat(run.exitCode()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err()).contains("courier.demo.rate (from option --rate): 'lots' is not a rate");
  }

  @Test
  void migrateWithoutADatabase_saysWhichSettingIsMissingAndHowToSetIt() {
    CliRun run = CliRun.of("migrate");

    assertThat(run.exitCode()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err())
        .contains("courier.db.url: is not set")
        .contains("COURIER_DB_URL")
        .contains("--db-url");
  }

  @Test
  void relayWithoutKafka_isAConfigurationError() {
    CliRun run = CliRun.of(Map.of("COURIER_DB_URL", "jdbc:postgresql://127.0.0.1:1/none"), "relay");

    assertThat(run.exitCode()).isEqualTo(CourierCli.USAGE);
    assertThat(run.err()).contains("courier.kafka.bootstrap-servers: is not set");
  }

  @Test
  void unreachableDatabase_exitsWith1_andNeverPrintsThePassword() {
    CliRun run =
        CliRun.of(
            Map.of("COURIER_DB_PASSWORD", "hunter2", "COURIER_DB_CONNECT_TIMEOUT", "1s"),
            "migrate",
            "--db-url",
            "jdbc:postgresql://127.0.0.1:1/nowhere?password=url-secret",
            "--db-user",
            "someone");

    assertThat(run.exitCode()).as(run.toString()).isEqualTo(CourierCli.FAILED);
    assertThat(run.err())
        .startsWith(
            "courier: error: cannot connect to the database at"
                + " jdbc:postgresql://127.0.0.1:1/nowhere?password=**** as someone")
        .contains("--verbose")
        .doesNotContain("hunter2")
        .doesNotContain("url-secret")
        .doesNotContain("\tat ");
  }

  @Test
  void verbose_addsTheStackTrace() {
    CliRun run =
        CliRun.of(
            Map.of("COURIER_DB_CONNECT_TIMEOUT", "1s"),
            "migrate",
            "--verbose",
            "--db-url",
            "jdbc:postgresql://127.0.0.1:1/nowhere");

    assertThat(run.exitCode()).isEqualTo(CourierCli.FAILED);
    assertThat(run.err()).contains("\tat ");
  }

  @Test
  void config_listsEveryValueWithItsSource_andMasksThePassword() {
    CliRun run =
        CliRun.of(
            Map.of("COURIER_DB_PASSWORD", "hunter2"),
            "config",
            "--batch-size",
            "99",
            "--db-url",
            "jdbc:postgresql://h/db");

    assertThat(run.exitCode()).as(run.toString()).isZero();
    assertThat(run.out())
        .containsPattern("courier\\.relay\\.batch-size +?= 99  \\(option --batch-size\\)")
        .containsPattern("courier\\.db\\.password +?= \\*\\*\\*\\*  \\(env COURIER_DB_PASSWORD\\)")
        .containsPattern("courier\\.relay\\.max-attempts +?= 10  \\(default\\)")
        .doesNotContain("hunter2");
  }
}
