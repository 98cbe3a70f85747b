package dev.courier.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

import dev.courier.ConfigurationException;
import dev.courier.relay.Relay;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CourierConfigTest {
  @TempDir Path dir;

  private Path file(String content) throws IOException {
    Path f = dir.resolve("courier.properties");
    Files.writeString(f, content);
    return f;
  }

  @Test
  void defaults_whenNothingIsSet_areTheDocumentedOnes() {
    CourierConfig c = CourierConfig.defaults();

    assertThat(c.database().url()).isNull();
    assertThat(c.database().poolSize()).isEqualTo(10);
    assertThat(c.kafka().bootstrapServers()).isNull();
    assertThat(c.tables().outbox()).isEqualTo("courier_outbox");
    assertThat(c.relay().batchSize()).isEqualTo(256);
    assertThat(c.relay().batchesInFlight()).isEqualTo(2);
    assertThat(c.relay().claimMode()).isEqualTo(Relay.ClaimMode.LEASE);
    assertThat(c.relay().deletePublished()).isFalse();
    assertThat(c.relay().maxAttempts()).isEqualTo(10);
    assertThat(c.relay().lease()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.demo().duration()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.demo().ratePerSecond()).isCloseTo(10_000 / 60.0, within(1e-9));
    assertThat(c.demo().rollbackRate()).isCloseTo(0.02, within(1e-12));
    assertThat(c.demo().dropConfirmRate()).isCloseTo(0.001, within(1e-12));
    assertThat(c.demo().consumerCrashRate()).isCloseTo(1 / 2000.0, within(1e-12));
    assertThat(c.value(Setting.RELAY_BATCH_SIZE).orElseThrow().origin())
        .isInstanceOf(Origin.Default.class);
  }

  @Test
  void precedence_optionBeatsEnvironmentBeatsFileBeatsDefault() throws IOException {
    Path f =
        file(
            "courier.relay.batch-size=100\n"
                + "courier.relay.max-attempts=3\n"
                + "courier.db.user=from-file\n");
    Map<String, String> env =
        Map.of("COURIER_RELAY_BATCH_SIZE", "200", "COURIER_DB_USER", "from-env");

    CourierConfig all =
        CourierConfig.loader()
            .file(f)
            .environment(env)
            .option(Setting.RELAY_BATCH_SIZE, "--batch-size", "300")
            .load();
    CourierConfig noOption = CourierConfig.loader().file(f).environment(env).load();
    CourierConfig fileOnly = CourierConfig.loader().file(f).load();

    assertThat(all.relay().batchSize()).isEqualTo(300);
    assertThat(all.value(Setting.RELAY_BATCH_SIZE).orElseThrow().origin())
        .isEqualTo(new Origin.Option("--batch-size"));
    assertThat(noOption.relay().batchSize()).isEqualTo(200);
    assertThat(noOption.value(Setting.RELAY_BATCH_SIZE).orElseThrow().origin())
        .isEqualTo(new Origin.Env("COURIER_RELAY_BATCH_SIZE"));
    assertThat(noOption.database().user()).isEqualTo("from-env");
    assertThat(fileOnly.relay().batchSize()).isEqualTo(100);
    assertThat(fileOnly.database().user()).isEqualTo("from-file");
    // a key set only in the file survives the layers above it
    assertThat(all.relay().maxAttempts()).isEqualTo(3);
    assertThat(all.value(Setting.RELAY_MAX_ATTEMPTS).orElseThrow().origin())
        .isEqualTo(new Origin.File(f));
  }

  @Test
  void anEmptyValue_countsAsUnset() {
    CourierConfig c =
        CourierConfig.loader()
            .environment(Map.of("COURIER_RELAY_BATCH_SIZE", " ", "COURIER_DB_URL", ""))
            .load();

    assertThat(c.relay().batchSize()).isEqualTo(256);
    assertThat(c.database().url()).isNull();
  }

  @Test
  void badValue_fromEnvironment_namesKeyAndSourceAndRule() {
    assertThatThrownBy(
            () ->
                CourierConfig.loader()
                    .environment(Map.of("COURIER_RELAY_BATCH_SIZE", "abc"))
                    .load())
        .isInstanceOf(InvalidSettingException.class)
        .isInstanceOf(ConfigurationException.class)
        .hasMessage(
            "courier.relay.batch-size (from env COURIER_RELAY_BATCH_SIZE): 'abc' is not a whole"
                + " number");
  }

  @Test
  void badValue_fromFile_namesTheFile() throws IOException {
    Path f = file("courier.demo.rollback-rate=150%\n");

    InvalidSettingException e =
        catchThrowableOfType(
            InvalidSettingException.class, () -> CourierConfig.loader().file(f).load());

    assertThat(e.setting()).isEqualTo("courier.demo.rollback-rate");
    assertThat(e.origin()).isEqualTo(new Origin.File(f));
    assertThat(e.getMessage())
        .isEqualTo(
            "courier.demo.rollback-rate (from file "
                + f
                + "): must be between 0 and 1 (0% to 100%), was 150%");
  }

  @Test
  void badValue_fromOption_namesTheOption() {
    assertThatThrownBy(
            () -> CourierConfig.loader().option(Setting.DEMO_DURATION, "--duration", "30").load())
        .hasMessage(
            "courier.demo.duration (from option --duration): '30' has no unit; write it like 30s or"
                + " 30ms (units: ms, s, m, h, d)");
  }

  @Test
  void outOfRange_saysTheRange() {
    assertThatThrownBy(
            () ->
                CourierConfig.loader().environment(Map.of("COURIER_RELAY_BATCH_SIZE", "0")).load())
        .hasMessageEndingWith("must be between 1 and 10000, was 0");
    assertThatThrownBy(
            () ->
                CourierConfig.loader()
                    .environment(Map.of("COURIER_RELAY_BATCHES_IN_FLIGHT", "17"))
                    .load())
        .hasMessageContaining("courier.relay.batches-in-flight")
        .hasMessageEndingWith("must be between 1 and 16, was 17");
  }

  @Test
  void claimMode_isLeaseLockOrLog_inAnyCase_andAnythingElseIsRefusedWithTheChoices() {
    assertThat(
            CourierConfig.loader()
                .environment(Map.of("COURIER_RELAY_CLAIM_MODE", "LOCK"))
                .load()
                .relay()
                .claimMode())
        .isEqualTo(Relay.ClaimMode.LOCK);
    assertThat(
            CourierConfig.loader()
                .environment(Map.of("COURIER_RELAY_CLAIM_MODE", "Log"))
                .load()
                .relay()
                .claimMode())
        .isEqualTo(Relay.ClaimMode.LOG);
    assertThatThrownBy(
            () ->
                CourierConfig.loader()
                    .option(Setting.RELAY_CLAIM_MODE, "--claim-mode", "locks")
                    .load())
        .hasMessage(
            "courier.relay.claim-mode (from option --claim-mode): 'locks' is not a claim mode: use"
                + " lease, lock or log");
  }

  @Test
  void describe_showsTheBatchSizeTheRelayUses_logModesDefaultWhenNoneIsGiven() {
    String log = CourierConfig.loader().option(Setting.RELAY_CLAIM_MODE, "--claim-mode", "log").load().describe();
    assertThat(log).containsPattern("courier\\.relay\\.batch-size *= " + Relay.DEFAULT_LOG_BATCH_SIZE + "  \\(default in log mode\\)");
    String lease = CourierConfig.loader().load().describe();
    assertThat(lease).containsPattern("courier\\.relay\\.batch-size *= " + Relay.DEFAULT_BATCH_SIZE + "  \\(default\\)");
    String given =
        CourierConfig.loader()
            .option(Setting.RELAY_CLAIM_MODE, "--claim-mode", "log")
            .option(Setting.RELAY_BATCH_SIZE, "--batch-size", "300")
            .load()
            .describe();
    assertThat(given).containsPattern("courier\\.relay\\.batch-size *= 300  \\(option --batch-size\\)");
  }

  @Test
  void batchSize_notGiven_isTheClaimModesDefault_andAGivenOneIsKeptInLogModeToo() {
    assertThat(CourierConfig.loader().load().relay().batchSize()).isEqualTo(Relay.DEFAULT_BATCH_SIZE);
    assertThat(
            CourierConfig.loader()
                .option(Setting.RELAY_CLAIM_MODE, "--claim-mode", "log")
                .load()
                .relay()
                .batchSize())
        .isEqualTo(Relay.DEFAULT_LOG_BATCH_SIZE);
    assertThat(
            CourierConfig.loader()
                .environment(Map.of("COURIER_RELAY_CLAIM_MODE", "log", "COURIER_RELAY_BATCH_SIZE", "256"))
                .load()
                .relay()
                .batchSize())
        .isEqualTo(256);
    assertThat(
            CourierConfig.loader()
                .option(Setting.RELAY_CLAIM_MODE, "--claim-mode", "lock")
                .option(Setting.RELAY_BATCH_SIZE, "--batch-size", "2000")
                .load()
                .relay()
                .batchSize())
        .isEqualTo(2000);
  }

  @Test
  void everyBadValue_isReported_notJustTheFirst() {
    InvalidSettingException e =
        catchThrowableOfType(
            InvalidSettingException.class,
            () ->
                CourierConfig.loader()
                    .environment(
                        Map.of("COURIER_RELAY_BATCH_SIZE", "many", "COURIER_DEMO_RATE", "fast"))
                    .load());

    assertThat(e.getSuppressed()).hasSize(1);
    assertThat(e.getMessage() + Arrays.toString(e.getSuppressed()))
        .contains("courier.relay.batch-size (from env COURIER_RELAY_BATCH_SIZE)")
        .contains("courier.demo.rate (from env COURIER_DEMO_RATE): 'fast' is not a rate");
  }

  @Test
  void unknownKeyInFile_isRefused_withTheKeyItProbablyMeant() throws IOException {
    Path f = file("courier.relay.batchsize=10\n");

    assertThatThrownBy(() -> CourierConfig.loader().file(f).load())
        .hasMessage(
            "courier.relay.batchsize (from file "
                + f
                + "): is not a known setting; did you mean courier.relay.batch-size?");
  }

  @Test
  void missingFile_isAConfigurationError() {
    Path missing = dir.resolve("nope.properties");

    assertThatThrownBy(() -> CourierConfig.loader().file(missing).load())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("does not exist");
  }

  @Test
  void leaseShorterThanTwicePublishTimeout_isRefused_namingBothKeys() {
    assertThatThrownBy(
            () ->
                CourierConfig.loader()
                    .environment(
                        Map.of(
                            "COURIER_RELAY_LEASE", "40s", "COURIER_RELAY_PUBLISH_TIMEOUT", "30s"))
                    .load())
        .hasMessageStartingWith(
            "courier.relay.lease (from env COURIER_RELAY_LEASE): must be at least twice")
        .hasMessageContaining("courier.relay.publish-timeout (30s)");
  }

  @Test
  void httpAndHealth_defaultToLoopbackAndTheDocumentedLimits_andAreChecked() {
    CourierConfig c = CourierConfig.defaults();
    assertThat(c.http()).isEqualTo(new HttpSettings(true, "127.0.0.1", 9477));
    assertThat(c.health())
        .isEqualTo(
            new HealthSettings(
                Duration.ofMinutes(5),
                10,
                Duration.ofMinutes(5),
                Duration.ofSeconds(15),
                Optional.of(Duration.ofMinutes(5))));

    CourierConfig ephemeral =
        CourierConfig.loader()
            .environment(Map.of("COURIER_HTTP_PORT", "0", "COURIER_HEALTH_DEAD_LETTER_GROWTH", "0"))
            .load();
    assertThat(ephemeral.http().port()).isZero();
    assertThat(ephemeral.health().deadLetterGrowth()).isZero();

    assertThatThrownBy(
            () -> CourierConfig.loader().environment(Map.of("COURIER_HTTP_PORT", "70000")).load())
        .hasMessage(
            "courier.http.port (from env COURIER_HTTP_PORT): must be between 0 and 65535, was 70000");
    assertThatThrownBy(
            () ->
                CourierConfig.loader()
                    .environment(
                        Map.of(
                            "COURIER_HEALTH_DEAD_LETTER_WINDOW", "10s",
                            "COURIER_HEALTH_CHECK_INTERVAL", "30s"))
                    .load())
        .hasMessageStartingWith(
            "courier.health.dead-letter-window (from env COURIER_HEALTH_DEAD_LETTER_WINDOW): must be"
                + " at least courier.health.check-interval (30s)");
  }

  @Test
  void horizonMaxLag_isADuration_orOffToLeaveTheHorizonOutOfReadiness() {
    assertThat(
            CourierConfig.loader()
                .environment(Map.of("COURIER_HEALTH_HORIZON_MAX_LAG", "90s"))
                .load()
                .health()
                .horizonMaxLag())
        .contains(Duration.ofSeconds(90));
    assertThat(
            CourierConfig.loader()
                .environment(Map.of("COURIER_HEALTH_HORIZON_MAX_LAG", "off"))
                .load()
                .health()
                .horizonMaxLag())
        .isEmpty();
    assertThatThrownBy(
            () ->
                CourierConfig.loader()
                    .environment(Map.of("COURIER_HEALTH_HORIZON_MAX_LAG", "soon"))
                    .load())
        .hasMessageStartingWith(
            "courier.health.horizon-max-lag (from env COURIER_HEALTH_HORIZON_MAX_LAG): ");
  }
  @Test
  void badTableName_isRefused_withTheKeyAndTheRule() {
    assertThatThrownBy(
            () ->
                CourierConfig.loader()
                    .environment(Map.of("COURIER_TABLES_OUTBOX", "outbox; drop table x"))
                    .load())
        .hasMessageStartingWith(
            "courier.tables.outbox (from env COURIER_TABLES_OUTBOX): 'outbox; drop table x' is not"
                + " an allowed identifier");
  }

  @Test
  void formats_ofRatesFractionsAndDurations_areUnderstood() {
    CourierConfig c =
        CourierConfig.loader()
            .option(Setting.DEMO_RATE, "--rate", "200")
            .option(Setting.DEMO_ROLLBACK_RATE, "--rollback-rate", "0.05")
            .option(Setting.DEMO_DROP_CONFIRM_RATE, "--drop-confirm-rate", "1/1000")
            .option(Setting.DEMO_CONSUMER_CRASH_RATE, "--consumer-crash-rate", "0%")
            .option(Setting.DEMO_DURATION, "--duration", "PT1M30S")
            .option(Setting.DEMO_KEEP, "--keep", "yes")
            .load();
    CourierConfig perMinute =
        CourierConfig.loader().option(Setting.DEMO_RATE, "--rate", "600/min").load();
    CourierConfig inParts =
        CourierConfig.loader().option(Setting.DEMO_DURATION, "--duration", "1m30s").load();

    assertThat(c.demo().ratePerSecond()).isEqualTo(200.0);
    assertThat(perMinute.demo().ratePerSecond()).isEqualTo(10.0);
    assertThat(c.demo().rollbackRate()).isEqualTo(0.05);
    assertThat(c.demo().dropConfirmRate()).isEqualTo(0.001);
    assertThat(c.demo().consumerCrashRate()).isZero();
    assertThat(c.demo().duration()).isEqualTo(Duration.ofSeconds(90));
    assertThat(inParts.demo().duration()).isEqualTo(Duration.ofSeconds(90));
    assertThat(c.demo().keep()).isTrue();
  }

  @Test
  void password_isMaskedInToStringAndDescribe_andInTheUrl() throws IOException {
    Path f =
        file(
            "courier.kafka.property.sasl.jaas.config=org.example.Login required"
                + " password=\"kafka-secret\";\n"
                + "courier.kafka.property.security.protocol=SASL_SSL\n");
    CourierConfig c =
        CourierConfig.loader()
            .file(f)
            .environment(
                Map.of(
                    "COURIER_DB_PASSWORD", "hunter2",
                    "COURIER_DB_URL",
                        "jdbc:postgresql://db/app?user=app&password=url-secret&ssl=true"))
            .load();

    assertThat(c.database().password()).isEqualTo("hunter2");
    assertThat(c.kafka().properties()).containsEntry("security.protocol", "SASL_SSL");
    for (String shown :
        new String[] {
          c.toString(),
          c.describe(),
          c.database().toString(),
          c.kafka().toString(),
          c.values().toString()
        }) {
      assertThat(shown)
          .doesNotContain("hunter2")
          .doesNotContain("url-secret")
          .doesNotContain("kafka-secret")
          .contains("****");
    }
    assertThat(c.describe())
        .contains("courier.db.password")
        .contains("(env COURIER_DB_PASSWORD)")
        .contains("jdbc:postgresql://db/app?user=app&password=****&ssl=true")
        .contains("SASL_SSL");
  }

  @Test
  void secretValues_areNotEchoedInErrors() {
    Value secret =
        new Value("courier.db.password", "hunter2", new Origin.Env("COURIER_DB_PASSWORD"), true);

    InvalidSettingException e =
        catchThrowableOfType(
            InvalidSettingException.class, () -> ValueParser.wholeNumber(secret, 1, 2));

    assertThat(e.getMessage()).doesNotContain("hunter2").contains("(hidden)");
  }

  @Test
  void urlMasking_hidesUserInfoPasswordsToo() {
    assertThat(Masking.url("jdbc:postgresql://app:pw123@db:5432/x"))
        .isEqualTo("jdbc:postgresql://app:****@db:5432/x");
    assertThat(Masking.url("jdbc:postgresql://db/x?PASSWORD=abc;ssl=true"))
        .isEqualTo("jdbc:postgresql://db/x?PASSWORD=****;ssl=true");
  }

  @Test
  void urlMasking_hidesAPasswordContainingAt_andNatsTokens_insideFreeText() {
    assertThat(Masking.url("amqp://user:p@ss@host:5672/vh")).isEqualTo("amqp://user:****@host:5672/vh");
    assertThat(Masking.url("postgresql://user:a@b@c@db/x?sslmode=require&note=x@y"))
        .isEqualTo("postgresql://user:****@db/x?sslmode=require&note=x@y");
    assertThat(Masking.url("nats://s3cr3t-token@nats-1:4222,nats://u:pw@nats-2:4222"))
        .isEqualTo("nats://****@nats-1:4222,nats://u:****@nats-2:4222");
    assertThat(Masking.text("cannot connect to amqp://u:p@ss@rabbit:5672 (refused); retry"))
        .isEqualTo("cannot connect to amqp://u:****@rabbit:5672 (refused); retry");
    assertThat(Masking.url("jdbc:postgresql://db/x?user=app&password=a@b&ssl=true"))
        .isEqualTo("jdbc:postgresql://db/x?user=app&password=****&ssl=true");
    assertThat(Masking.url("jdbc:postgresql://db:5432/x")).isEqualTo("jdbc:postgresql://db:5432/x");
  }

  @Test
  void secretNames_coverKeysPasswordsTokensAndCredentials_andNothingElse() {
    assertThat(Masking.isSecretName("ssl.keystore.key")).isTrue();
    assertThat(Masking.isSecretName("ssl.key.password")).isTrue();
    assertThat(Masking.isSecretName("sasl.jaas.config")).isTrue();
    assertThat(Masking.isSecretName("sasl.oauthbearer.client.credentials.client.secret")).isTrue();
    assertThat(Masking.isSecretName("courier.http.tls.keystore-password")).isTrue();
    assertThat(Masking.isSecretName("ssl.keystore.location")).isFalse();
    assertThat(Masking.isSecretName("bootstrap.servers")).isFalse();
    for (Setting s : Setting.values()) {
      assertThat(s.secret()).as("%s is secret exactly when its name says so", s.key()).isEqualTo(Masking.isSecretName(s.key()));
    }
  }

  @Test
  void everySetting_isDocumentedInConfigurationMd_withItsEnvironmentVariable() throws IOException {
    String doc = Files.readString(Path.of("../docs/CONFIGURATION.md"));

    for (Setting s : Setting.values()) {
      assertThat(doc).as("CONFIGURATION.md documents %s", s.key()).contains("`" + s.key() + "`");
      assertThat(doc)
          .as("CONFIGURATION.md names %s", s.envVariable())
          .contains("`" + s.envVariable() + "`");
      s.defaultValue()
          .ifPresent(d -> assertThat(doc).as("default of %s", s.key()).contains("`" + d + "`"));
    }
  }
}
