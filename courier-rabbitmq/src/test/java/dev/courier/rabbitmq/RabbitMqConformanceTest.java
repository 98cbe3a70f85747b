package dev.courier.rabbitmq;

import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import dev.courier.testkit.conformance.TransportConformanceTest;
import org.junit.jupiter.api.AfterAll;

/** RabbitMQ keeps the transport contract: the shared conformance suite on a real broker. */
class RabbitMqConformanceTest extends TransportConformanceTest {
  /** The suite names its consumers after publishing, so each destination gets one queue up front. */
  private static final String QUEUE_SUFFIX = "conformance";

  private final TestRabbit.Cleanup cleanup = new TestRabbit.Cleanup();

  @Override
  protected Transport createTransport() {
    TestRabbit.require();
    return TestRabbit.transport().build();
  }

  @Override
  protected String newDestination(String hint) {
    String destination = cleanup.destination(TestRabbit.uniqueDestination("conformance-" + hint));
    cleanup.queue(((RabbitMqTransport) transport()).declareTopology(destination, QUEUE_SUFFIX));
    return destination;
  }

  @Override
  protected SubscriptionSpec spec(String destination) {
    return SubscriptionSpec.of(destination)
        .withOption(RabbitMqTransport.OPTION_QUEUE, RabbitMqTransport.queueName(destination, QUEUE_SUFFIX));
  }

  @Override
  protected void restartBroker() throws Exception {
    if (!TestRabbit.restart()) {
      super.restartBroker(); // not ours to restart (no rabbitmqctl, or not allowed to run it)
    }
  }

  /** Per-key order holds only while nothing is retried: a retried event is overtaken. */
  @Override
  protected boolean promisesPerKeyOrder() {
    return false;
  }

  @AfterAll
  void deleteTopology() {
    cleanup.close();
  }
}
