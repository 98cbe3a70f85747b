package dev.courier.rabbitmq;

import dev.courier.spi.Transport;
import dev.courier.testkit.conformance.BrokerLinkFaultTest;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;

/**
 * RabbitMQ behind a fault proxy: latency, resets, a blackhole, half-open links and sliced writes
 * between the relay and the broker and between the broker and the consumer (the shared suite).
 */
class RabbitMqNetworkFaultTest extends BrokerLinkFaultTest {
  private final TestRabbit.Cleanup cleanup = new TestRabbit.Cleanup();

  @BeforeAll
  static void requireBroker() {
    TestRabbit.require();
  }

  @Override
  protected String brokerHost() {
    return TestRabbit.HOST;
  }

  @Override
  protected int brokerPort() {
    return TestRabbit.PORT;
  }

  @Override
  protected Transport createTransport(String host, int port) {
    // a 1 s heartbeat: a silent link is noticed within about 2 s instead of a minute
    return RabbitMqTransport.builder()
        .host(host)
        .port(port)
        .connectionName("courier-link-faults")
        .heartbeat(Duration.ofSeconds(1))
        .connectionTimeout(Duration.ofSeconds(2))
        .build();
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
