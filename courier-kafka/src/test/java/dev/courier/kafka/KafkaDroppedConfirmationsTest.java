package dev.courier.kafka;

import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import dev.courier.testkit.conformance.DroppedConfirmationsTest;

/** Kafka with one confirmation in 1,000 lost on its way back (the shared suite). */
class KafkaDroppedConfirmationsTest extends DroppedConfirmationsTest {

  @Override
  protected Transport createTransport() {
    return KafkaTransport.builder().bootstrapServers(TestKafka.bootstrap()).build();
  }

  @Override
  protected String newDestination(String hint, String consumer) {
    return TestKafka.createTopic(TestKafka.uniqueTopic(hint), 3);
  }

  @Override
  protected SubscriptionSpec spec(String destination) {
    return SubscriptionSpec.of(destination).withOption("fetch.max.wait.ms", "50");
  }
}
