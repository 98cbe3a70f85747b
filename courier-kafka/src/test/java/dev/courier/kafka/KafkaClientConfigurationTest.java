package dev.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.UnsafeConfigurationException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Subscription;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Settings that would lose, duplicate or invent events are refused when the client is built, with a
 * message naming the setting, its risk and the override; an explicit override is accepted.
 */
class KafkaClientConfigurationTest {
  // Never connected to: building a consumer checks settings only.
  private static final IdempotentProcessor PROCESSOR =
      IdempotentProcessor.builder("config-test", new PGSimpleDataSource(), (e, c) -> {}).build();

  private static KafkaTransport.Builder transport() {
    return KafkaTransport.builder().bootstrapServers("127.0.0.1:9");
  }

  private static KafkaIdempotentConsumer.Builder consumer() {
    return KafkaIdempotentConsumer.builder()
        .bootstrapServers("127.0.0.1:9")
        .groupId("g")
        .topics("orders")
        .processor(PROCESSOR);
  }

  @Test
  void transport_withAcksOne_isRefused_namingTheSettingTheRiskAndTheOverride() {
    assertThatThrownBy(() -> transport().property("acks", "1").build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageContaining("acks=1: the leader confirms before followers have the record")
        .hasMessageContaining("a leader failure loses confirmed events")
        .hasMessageContaining("KafkaTransport.Builder.allowUnsafe(\"acks\")")
        .extracting(e -> ((ConfigurationException) e).setting())
        .isEqualTo("acks");
  }

  @Test
  void transport_withAcksZero_isRefused() {
    assertThatThrownBy(() -> transport().property("acks", 0).build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageContaining("acks=0");
  }

  @Test
  void transport_withIdempotenceDisabled_isRefused() {
    assertThatThrownBy(() -> transport().property("enable.idempotence", "false").build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageStartingWith("enable.idempotence: ")
        .hasMessageContaining("writes the record twice");
  }

  @Test
  void transport_withMoreThanFiveRequestsInFlight_isRefused() {
    assertThatThrownBy(
            () -> transport().property("max.in.flight.requests.per.connection", 6).build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageContaining("max.in.flight.requests.per.connection=6");
  }

  @Test
  void transport_withATransactionalId_isRefused_becauseTransactionsAreASeparateMode() {
    assertThatThrownBy(() -> transport().property("transactional.id", "relay-1").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("transactional.id: ")
        .hasMessageContaining("separate mode");
  }

  @Test
  void transport_allowingAnUnsafeSettingItDoesNotKnow_isRefused_soATypoCannotHideARisk() {
    assertThatThrownBy(() -> transport().allowUnsafe("ack").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("allowUnsafe: 'ack' is not a setting");
  }

  @Test
  void transport_withoutBootstrapServers_isRefused_namingTheParameter() {
    assertThatThrownBy(() -> KafkaTransport.builder().build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("bootstrapServers: is required");
  }

  @Test
  void transport_withAMaxRequestSizeBelowMaxRecordBytes_isRefused() {
    assertThatThrownBy(
            () ->
                transport()
                    .maxRecordBytes(2_000_000)
                    .property("max.request.size", 1_000_000)
                    .build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("max.request.size: must be >= maxRecordBytes (2000000)");
  }

  @Test
  void transport_withAcksOneExplicitlyAllowed_startsAndPublishes() {
    String topic = TestKafka.createTopic(TestKafka.uniqueTopic("acks-one"), 1);
    try (KafkaTransport t =
        KafkaTransport.builder()
            .bootstrapServers(TestKafka.bootstrap())
            .property("acks", "1")
            .property("enable.idempotence", "false")
            .allowUnsafe("acks")
            .allowUnsafe("enable.idempotence")
            .build()) {
      List<PublishResult> results =
          t.publish(
              List.of(Event.builder("T").destination(topic).payload("x").build()),
              Duration.ofSeconds(20));
      assertThat(results).singleElement().isInstanceOf(PublishResult.Confirmed.class);
    }
  }

  @Test
  void consumer_withAutoCommit_isRefused_becauseItAcknowledgesBeforeTheEffectCommits() {
    assertThatThrownBy(() -> consumer().property("enable.auto.commit", "true").build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageStartingWith("enable.auto.commit: ")
        .hasMessageContaining("auto-commit acknowledges records before their effect commits")
        .hasMessageContaining(
            "KafkaIdempotentConsumer.Builder.allowUnsafe(\"enable.auto.commit\")");
  }

  @Test
  void consumer_withAutoCommitExplicitlyAllowed_builds() {
    assertThat(
            consumer()
                .property("enable.auto.commit", true)
                .allowUnsafe("enable.auto.commit")
                .build()
                .state())
        .isEqualTo(Subscription.State.NEW);
  }

  @Test
  void consumer_startingAtTheLatestOffset_isRefused_becauseItSkipsEarlierEvents() {
    assertThatThrownBy(() -> consumer().property("auto.offset.reset", "latest").build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageStartingWith("auto.offset.reset: ");
  }

  @Test
  void consumer_readingUncommittedRecords_isRefused_becauseItSeesAbortedEvents() {
    assertThatThrownBy(() -> consumer().property("isolation.level", "read_uncommitted").build())
        .isInstanceOf(UnsafeConfigurationException.class)
        .hasMessageStartingWith("isolation.level: ");
  }

  @Test
  void consumer_withoutAGroupOrATopic_isRefused_namingTheParameter() {
    assertThatThrownBy(
            () ->
                KafkaIdempotentConsumer.builder()
                    .bootstrapServers("x:1")
                    .topics("t")
                    .processor(PROCESSOR)
                    .build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("groupId: is required");
    assertThatThrownBy(
            () ->
                KafkaIdempotentConsumer.builder()
                    .bootstrapServers("x:1")
                    .groupId("g")
                    .processor(PROCESSOR)
                    .build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("topics: ");
    assertThatThrownBy(() -> consumer().topics("no spaces please").build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("characters Kafka does not allow");
  }

  @Test
  void consumer_withItsOwnDeserializer_isRefused_becauseItDecodesRecordsItself() {
    assertThatThrownBy(
            () ->
                consumer()
                    .property(
                        "value.deserializer",
                        "org.apache.kafka.common.serialization.StringDeserializer")
                    .build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageStartingWith("value.deserializer: cannot be set");
  }
}
