package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.UnsafeConfigurationException;
import dev.courier.retry.RetryPolicy;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The transactional transport and processor refuse, when built, every setting under which Kafka
 * transactions would not hold, naming the setting and the rule; nothing here connects to a broker.
 */
class KafkaTransactionalConfigurationTest {

  private static KafkaTransactionalTransport.Builder transport() {
    return KafkaTransactionalTransport.builder()
        .bootstrapServers("127.0.0.1:9")
        .transactionalId("relay-0");
  }

  private static KafkaTransactionalProcessor.Builder processor() {
    return KafkaTransactionalProcessor.builder()
        .bootstrapServers("127.0.0.1:9")
        .groupId("enricher")
        .transactionalId("enricher-0")
        .topics("orders")
        .deadLetterTopic("orders.dead-letters")
        .transform(input -> List.of());
  }

  private static String setting(Throwable e) {
    return ((ConfigurationException) e).setting();
  }

  @Test
  void transport_withoutATransactionalId_isRefused_sayingWhatTheIdIsFor() {
    assertThatThrownBy(
            () -> KafkaTransactionalTransport.builder().bootstrapServers("127.0.0.1:9").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("transactionalId: is required")
        .hasMessageContaining("one stable id per instance");
  }

  @Test
  void transport_withABlankOrControlCharacterTransactionalId_isRefused() {
    assertThatThrownBy(() -> transport().transactionalId("  ").build())
        .isInstanceOf(ConfigurationException.class)
        .extracting(KafkaTransactionalConfigurationTest::setting)
        .isEqualTo("transactionalId");
    assertThatThrownBy(() -> transport().transactionalId("relay\n0").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("without control characters");
  }

  @Test
  void transport_withTransactionalIdAsAProperty_isRefused_pointingToTheBuilderMethod() {
    assertThatThrownBy(() -> transport().property("transactional.id", "other").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("transactional.id: ")
        .hasMessageContaining("KafkaTransactionalTransport.Builder.transactionalId(...)");
  }

  @Test
  void transport_withAcksOne_isRefusedWithoutAnOverride_namingTheRisk() {
    assertThatThrownBy(() -> transport().property("acks", "1").build())
        .isInstanceOf(ConfigurationException.class)
        .isNotInstanceOf(UnsafeConfigurationException.class)
        .hasMessageStartingWith("acks: acks=1")
        .hasMessageContaining("a leader failure could lose records of a committed transaction")
        .hasMessageContaining("there is no override");
  }

  @Test
  void transport_withIdempotenceDisabled_isRefused_namingTheRisk() {
    assertThatThrownBy(() -> transport().property("enable.idempotence", false).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("enable.idempotence: ")
        .hasMessageContaining("write a record twice");
  }

  @Test
  void transport_withMoreThanFiveRequestsInFlight_isRefused() {
    assertThatThrownBy(
            () -> transport().property("max.in.flight.requests.per.connection", 6).build())
        .isInstanceOf(ConfigurationException.class)
        .extracting(KafkaTransactionalConfigurationTest::setting)
        .isEqualTo("max.in.flight.requests.per.connection");
  }

  @Test
  void transport_whoseTransactionTimeoutIsShorterThanDeliveryPlusBlocking_isRefused() {
    assertThatThrownBy(() -> transport().property("transaction.timeout.ms", 20_000).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith(
            "transaction.timeout.ms: must be at least delivery.timeout.ms + max.block.ms (40000"
                + " ms)")
        .hasMessageContaining("would then look fenced");
  }

  @Test
  void transport_withSafeSettings_builds_andConnectsOnlyWhenTransactionsAreInitialised() {
    try (KafkaTransactionalTransport t = transport().clientId("relay-0").build()) {
      assertThat(t.transactionalId()).isEqualTo("relay-0");
      assertThat(t.isFenced()).isFalse();
      assertThat(t.name()).isEqualTo("kafka-transactional");
    }
  }

  @Test
  void processor_withoutADeadLetterTopic_isRefused_sayingWhy() {
    assertThatThrownBy(() -> processor().deadLetterTopic(null).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("deadLetterTopic: is required")
        .hasMessageContaining("stall their partition");
  }

  @Test
  void processor_whoseDeadLetterTopicIsAnInputTopic_isRefused() {
    assertThatThrownBy(() -> processor().deadLetterTopic("orders").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("must not be one of the input topics");
  }

  @Test
  void processor_withoutATransactionalId_isRefused() {
    assertThatThrownBy(() -> processor().transactionalId(null).build())
        .isInstanceOf(ConfigurationException.class)
        .extracting(KafkaTransactionalConfigurationTest::setting)
        .isEqualTo("transactionalId");
  }

  @Test
  void processor_readingUncommittedInput_isRefused_namingTheRisk() {
    assertThatThrownBy(
            () -> processor().consumerProperty("isolation.level", "read_uncommitted").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("isolation.level: ")
        .hasMessageContaining("records of aborted upstream transactions");
  }

  @Test
  void processor_withAutoCommit_isRefused_becauseOffsetsBelongInTheTransaction() {
    assertThatThrownBy(() -> processor().consumerProperty("enable.auto.commit", "true").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("outside the transaction");
  }

  @Test
  void processor_withAcksOne_isRefused() {
    assertThatThrownBy(() -> processor().producerProperty("acks", "1").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("acks: acks=1");
  }

  @Test
  void processor_startingFromLatest_isRefusedUnlessTheRiskIsAccepted() {
    assertThatThrownBy(() -> processor().consumerProperty("auto.offset.reset", "latest").build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageContaining(
            "KafkaTransactionalProcessor.Builder.allowUnsafe(\"auto.offset.reset\")");
    assertThat(
            processor()
                .consumerProperty("auto.offset.reset", "latest")
                .allowUnsafe("auto.offset.reset")
                .build())
        .isNotNull();
  }

  @Test
  void processor_whoseRetryDelayCouldOutlastThePollInterval_isRefused() {
    RetryPolicy slow =
        RetryPolicy.builder()
            .maxAttempts(3)
            .initialDelay(Duration.ofSeconds(1))
            .maxDelay(Duration.ofMinutes(3))
            .build();
    assertThatThrownBy(() -> processor().retryPolicy(slow).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith(
            "retryPolicy: maxDelay must be below half of max.poll.interval.ms (300000 ms)");
  }
}
