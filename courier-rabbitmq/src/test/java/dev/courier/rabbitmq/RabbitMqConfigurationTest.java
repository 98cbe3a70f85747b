package dev.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.UnsafeConfigurationException;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Settings are checked at build(): unsafe ones are refused by name, invalid ones by rule. */
class RabbitMqConfigurationTest {

  static Stream<Arguments> unsafeSettings() {
    return Stream.of(
        Arguments.of("publisherConfirms", (UnaryOperator<RabbitMqTransport.Builder>) b -> b.publisherConfirms(false), "never confirms"),
        Arguments.of("mandatory", (UnaryOperator<RabbitMqTransport.Builder>) b -> b.mandatory(false), "no queue receives"),
        Arguments.of("persistentMessages", (UnaryOperator<RabbitMqTransport.Builder>) b -> b.persistentMessages(false), "lost when the broker restarts"),
        Arguments.of(
            "durableQueues",
            (UnaryOperator<RabbitMqTransport.Builder>) b -> b.queueType(RabbitMqTransport.QueueType.CLASSIC).durableQueues(false),
            "classic non-durable queue"),
        Arguments.of("autoAck", (UnaryOperator<RabbitMqTransport.Builder>) b -> b.autoAck(true), "before its effect is committed"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("unsafeSettings")
  void unsafeSetting_isRefusedAtBuild_namingTheSettingTheRiskAndTheOverride(
      String setting, UnaryOperator<RabbitMqTransport.Builder> unsafe, String risk) {
    assertThatThrownBy(() -> unsafe.apply(RabbitMqTransport.builder()).build())
        .isInstanceOfSatisfying(UnsafeConfigurationException.class, e -> assertThat(e.setting()).isEqualTo(setting))
        .hasMessageStartingWith(setting + ": ")
        .hasMessageContaining(risk)
        .hasMessageContaining("RabbitMqTransport.Builder.allowUnsafe(\"" + setting + "\")");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("unsafeSettings")
  void unsafeSetting_isAccepted_whenItsRiskIsAllowedExplicitly(
      String setting, UnaryOperator<RabbitMqTransport.Builder> unsafe, String risk) {
    try (RabbitMqTransport t = unsafe.apply(RabbitMqTransport.builder()).allowUnsafe(setting).build()) {
      assertThat(t.name()).isEqualTo("rabbitmq");
    }
  }

  @Test
  void allowingASettingThatIsNotUnsafe_isRefused() {
    assertThatThrownBy(() -> RabbitMqTransport.builder().allowUnsafe("prefetch").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("allowUnsafe: 'prefetch' is not a setting the rabbitmq transport refuses");
  }

  @Test
  void invalidSettings_areRefused_namingTheParameterAndTheRule() {
    assertRefused(b -> b.port(0), "port: must be from 1 to 65535, was 0");
    assertRefused(b -> b.prefetch(0), "prefetch: must be from 1 to 65535, was 0");
    assertRefused(b -> b.deliveryLimit(0), "deliveryLimit: must be at least 1, was 0");
    assertRefused(b -> b.maxMessageBytes(0), "maxMessageBytes: must be from 1 to");
    assertRefused(b -> b.host(" "), "host: is required");
    assertRefused(b -> b.connectionTimeout(java.time.Duration.ZERO), "connectionTimeout: must be a positive duration");
    assertRefused(b -> b.durableQueues(false), "durableQueues: quorum queues are always durable");
    assertRefused(b -> b.uri("http://guest:pw@host"), "uri: must start with amqp:// or amqps://");
  }

  @Test
  void aMalformedUri_isRefusedWithoutEchoingIt_becauseItMayHoldAPassword() {
    assertThatThrownBy(() -> RabbitMqTransport.builder().uri("amqp://user:top secret@host:notaport/").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("uri: ")
        .hasMessageNotContaining("top secret");
  }

  @Test
  void theUri_setsHostPortVirtualHostAndUser_andThePasswordIsNeverRendered() {
    RabbitMqTransport.Builder builder = RabbitMqTransport.builder().uri("amqp://app%40corp:p%40ss@rabbit.internal:5673/%2F");
    try (RabbitMqTransport t = builder.build()) {
      assertThat(t.toString())
          .contains("amqp://rabbit.internal:5673 (virtual host '/', user 'app@corp')")
          .doesNotContain("p@ss")
          .doesNotContain("p%40ss");
    }
    assertThat(builder.toString()).doesNotContain("p@ss").doesNotContain("p%40ss");
    assertThat(RabbitMqTransport.builder().password("hunter2").toString()).doesNotContain("hunter2").contains("password=****");
  }

  private static void assertRefused(UnaryOperator<RabbitMqTransport.Builder> setting, String message) {
    assertThatThrownBy(() -> setting.apply(RabbitMqTransport.builder()).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith(message);
  }
}
