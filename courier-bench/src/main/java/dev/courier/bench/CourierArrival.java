package dev.courier.bench;

import com.zaxxer.hikari.HikariDataSource;
import dev.courier.kafka.KafkaTransport;
import dev.courier.outbox.Outbox;
import dev.courier.relay.Relay;
import java.sql.Connection;
import java.time.Duration;
import org.HdrHistogram.Histogram;

/**
 * Courier's side of the peers' end-to-end comparisons: the writer commits a business row and {@link
 * Outbox#append} (relay woken by the append hook, as in W3), the {@link Relay} with a default {@link
 * KafkaTransport} publishes, and the {@link ArrivalClock} records the arrival of each record at a
 * plain consumer, exactly as it does for the peer.
 */
final class CourierArrival {
  private CourierArrival() {}

  static Histogram measure(BenchEnvironment env, HikariDataSource pool, String topic, BenchOptions o) {
    try (KafkaTransport transport =
            KafkaTransport.builder().bootstrapServers(env.kafka().bootstrapServers()).build();
        ArrivalClock clock = new ArrivalClock(env.kafka().bootstrapServers(), topic)) {
      Relay relay = Relay.builder(pool, transport).build();
      Outbox outbox = Outbox.builder().onAppend(relay::wakeup).build();
      relay.start();
      try (Connection c = pool.getConnection()) {
        c.setAutoCommit(false);
        ArrivalClock.Writer writer =
            (i, due, payload) -> {
              long orderId = BenchEvents.orderId(5, i);
              BenchEvents.insertOrder(c, orderId);
              outbox.append(c, BenchEvents.event(topic, orderId, payload));
              c.commit();
            };
        // one event first, so that the producer, the relay and the consumer are connected
        writer.write(1L << 30, System.nanoTime(), BenchEvents.stampedPayload(EndToEnd.PAYLOAD, System.nanoTime()));
        clock.awaitArrived(1, Duration.ofSeconds(60));
        return clock.run(o.e2eRate(), o.e2eWarmup(), o.peerE2eDuration(), EndToEnd.PAYLOAD, writer);
      } finally {
        relay.close();
      }
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new IllegalStateException("Courier's end-to-end comparison run failed: " + e, e);
    }
  }
}
