package dev.courier.rabbitmq;

import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The exchanges and queues Courier declares, and their names. Immutable.
 *
 * <pre>
 *  exchange &lt;destination&gt; (topic, durable)
 *     └─ binding '#' ─► queue &lt;destination&gt;.&lt;consumer&gt; (quorum, durable, x-delivery-limit)
 *                          └─ dead-lettered after the delivery limit ─►
 *  exchange &lt;destination&gt;.dead-letter (direct, durable)
 *     └─ binding &lt;queue&gt; ─► queue &lt;destination&gt;.&lt;consumer&gt;.dead-letter (quorum, durable)
 * </pre>
 *
 * @param declare whether subscriptions declare their queue (else they only check it exists)
 * @param queueType the type of consumer queues
 * @param durableQueues whether classic consumer queues survive a broker restart
 * @param deliveryLimit quorum queues' {@code x-delivery-limit}
 */
record Topology(boolean declare, RabbitMqTransport.QueueType queueType, boolean durableQueues, int deliveryLimit) {
  static final String DEAD_LETTER_SUFFIX = ".dead-letter";

  static String queueName(String destination, String consumer) {
    return destination + "." + consumer;
  }

  static String deadLetterExchange(String destination) {
    return destination + DEAD_LETTER_SUFFIX;
  }

  static String deadLetterQueue(String queue) {
    return queue + DEAD_LETTER_SUFFIX;
  }

  /** Declares the destination's exchange: durable, type topic. Idempotent. */
  static void declareExchange(Channel ch, String destination) throws IOException {
    ch.exchangeDeclare(destination, BuiltinExchangeType.TOPIC, true, false, null);
  }

  /**
   * Declares the destination's exchange, the consumer queue bound to it with {@code #}, and the
   * dead-letter exchange and queue behind it. Idempotent as long as the arguments agree with what
   * exists; otherwise the broker closes the channel with {@code PRECONDITION_FAILED}.
   */
  void declareQueue(Channel ch, String destination, String queue) throws IOException {
    declareExchange(ch, destination);
    String dlx = deadLetterExchange(destination);
    String dlq = deadLetterQueue(queue);
    ch.exchangeDeclare(dlx, BuiltinExchangeType.DIRECT, true, false, null);
    ch.queueDeclare(dlq, durableQueues || queueType == RabbitMqTransport.QueueType.QUORUM, false, false, typeOnly());
    ch.queueBind(dlq, dlx, queue);
    ch.queueDeclare(queue, durableQueues || queueType == RabbitMqTransport.QueueType.QUORUM, false, false, queueArguments(dlx, queue));
    ch.queueBind(queue, destination, "#");
  }

  /** The arguments of a consumer queue. */
  Map<String, Object> queueArguments(String deadLetterExchange, String queue) {
    Map<String, Object> args = typeOnly();
    args.put("x-dead-letter-exchange", deadLetterExchange);
    args.put("x-dead-letter-routing-key", queue);
    if (queueType == RabbitMqTransport.QueueType.QUORUM) {
      // RabbitMQ before 4.0 has no default limit: a message that keeps failing would loop forever.
      args.put("x-delivery-limit", deliveryLimit);
      // Dead-letter at least once: the message leaves the queue only when the dead-letter queue
      // has confirmed it. The broker requires reject-publish overflow for that strategy.
      args.put("x-dead-letter-strategy", "at-least-once");
      args.put("x-overflow", "reject-publish");
    }
    return args;
  }

  private Map<String, Object> typeOnly() {
    Map<String, Object> args = new LinkedHashMap<>();
    if (queueType == RabbitMqTransport.QueueType.QUORUM) {
      args.put("x-queue-type", "quorum");
    }
    return args;
  }
}
