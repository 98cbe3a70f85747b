package dev.courier.rabbitmq;

import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.RetriableCourierException;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;

/**
 * The exchanges and queues Courier declares, their names, and how declarations are run. Immutable.
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
record Topology(
    boolean declare,
    RabbitMqTransport.QueueType queueType,
    boolean durableQueues,
    int deliveryLimit) {
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

  /** A declaration to run on a channel of its own. */
  @FunctionalInterface
  interface Declaration {
    void run(Channel channel) throws IOException;
  }

  /** Runs a declaration on a new channel of {@code c}, which is closed afterwards. */
  static void declareOn(Connection c, Declaration declaration)
      throws IOException, TimeoutException {
    Channel ch = c.createChannel();
    if (ch == null) {
      throw new IOException("the connection has no free channel (channel_max reached)");
    }
    try {
      declaration.run(ch);
    } finally {
      if (ch.isOpen()) {
        try {
          ch.close();
        } catch (IOException | TimeoutException | RuntimeException ignored) {
          // the declaration's outcome is what matters
        }
      }
    }
  }

  /** Turns a failed declaration into a configuration error (refused) or a retriable one. */
  static CourierException declarationFailure(String what, Throwable e) {
    if (e instanceof CourierException ce) {
      return ce;
    }
    int code = AmqpErrors.replyCode(e);
    if (code == AmqpErrors.PRECONDITION_FAILED
        || code == AmqpErrors.ACCESS_REFUSED
        || code == AmqpErrors.NOT_FOUND) {
      return new ConfigurationException(
          "topology",
          "the broker refused to declare "
              + what
              + ": "
              + AmqpErrors.describe(e)
              + (code == AmqpErrors.PRECONDITION_FAILED
                  ? ". It exists with other arguments; delete it, or configure the transport to"
                      + " match it"
                  : ""));
    }
    return new RetriableCourierException(
        "cannot declare " + what + ": " + AmqpErrors.describe(e), e);
  }

  /**
   * Checks an exchange or queue name.
   *
   * @param setting the setting it comes from, for the exception
   * @param what "exchange" or "queue"
   * @throws ConfigurationException if AMQP does not allow it
   */
  static void requireName(String setting, String what, String name) {
    String problem = AmqpMessages.nameProblem(what, name);
    if (problem != null) {
      throw new ConfigurationException(setting, problem);
    }
  }

  /**
   * Checks a consumer queue's name: an AMQP name, not the broker's, and short enough for its
   * dead-letter queue's name.
   *
   * @throws ConfigurationException if it is not
   */
  static void requireQueueName(String setting, String queue) {
    requireName(setting, "queue", queue);
    if (AmqpMessages.utf8Length(deadLetterQueue(queue)) > AmqpMessages.MAX_SHORT_STRING_BYTES) {
      throw new ConfigurationException(
          setting,
          "the queue name '"
              + AmqpMessages.printable(queue)
              + "' is too long: its dead-letter queue '<queue>"
              + DEAD_LETTER_SUFFIX
              + "' must fit in "
              + AmqpMessages.MAX_SHORT_STRING_BYTES
              + " bytes");
    }
    if (queue.startsWith("amq.")) {
      throw new ConfigurationException(
          setting, "queue names starting with 'amq.' are reserved by the broker");
    }
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
    ch.queueDeclare(
        dlq,
        durableQueues || queueType == RabbitMqTransport.QueueType.QUORUM,
        false,
        false,
        typeOnly());
    ch.queueBind(dlq, dlx, queue);
    ch.queueDeclare(
        queue,
        durableQueues || queueType == RabbitMqTransport.QueueType.QUORUM,
        false,
        false,
        queueArguments(dlx, queue));
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
