package dev.courier.server.demo;

import java.util.Arrays;
import java.util.List;

/**
 * Decides, one check at a time, whether the run has drained, in the same terms on every broker:
 *
 * <ol>
 *   <li>the outbox holds no pending event;
 *   <li>every consumer has settled (applied or dead-lettered) as many distinct events as there are
 *       committed orders, and is running (not between a crash and its restart);
 *   <li>the broker holds nothing more for any consumer ({@link DemoBroker#backlog});
 *   <li>and nothing moved since the previous check: no consumer received a delivery in between.
 *       This covers what a broker cannot report, such as RabbitMQ messages delivered and not yet
 *       acknowledged, and redeliveries that are on their way.
 * </ol>
 *
 * Not thread-safe: one probe per drain.
 */
final class DrainProbe {
  private final DemoBroker broker;
  private final List<ConsumerSupervisor> consumers;
  private final DemoQueries queries;
  private long[] previous;

  DrainProbe(DemoBroker broker, List<ConsumerSupervisor> consumers, DemoQueries queries) {
    this.broker = broker;
    this.consumers = consumers;
    this.queries = queries;
  }

  /**
   * One check.
   *
   * @throws dev.courier.CourierException if the database or the broker could not be asked; the next
   *     check starts afresh
   */
  boolean drained() {
    long[] received = new long[consumers.size()];
    for (int i = 0; i < received.length; i++) {
      received[i] = consumers.get(i).received();
    }
    long[] before = previous;
    previous = null;
    if (queries.outboxPending() > 0) {
      return false;
    }
    long committed = queries.ordersCommitted();
    for (ConsumerSupervisor c : consumers) {
      if (!c.isRunning()
          || queries.ledger(c.name()) + queries.deadLetters(c.name()) < committed
          || broker.backlog(c.name()) > 0) {
        return false;
      }
    }
    previous = received;
    return before != null && Arrays.equals(before, received);
  }
}
