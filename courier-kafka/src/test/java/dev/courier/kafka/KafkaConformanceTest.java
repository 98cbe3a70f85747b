package dev.courier.kafka;

import dev.courier.embedded.KafkaEndpoint;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import dev.courier.testkit.conformance.TransportConformanceTest;

/** Kafka keeps the transport contract: the shared conformance suite on a real KRaft broker. */
class KafkaConformanceTest extends TransportConformanceTest {

  @Override
  protected Transport createTransport() {
    return KafkaTransport.builder().bootstrapServers(TestKafka.bootstrap()).build();
  }

  @Override
  protected String newDestination(String hint) {
    return TestKafka.createTopic(TestKafka.uniqueTopic("conformance-" + hint), 3);
  }

  @Override
  protected void restartBroker() throws Exception {
    KafkaEndpoint endpoint = KafkaEndpoint.fromEnvironmentOrEmbedded();
    if (endpoint.embedded().isEmpty()) {
      super.restartBroker(); // an external cluster is not ours to restart
      return;
    }
    endpoint.embedded().get().restart();
  }

  @Override
  protected SubscriptionSpec spec(String destination) {
    // a resumed partition is fetched again only after the fetch in flight returns
    return SubscriptionSpec.of(destination).withOption("fetch.max.wait.ms", "50");
  }
}
