package dev.courier.rabbitmq;

import dev.courier.spi.Transport;
import dev.courier.testkit.conformance.DroppedConfirmationsTest;
import org.junit.jupiter.api.BeforeAll;

/** RabbitMQ with one publisher confirm in 1,000 lost on its way back (the shared suite). */
class RabbitMqDroppedConfirmationsTest extends DroppedConfirmationsTest {
  private final TestRabbit.Cleanup cleanup = new TestRabbit.Cleanup();

  @BeforeAll
  static void requireBroker() {
    TestRabbit.require();
  }

  @Override
  protected Transport createTransport() {
    return TestRabbit.transport().build();
  }

  @Override
  protected String newDestination(String hint, String consumer) {
    String destination = cleanup.destination(TestRabbit.uniqueDestination(hint));
    try (RabbitMqTransport direct = TestRabbit.transport().build()) {
      cleanup.queue(direct.declareTopology(destination, consumer));
    }
    return destination;
  }

  @Override
  protected void deleteDestination(String destination, String consumer) {
    cleanup.close();
  }
}
