package dev.courier.rabbitmq;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.UnsafeConfigurationException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.Threads;
import dev.courier.spi.PublishBatch;
import dev.courier.spi.PublishResult;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes events to RabbitMQ with publisher confirms and mandatory routing, and consumes them
 * with manual acknowledgements sent only after the consumer's outcome is committed.
 *
 * <p><b>Messages.</b> The event's {@link Event#destination() destination} is the name of a durable
 * topic exchange. The routing key is the event's key (an empty routing key when it has none), or
 * what {@link Builder#routingKey(Function)} returns. The body is the payload; the event's
 * identifiers travel in the headers of {@link RabbitMqHeaders}, followed by every application
 * header; the message is persistent (delivery mode 2) and its {@code message-id} is the event id.
 *
 * <p><b>Confirmation.</b> {@link #publish} sends the batch in order on one channel in confirm mode,
 * each message {@code mandatory}, then waits for the broker's answer to each, as {@link
 * PublishBatch} describes: an event that could not be sent holds back the later events of its
 * destination and key in the batch. An event is {@link PublishResult.Confirmed} only when the
 * broker acked it <em>and</em> did not return it. RabbitMQ acks a message that no queue received
 * (no queue bound for its routing key, or the queue was deleted), after returning it: such an event
 * is a retriable {@link PublishResult.Failed} whose error starts with {@code "unroutable: no queue
 * bound for exchange ..."}, and the relay retries it and eventually parks it as dead, never marks
 * it published. A {@code basic.nack}, a confirm that does not arrive before the timeout, and a
 * channel or connection that closes mid-batch are retriable failures too. The broker may still hold
 * a message reported as failed (its confirm was lost): the relay then publishes it again, and
 * consumers deduplicate.
 *
 * <p><b>Failures that retrying cannot fix</b> are reported non-retriable, and the relay parks the
 * event as dead at once: a destination that is not a legal exchange name, a routing key over 255
 * bytes, a message larger than {@link Builder#maxMessageBytes(int)}, and an application header
 * whose name starts with {@code courier-} or {@code x-}. Everything else, including a missing
 * exchange, a refused connection and failed authentication, is retriable: an operator can fix it
 * while the relay backs off.
 *
 * <p><b>Topology.</b> See {@link #declareTopology(String, String)}: one topic exchange per
 * destination, one quorum queue per consumer named {@code <destination>.<consumer>} with an
 * explicit {@code x-delivery-limit}, and a dead-letter exchange and queue. A message published
 * before any consumer queue is bound is unroutable: declare the queues of the consumers that must
 * receive a destination's events before publishing to it.
 *
 * <p><b>Connections.</b> Publishing uses one connection and one confirm channel, opened on the
 * first publish and opened again on the next publish after either closed; each subscription has a
 * connection of its own. The client's automatic recovery is off: Courier notices lost connections
 * itself.
 *
 * <p><b>Thread-safety.</b> Thread-safe. Publishes are serialised on the confirm channel by a lock
 * held while the batch is sent; confirms of several batches are awaited concurrently. {@link
 * #close()} also closes every subscription the transport started.
 */
public final class RabbitMqTransport implements Transport {
  private static final Logger log = LoggerFactory.getLogger(RabbitMqTransport.class);

  /** The default prefetch (unacknowledged messages per subscription): {@value}. */
  public static final int DEFAULT_PREFETCH = 50;

  /** The default {@code x-delivery-limit} of consumer queues: {@value}. */
  public static final int DEFAULT_DELIVERY_LIMIT = 20;

  /** The default of {@link Builder#maxMessageBytes(int)}: 16 MiB. */
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

  /** RabbitMQ's default {@code max_message_size}: larger messages are refused by the broker. */
  private static final int MAX_MESSAGE_BYTES_LIMIT = 128 * 1024 * 1024;

  /** The subscription options this transport understands, see {@link #subscribe}. */
  public static final String OPTION_PREFETCH = "prefetch";

  /** The subscription option naming the queue to consume, see {@link #subscribe}. */
  public static final String OPTION_QUEUE = "queue";

  /** The type of consumer queues. */
  public enum QueueType {
    /** Replicated, durable, with a delivery limit and at-least-once dead-lettering. The default. */
    QUORUM,
    /** A classic queue: no delivery limit, so redeliveries are counted by the subscription only. */
    CLASSIC
  }

  private final ConnectionSettings connection;
  private final Topology topology;
  private final Function<Event, String> routingKey;
  private final boolean confirms;
  private final boolean mandatory;
  private final boolean persistent;
  private final boolean autoAck;
  private final int prefetch;
  private final int maxMessageBytes;
  private final Clock clock;
  private final ThreadFactory threadFactory;

  private final PublishConnection publishing;
  private final Set<RabbitMqSubscription> subscriptions = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private RabbitMqTransport(Builder b, ConnectionSettings connection) {
    this.connection = connection;
    this.topology = new Topology(b.declareTopology, b.queueType, b.durableQueues, b.deliveryLimit);
    this.routingKey = b.routingKey;
    this.confirms = b.publisherConfirms;
    this.mandatory = b.mandatory;
    this.persistent = b.persistentMessages;
    this.autoAck = b.autoAck;
    this.prefetch = b.prefetch;
    this.maxMessageBytes = b.maxMessageBytes;
    this.clock = b.clock;
    this.threadFactory = b.threadFactory;
    this.publishing = new PublishConnection(connection, confirms, topology.declare());
  }

  /** Starts building a transport; see {@link Builder} for the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public String name() {
    return "rabbitmq";
  }

  /** The largest message accepted, in bytes (payload, header names and values). */
  public int maxMessageBytes() {
    return maxMessageBytes;
  }

  /** The queue a consumer reads a destination from: {@code <destination>.<consumer>}. */
  public static String queueName(String destination, String consumer) {
    return Topology.queueName(destination, consumer);
  }

  /** The dead-letter exchange of a destination: {@code <destination>.dead-letter}. */
  public static String deadLetterExchangeName(String destination) {
    return Topology.deadLetterExchange(destination);
  }

  /**
   * The queue that receives what a consumer queue dead-letters (messages over the delivery limit):
   * {@code <queue>.dead-letter}. Courier's own dead letters (poison events, handler failures after
   * the last attempt, malformed messages) go to the database; this queue only fills when the broker
   * gives up first, and should be watched.
   */
  public static String deadLetterQueueName(String queue) {
    return Topology.deadLetterQueue(queue);
  }

  /**
   * Declares a destination's exchange: durable, type topic. Idempotent.
   *
   * @throws ConfigurationException if the destination is not a legal exchange name, or the broker
   *     refuses the declaration (an exchange of another type exists, access refused)
   * @throws RetriableCourierException if the broker cannot be reached
   */
  public void declareTopology(String destination) {
    Topology.requireName("destination", "exchange", destination);
    publishing.declare(
        destination,
        ch -> Topology.declareExchange(ch, destination),
        "exchange '" + destination + "'");
  }

  /**
   * Declares a destination's exchange and one consumer's queue: a {@code x-queue-type=quorum} queue
   * named {@code <destination>.<consumer>} with {@code x-delivery-limit} set (RabbitMQ before 4.0
   * has none by default), bound to the exchange with {@code #} (every routing key), and behind it
   * the dead-letter exchange {@code <destination>.dead-letter} and queue {@code
   * <destination>.<consumer>.dead-letter}. Idempotent while the settings agree with what exists.
   *
   * <p>Call it for every consumer before its events are published: RabbitMQ keeps a message only
   * for queues bound when it arrives.
   *
   * @return the queue's name
   * @throws ConfigurationException if a name is illegal, or the queue exists with other arguments
   * @throws RetriableCourierException if the broker cannot be reached
   */
  public String declareTopology(String destination, String consumer) {
    Topology.requireName("destination", "exchange", destination);
    String queue = queueName(destination, consumer);
    Topology.requireQueueName("consumer", queue);
    publishing.declare(
        destination, ch -> topology.declareQueue(ch, destination, queue), "queue '" + queue + "'");
    return queue;
  }

  /**
   * Publishes a batch and waits for the broker's confirm of each message; see the class description
   * for what counts as confirmed and which failures are retriable.
   */
  @Override
  public List<PublishResult> publish(List<Event> batch, Duration timeout) {
    requireOpen();
    return new Batch(batch, timeout).publish();
  }

  /**
   * One batch on the confirm channel, sent while holding the publishing lock: what publishing is
   * for RabbitMQ; see {@link PublishBatch}.
   */
  private final class Batch extends PublishBatch<PublishResult> {
    private ConfirmChannel channel;
    private String unavailable; // why nothing more can be sent on this batch's channel
    private Throwable unavailableCause;
    private String key; // the routing key of the event being sent

    Batch(List<Event> events, Duration timeout) {
      super(events, timeout, "confirm");
    }

    @Override
    protected void beforeSending() {
      publishing.lock();
      try {
        channel = publishing.channel();
        String blocked = publishing.blockedReason();
        if (blocked != null) {
          unavailable =
              "the broker blocks publishers on this connection ("
                  + blocked
                  + "), usually because of a memory or disk alarm";
        }
      } catch (IOException | TimeoutException | RuntimeException e) {
        unavailable =
            "cannot connect to RabbitMQ at "
                + connection.describe()
                + ": "
                + AmqpErrors.describe(e);
        unavailableCause = e;
      }
    }

    @Override
    protected void afterSending() {
      publishing.unlock();
    }

    @Override
    protected String problem(Event e) {
      try {
        String k = routingKey.apply(e);
        key = k == null ? "" : k;
      } catch (RuntimeException ex) {
        return "the routing rule failed for this event: " + ex;
      }
      return AmqpMessages.publishProblem(e, key, maxMessageBytes);
    }

    @Override
    protected PublishResult.Failed unavailable(Event e) {
      if (unavailable != null) {
        return notSent(e, unavailable, unavailableCause);
      }
      String notDeclared = publishing.ensureExchange(e.destination());
      return notDeclared == null ? null : notSent(e, notDeclared, null);
    }

    @Override
    protected Future<PublishResult> send(Event e) throws IOException {
      return channel.publish(e, key, AmqpMessages.properties(e, persistent), mandatory);
    }

    /** The broker's answer is already a result: confirmed, or returned, nacked, or lost. */
    @Override
    protected PublishResult answered(Event e, PublishResult result) {
      return result;
    }

    /** A publish that threw; the answers themselves never fail (see {@link ConfirmChannel}). */
    @Override
    protected PublishResult.Failed failed(Event e, Throwable error) {
      if (!channel.isOpen()) {
        unavailable =
            "the publishing channel closed (" + AmqpErrors.describe(channel.closeReason()) + ")";
        unavailableCause = error;
      }
      return notSent(e, AmqpErrors.describe(error), error);
    }

    @Override
    protected void abandon(Future<PublishResult> answer) {
      channel.abandon(answer);
    }
  }

  /**
   * Starts consuming {@code spec.destination()} as the processor's consumer, from the queue {@code
   * <destination>.<consumer>} (declared with {@link #declareTopology(String, String)}'s topology
   * unless declaration is off, in which case it must exist). Returns once the consumer is
   * registered.
   *
   * <p>Options ({@link SubscriptionSpec#options()}): {@value #OPTION_PREFETCH} — unacknowledged
   * messages the broker sends ahead (default {@link Builder#prefetch(int)}); {@value #OPTION_QUEUE}
   * — consume this queue instead of {@code <destination>.<consumer>} (declared the same way). Any
   * other option is refused.
   *
   * <p>See {@link RabbitMqSubscription} for acknowledgement, retries and failure handling.
   *
   * @throws ConfigurationException for an unknown or invalid option, an illegal name, a delivery
   *     limit below the processor's attempts, or a queue the broker refuses to declare
   * @throws RetriableCourierException if the broker cannot be reached
   */
  @Override
  public RabbitMqSubscription subscribe(SubscriptionSpec spec, IdempotentProcessor processor) {
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(processor, "processor");
    requireOpen();
    RabbitMqSubscription s =
        RabbitMqSubscription.of(
            connection, topology, spec, processor, prefetch, autoAck, clock, threadFactory, subscriptions::remove);
    subscriptions.add(s);
    try {
      s.start();
    } catch (RuntimeException e) {
      subscriptions.remove(s);
      throw e;
    }
    return s;
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the rabbitmq transport is closed");
    }
  }

  /**
   * Closes every subscription this transport started (gracefully), then the publishing channel and
   * connection. Publishes still waiting for confirms fail as retriable. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (RabbitMqSubscription s : List.copyOf(subscriptions)) {
      try {
        s.close();
      } catch (RuntimeException e) {
        log.warn("closing subscription of queue {} failed: {}", s.queue(), e.toString());
      }
    }
    publishing.close();
  }

  @Override
  public String toString() {
    return "RabbitMqTransport["
        + connection.describe()
        + ", connectionName="
        + connection.connectionName()
        + "]";
  }

  /**
   * Builds a {@link RabbitMqTransport}. Defaults: {@code 127.0.0.1:5672}, virtual host {@code /},
   * user {@code guest} / password {@code guest}, connection name {@code courier}, publisher
   * confirms on, {@code mandatory} on, persistent messages, quorum consumer queues with {@code
   * x-delivery-limit} {@value #DEFAULT_DELIVERY_LIMIT}, manual acknowledgements, prefetch {@value
   * #DEFAULT_PREFETCH}, topology declared, routing key = event key.
   *
   * <p>Settings that would weaken delivery are refused at {@link #build()} with an {@link
   * UnsafeConfigurationException} naming the setting and the risk, unless accepted with {@link
   * #allowUnsafe(String)}: {@code publisherConfirms(false)}, {@code mandatory(false)}, {@code
   * persistentMessages(false)}, {@code durableQueues(false)} and {@code autoAck(true)}.
   */
  public static final class Builder {
    // the package-private ones are read by ConnectionSettings.from and UnsafeSettings.accepted
    String uri;
    String host = "127.0.0.1";
    Integer port;
    String virtualHost = "/";
    String username = "guest";
    String password = "guest";
    SSLContext sslContext;
    String connectionName = "courier";
    Duration connectionTimeout = Duration.ofSeconds(10);
    Duration heartbeat = Duration.ofSeconds(30);
    private Function<Event, String> routingKey = Event::key;
    boolean publisherConfirms = true;
    boolean mandatory = true;
    boolean persistentMessages = true;
    private boolean declareTopology = true;
    private QueueType queueType = QueueType.QUORUM;
    boolean durableQueues = true;
    private int deliveryLimit = DEFAULT_DELIVERY_LIMIT;
    boolean autoAck;
    private int prefetch = DEFAULT_PREFETCH;
    private int maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
    private Clock clock = Clock.systemUTC();
    ThreadFactory threadFactory = Threads.DAEMON_PLATFORM;
    final Set<String> allowedUnsafe = new LinkedHashSet<>();

    private Builder() {}

    /**
     * Where to connect, as an AMQP URI: {@code amqp://user:password@host:port/virtual-host} (or
     * {@code amqps://} for TLS). Parts the URI leaves out keep the builder's values; a
     * percent-encoded {@code %2F} is the virtual host {@code /}. Replaces host, port, virtual host,
     * user and password set before.
     */
    public Builder uri(String uri) {
      this.uri = Objects.requireNonNull(uri, "uri");
      return this;
    }

    public Builder host(String host) {
      this.host = host;
      return this;
    }

    /** The port (default 5672, or 5671 with TLS). */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    public Builder virtualHost(String virtualHost) {
      this.virtualHost = virtualHost;
      return this;
    }

    public Builder username(String username) {
      this.username = username;
      return this;
    }

    /** The password; it is never logged, rendered by {@code toString()} or put in an exception. */
    public Builder password(String password) {
      this.password = password;
      return this;
    }

    /** Connects with TLS using this context, verifying the broker's host name. */
    public Builder sslContext(SSLContext sslContext) {
      this.sslContext = sslContext;
      return this;
    }

    /** The name the broker shows for this transport's connections (default {@code courier}). */
    public Builder connectionName(String connectionName) {
      this.connectionName = connectionName;
      return this;
    }

    /** How long opening a connection may take (default 10 s). */
    public Builder connectionTimeout(Duration connectionTimeout) {
      this.connectionTimeout = connectionTimeout;
      return this;
    }

    /** The heartbeat interval requested from the broker (default 30 s); zero turns it off. */
    public Builder heartbeat(Duration heartbeat) {
      this.heartbeat = heartbeat;
      return this;
    }

    /**
     * How an event's routing key is chosen (default: its key, or the empty routing key when it has
     * none). The destination is always the exchange. Consumer queues are bound with {@code #}, so
     * the rule matters to other bindings an operator adds. A rule that throws, or returns more than
     * 255 bytes, fails the event non-retriably.
     */
    public Builder routingKey(Function<Event, String> rule) {
      this.routingKey = Objects.requireNonNull(rule, "rule");
      return this;
    }

    /** Publisher confirms (default on). Turning them off is unsafe; see {@link #allowUnsafe}. */
    public Builder publisherConfirms(boolean on) {
      this.publisherConfirms = on;
      return this;
    }

    /** Mandatory publishing (default on). Turning it off is unsafe; see {@link #allowUnsafe}. */
    public Builder mandatory(boolean on) {
      this.mandatory = on;
      return this;
    }

    /** Persistent messages (default on). Turning them off is unsafe; see {@link #allowUnsafe}. */
    public Builder persistentMessages(boolean on) {
      this.persistentMessages = on;
      return this;
    }

    /**
     * Whether the transport declares exchanges before publishing and queues before consuming
     * (default on). Off, it expects an operator to have declared them: publishing to a missing
     * exchange fails (retriably), and subscribing to a missing queue is refused.
     */
    public Builder declareTopology(boolean on) {
      this.declareTopology = on;
      return this;
    }

    /** The type of consumer queues (default {@link QueueType#QUORUM}). */
    public Builder queueType(QueueType queueType) {
      this.queueType = Objects.requireNonNull(queueType, "queueType");
      return this;
    }

    /**
     * Whether classic consumer queues are durable (default on; quorum queues always are). Off is
     * unsafe; see {@link #allowUnsafe}.
     */
    public Builder durableQueues(boolean on) {
      this.durableQueues = on;
      return this;
    }

    /**
     * The {@code x-delivery-limit} of quorum consumer queues (default {@value
     * #DEFAULT_DELIVERY_LIMIT}): after this many failed deliveries the broker dead-letters a
     * message to the consumer's dead-letter queue. It must be at least the processor's {@code
     * maxAttempts}, so that Courier records the dead letter with its reason first.
     */
    public Builder deliveryLimit(int deliveryLimit) {
      this.deliveryLimit = deliveryLimit;
      return this;
    }

    /**
     * Automatic acknowledgement (default off). On is unsafe (see {@link #allowUnsafe}): the broker
     * forgets a message when it sends it, so a crash loses it; retries then happen in memory.
     */
    public Builder autoAck(boolean on) {
      this.autoAck = on;
      return this;
    }

    /** Unacknowledged messages the broker sends each subscription ahead (default 50). */
    public Builder prefetch(int prefetch) {
      this.prefetch = prefetch;
      return this;
    }

    /**
     * The largest message this transport publishes, counting payload, header names and values
     * (default 16 MiB, at most 128 MiB, RabbitMQ's default {@code max_message_size}). A larger
     * event fails non-retriably.
     */
    public Builder maxMessageBytes(int maxMessageBytes) {
      this.maxMessageBytes = maxMessageBytes;
      return this;
    }

    /**
     * The clock the subscriptions read the time from (default {@link Clock#systemUTC()}): a
     * message that carries neither a {@link RabbitMqHeaders#CREATED_AT} header nor an AMQP
     * timestamp is given this clock's time as its event's creation time. How long a message is held
     * before it returns to the queue for a retry is measured with {@link System#nanoTime()}, and
     * publishing reads no clock. Shared by every subscription of this transport, so it must be safe
     * for concurrent use, as the JDK's clocks and {@code TestClock} are.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Where this transport's threads come from (default: daemon platform threads). Each
     * subscription takes two when it starts: its worker, {@code courier-rabbitmq-<queue>}, which
     * processes the messages, and {@code courier-rabbitmq-retry-<queue>}, which returns held
     * messages to the queue when their delay has passed; both end when it stops. The RabbitMQ
     * client's own threads for the publishing connection and each subscription's connection (the
     * reader, which the client names after the connection, and the consumer dispatch threads,
     * {@code courier-rabbitmq-client-<n>}) come from it too. The factory must return a new,
     * unstarted thread; one that returns none for a worker makes {@link
     * RabbitMqTransport#subscribe} throw {@link IllegalStateException}. It is called from the
     * threads that publish and subscribe and from the client's threads, so it must be safe for
     * concurrent use. Whether the threads are daemons is the factory's choice; a transport whose
     * threads are not keeps the JVM alive until it and its subscriptions are closed.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    /**
     * Accepts the risk of one unsafe setting: {@code publisherConfirms}, {@code mandatory}, {@code
     * persistentMessages}, {@code durableQueues} or {@code autoAck}. The transport then starts,
     * logging a warning that names the risk.
     */
    public Builder allowUnsafe(String setting) {
      allowedUnsafe.add(Objects.requireNonNull(setting, "setting"));
      return this;
    }

    /**
     * Checks the settings. Nothing connects yet: publishing connects on first use, and each
     * subscription connects when started.
     *
     * @throws UnsafeConfigurationException for a setting that weakens delivery and was not allowed
     * @throws ConfigurationException for a missing or invalid setting
     */
    public RabbitMqTransport build() {
      ConnectionSettings settings = ConnectionSettings.from(this);
      if (prefetch < 1 || prefetch > 65_535) {
        throw new ConfigurationException("prefetch", "must be from 1 to 65535, was " + prefetch);
      }
      if (deliveryLimit < 1) {
        throw new ConfigurationException(
            "deliveryLimit", "must be at least 1, was " + deliveryLimit);
      }
      if (maxMessageBytes < 1 || maxMessageBytes > MAX_MESSAGE_BYTES_LIMIT) {
        throw new ConfigurationException(
            "maxMessageBytes",
            "must be from 1 to " + MAX_MESSAGE_BYTES_LIMIT + " bytes, was " + maxMessageBytes);
      }
      if (queueType == QueueType.QUORUM && !durableQueues) {
        throw new ConfigurationException(
            "durableQueues",
            "quorum queues are always durable; a non-durable queue needs queueType(CLASSIC)");
      }
      Map<String, String> accepted = UnsafeSettings.accepted(this);
      RabbitMqTransport transport = new RabbitMqTransport(this, settings);
      for (Map.Entry<String, String> u : accepted.entrySet()) {
        log.warn(
            "the rabbitmq transport runs with an unsafe setting accepted through"
                + " allowUnsafe(\"{}\"): {}",
            u.getKey(),
            u.getValue());
      }
      return transport;
    }

    /** The settings, for diagnostics; the password is masked. */
    @Override
    public String toString() {
      return "RabbitMqTransport.Builder[host="
          + host
          + ", port="
          + port
          + ", virtualHost="
          + virtualHost
          + ", username="
          + username
          + ", password=****"
          + (uri != null ? ", uri=(set, not shown)" : "")
          + ", connectionName="
          + connectionName
          + "]";
    }
  }
}
