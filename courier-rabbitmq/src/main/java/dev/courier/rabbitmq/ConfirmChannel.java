package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Return;
import com.rabbitmq.client.ShutdownSignalException;
import dev.courier.Event;
import dev.courier.spi.PublishResult;
import java.io.IOException;
import java.util.Iterator;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;

/**
 * One publishing channel in confirm mode and the messages on it that await the broker's answer.
 *
 * <p>Each publish is registered under the channel's next publish sequence number before it is sent.
 * The broker answers with {@code basic.ack} or {@code basic.nack} for that number, possibly for
 * every number up to it at once ({@code multiple=true}). A message that no queue receives is first
 * returned ({@code basic.return}, because it is published {@code mandatory}) and then
 * <em>acked</em>: RabbitMQ confirms unroutable messages. The return arrives first on the same
 * connection thread, so the pending publish is marked returned before its ack and is reported as a
 * failure, never as confirmed. When the channel or its connection closes, every publish still
 * waiting fails as retriable.
 *
 * <p>Publishing is not thread-safe (the caller serialises it); the listeners run on the
 * connection's thread and only touch the concurrent map and the futures.
 */
final class ConfirmChannel {
  private final Channel channel;
  private final boolean confirms;
  private final ConcurrentSkipListMap<Long, Pending> outstanding = new ConcurrentSkipListMap<>();

  /** One message sent and not yet answered; completes with its result, never exceptionally. */
  static final class Pending extends CompletableFuture<PublishResult> {
    final long seq;
    final Event event;
    final String routingKey;
    volatile String returned;

    Pending(long seq, Event event, String routingKey) {
      this.seq = seq;
      this.event = event;
      this.routingKey = routingKey;
    }
  }

  ConfirmChannel(Connection connection, boolean confirms) throws IOException {
    Channel ch = connection.createChannel();
    if (ch == null) {
      throw new IOException("the connection has no free channel (channel_max reached)");
    }
    this.channel = ch;
    this.confirms = confirms;
    ch.addReturnListener(this::onReturn);
    ch.addConfirmListener(
        (tag, multiple) -> settle(tag, multiple, true),
        (tag, multiple) -> settle(tag, multiple, false));
    ch.addShutdownListener(this::onShutdown);
    if (confirms) {
      ch.confirmSelect();
    }
  }

  boolean isOpen() {
    return channel.isOpen();
  }

  /** Why the channel closed, or {@code null} while it is open. */
  ShutdownSignalException closeReason() {
    return channel.getCloseReason();
  }

  /**
   * Sends one message. Without publisher confirms (an accepted unsafe setting) the result is
   * complete at once: written to the socket is all that is known.
   *
   * @throws IOException or {@link com.rabbitmq.client.AlreadyClosedException} if the channel is
   *     closed; nothing was registered then
   */
  Pending publish(Event event, String routingKey, AMQP.BasicProperties props, boolean mandatory)
      throws IOException {
    long seq = confirms ? channel.getNextPublishSeqNo() : 0;
    Pending p = new Pending(seq, event, routingKey);
    if (confirms) {
      outstanding.put(seq, p);
    }
    try {
      channel.basicPublish(event.destination(), routingKey, mandatory, props, event.payload());
    } catch (IOException | RuntimeException e) {
      outstanding.remove(seq, p);
      throw e;
    }
    if (!confirms) {
      p.complete(new PublishResult.Confirmed(event.id(), position(p) + " (unconfirmed)", false));
    }
    return p;
  }

  /** Forgets a publish whose answer nobody waits for any more (its batch timed out). */
  void abandon(Future<PublishResult> answer) {
    if (answer instanceof Pending p) {
      outstanding.remove(p.seq, p);
    }
  }

  private void onReturn(Return r) {
    String reason =
        "unroutable: no queue bound for exchange '"
            + r.getExchange()
            + "' routing key '"
            + AmqpMessages.printable(r.getRoutingKey())
            + "' (the broker returned the message: "
            + r.getReplyCode()
            + " "
            + r.getReplyText()
            + "); declare and bind the consumers' queues before publishing"
            + " (RabbitMqTransport.declareTopology)";
    UUID id = parse(r.getProperties() == null ? null : r.getProperties().getMessageId());
    if (id == null) {
      return;
    }
    // Returns arrive in publish order, before the ack of the same message: the earliest
    // outstanding publish of this event that is not marked yet is the one returned.
    for (Pending p : outstanding.values()) {
      if (p.returned == null && p.event.id().equals(id)) {
        p.returned = reason;
        return;
      }
    }
  }

  private void settle(long tag, boolean multiple, boolean ack) {
    if (!multiple) {
      Pending p = outstanding.remove(tag);
      if (p != null) {
        complete(p, ack);
      }
      return;
    }
    ConcurrentNavigableMap<Long, Pending> head = outstanding.headMap(tag, true);
    for (Iterator<Map.Entry<Long, Pending>> it = head.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Long, Pending> e = it.next();
      it.remove();
      complete(e.getValue(), ack);
    }
  }

  private static void complete(Pending p, boolean ack) {
    if (p.returned != null) {
      p.complete(PublishResult.retriable(p.event, p.returned, null));
    } else if (ack) {
      p.complete(new PublishResult.Confirmed(p.event.id(), position(p), false));
    } else {
      p.complete(
          PublishResult.retriable(
              p.event,
              "the broker refused the message (basic.nack): a queue it routes to could not take it,"
                  + " for example because the queue is full with overflow reject-publish or has no"
                  + " quorum",
              null));
    }
  }

  private void onShutdown(ShutdownSignalException cause) {
    String why = AmqpErrors.describe(cause);
    for (Iterator<Pending> it = outstanding.values().iterator(); it.hasNext(); ) {
      Pending p = it.next();
      it.remove();
      String message =
          p.returned != null
              ? p.returned
              : "no confirm: the publishing channel closed before the broker answered ("
                  + why
                  + ")";
      p.complete(PublishResult.retriable(p.event, message, cause));
    }
  }

  /** Closes the channel; publishes still waiting fail as retriable. */
  void close() {
    try {
      if (channel.isOpen()) {
        channel.close();
      }
    } catch (IOException | TimeoutException | RuntimeException e) {
      // closing anyway; the shutdown listener has failed what was waiting
    }
  }

  private static String position(Pending p) {
    return p.event.destination() + "/" + p.routingKey;
  }

  private static UUID parse(String id) {
    try {
      return id == null ? null : UUID.fromString(id);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
