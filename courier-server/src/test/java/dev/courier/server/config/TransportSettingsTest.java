package dev.courier.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay's transport settings: RabbitMQ, NATS, and Kafka client properties from the
 * environment.
 */
class TransportSettingsTest {
  private static final String CANARY = "canary-7f3a9c";

  @TempDir Path dir;

  @Test
  void transport_isKafkaByDefault_orRabbitMqOrNatsInAnyCase_andAnythingElseIsRefused() {
    assertThat(CourierConfig.defaults().relay().transport()).isEqualTo(TransportKind.KAFKA);
    assertThat(load(Map.of("COURIER_RELAY_TRANSPORT", "RabbitMQ")).relay().transport())
        .isEqualTo(TransportKind.RABBITMQ);
    assertThat(load(Map.of("COURIER_RELAY_TRANSPORT", "nats")).relay().transport())
        .isEqualTo(TransportKind.NATS);

    InvalidSettingException e =
        catchThrowableOfType(
            InvalidSettingException.class,
            () -> load(Map.of("COURIER_RELAY_TRANSPORT", "sqs")));
    assertThat(e)
        .hasMessageContaining("courier.relay.transport")
        .hasMessageContaining("env COURIER_RELAY_TRANSPORT")
        .hasMessageContaining("'sqs' is not a transport: use one of kafka, rabbitmq, nats");
  }

  @Test
  void kafkaClientProperties_comeFromTheEnvironment_overTheFile_andSecretOnesAreMaskedEverywhere()
      throws IOException {
    Path f = dir.resolve("courier.properties");
    Files.writeString(
        f,
        "courier.kafka.property.security.protocol=SSL\n"
            + "courier.kafka.property.sasl.mechanism=PLAIN\n");
    String jaas =
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"app\""
            + " password=\""
            + CANARY
            + "\";";

    CourierConfig c =
        CourierConfig.loader()
            .file(f)
            .environment(
                Map.of(
                    "COURIER_KAFKA_PROPERTY_SECURITY_PROTOCOL", "SASL_SSL",
                    "COURIER_KAFKA_PROPERTY_SASL_JAAS_CONFIG", jaas,
                    "COURIER_KAFKA_PROPERTY_SSL_KEYSTORE_KEY",
                    "-----BEGIN PRIVATE KEY-----" + CANARY,
                    "COURIER_KAFKA_PROPERTY_", "ignored: no property name",
                    "COURIER_KAFKA_PROPERTY_CLIENT_RACK", " "))
            .load();

    assertThat(c.kafka().properties())
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "PLAIN")
        .containsEntry("sasl.jaas.config", jaas)
        .containsEntry("ssl.keystore.key", "-----BEGIN PRIVATE KEY-----" + CANARY)
        .doesNotContainKey("")
        .doesNotContainKey("client.rack");
    Value fromEnv =
        c.values().stream()
            .filter(v -> v.key().equals("courier.kafka.property.sasl.jaas.config"))
            .findFirst()
            .orElseThrow();
    assertThat(fromEnv.origin())
        .isEqualTo(new Origin.Env("COURIER_KAFKA_PROPERTY_SASL_JAAS_CONFIG"));
    assertThat(fromEnv.secret()).isTrue();
    assertThat(c.describe())
        .contains("courier.kafka.property.sasl.jaas.config")
        .contains("courier.kafka.property.security.protocol")
        .contains("courier.kafka.property.ssl.keystore.key")
        .contains("SASL_SSL  (env COURIER_KAFKA_PROPERTY_SECURITY_PROTOCOL)")
        .doesNotContain(CANARY);
    assertThat(c.toString()).doesNotContain(CANARY);
    assertThat(c.kafka().toString()).doesNotContain(CANARY);
  }

  @Test
  void rabbitMqAndNatsSecrets_fromTheEnvironment_areNeverShown() {
    CourierConfig c =
        load(
            Map.of(
                "COURIER_RABBITMQ_URI", "amqp://app@rabbit:5672/orders",
                "COURIER_RABBITMQ_PASSWORD", CANARY,
                "COURIER_NATS_URL", "nats://n1:4222,nats://n2:4222",
                "COURIER_NATS_TOKEN", CANARY + "-token"));

    assertThat(c.rabbitMq().uri()).isEqualTo("amqp://app@rabbit:5672/orders");
    assertThat(c.rabbitMq().password()).isEqualTo(CANARY);
    assertThat(c.rabbitMq().publisherConfirms()).isTrue();
    assertThat(c.nats().url()).isEqualTo("nats://n1:4222,nats://n2:4222");
    assertThat(c.nats().token()).isEqualTo(CANARY + "-token");
    assertThat(c.nats().replicas()).isEqualTo(1);
    assertThat(c.nats().duplicateWindow()).isNull();
    for (String shown :
        new String[] {c.describe(), c.toString(), c.rabbitMq().toString(), c.nats().toString()}) {
      assertThat(shown).doesNotContain(CANARY);
    }
    assertThat(c.describe())
        .contains("courier.rabbitmq.password")
        .contains("courier.nats.token")
        .contains("(env COURIER_NATS_TOKEN)");
  }

  @Test
  void natsUrl_withCredentialsInIt_isRefused_withoutEchoingThem() {
    InvalidSettingException e =
        catchThrowableOfType(
            InvalidSettingException.class,
            () -> load(Map.of("COURIER_NATS_URL", "nats://" + CANARY + "@n1:4222")));

    assertThat(e)
        .hasMessageContaining("courier.nats.url")
        .hasMessageContaining("holds credentials")
        .hasMessageContaining("courier.nats.token")
        .hasMessageNotContaining(CANARY);
  }

  @Test
  void natsAuthentication_isOneWay_andAUserNeedsAPassword() {
    InvalidSettingException both =
        catchThrowableOfType(
            InvalidSettingException.class,
            () ->
                load(
                    Map.of(
                        "COURIER_NATS_TOKEN", CANARY,
                        "COURIER_NATS_USER", "app",
                        "COURIER_NATS_PASSWORD", CANARY)));
    assertThat(both)
        .hasMessageContaining("set one way to authenticate to NATS")
        .hasMessageNotContaining(CANARY);

    InvalidSettingException userOnly =
        catchThrowableOfType(
            InvalidSettingException.class, () -> load(Map.of("COURIER_NATS_USER", "app")));
    assertThat(userOnly)
        .hasMessageContaining("courier.nats.user")
        .hasMessageContaining("is set without courier.nats.password");
  }

  @Test
  void relayRetryHorizon_addsAPublishTimeoutAndAPollPerRetryToTheBackoff() {
    // 10 attempts, 1s doubling to 5m: 1+2+...+256 = 511s of backoff, plus 9 x (30s + 1s)
    assertThat(CourierConfig.defaults().relay().retryHorizon())
        .isEqualTo(Duration.ofMinutes(13).plusSeconds(10));
    assertThat(
            load(Map.of("COURIER_RELAY_DESTINATIONS", " orders, ,payments.v1 "))
                .relay()
                .destinations())
        .containsExactly("orders", "payments.v1");
  }

  private static CourierConfig load(Map<String, String> env) {
    return CourierConfig.loader().environment(env).load();
  }
}
