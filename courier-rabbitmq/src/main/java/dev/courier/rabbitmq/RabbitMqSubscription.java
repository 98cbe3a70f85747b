package dev.courier.rabbitmq;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.courier.ConfigurationException;
import dev.courier.FatalCourierException;
import dev.courier.RetriableCourierException;
import dev.courier.inbox.DeliveryPipeline;
import dev.courier.inbox.DeliveryPipeline.Redelivery;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.inbox.SubscriptionLifecycle;
import dev.courier.internal.Threads;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Undecodable;
import dev.courier.spi.Subscription;
import dev.courier.spi.Subscription.State;
import dev.courier.spi.SubscriptionSpec;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consumer of one RabbitMQ queue that runs every message through an {@link IdempotentProcessor}
 * and acknowledges it only after the processor's outcome is committed. Created by {@link
 * RabbitMqTransport#subscribe}.
 *
 * <p><b>Acknowledgement.</b> Manual ({@code autoAck=false}) with a prefetch window. Messages are
 * processed one at a time, in the order the broker delivers them, on the subscription's own thread.
 * For an applied event, a duplicate and a dead letter (all committed in the database before the
 * processor returns) the {@link SubscriptionSpec#afterCommit() afterCommit} hook runs and then the
 * message is acked. A message that cannot be decoded (no or an invalid event id, no type, larger
 * than {@link SubscriptionSpec#maxRecordBytes()}) is dead-lettered in the database as MALFORMED or
 * OVERSIZED and then acked. A crash anywhere before the ack is harmless: the broker redelivers the
 * message and the processed-events ledger recognises it.
 *
 * <p><b>Retries: held, then returned.</b> When the processor asks for another attempt after a
 * delay ({@link HandleOutcome.RetryLater}), the message stays unacknowledged, held by the
 * subscription, while the following messages are processed; when the delay has passed it is
 * returned to the queue with {@code basic.nack(requeue=true)} and delivered again. So a failing
 * event is never retried in a hot loop and never holds back other events; the price is that it is
 * overtaken by later events, including events with the same key. A held message counts against the
 * prefetch window. The attempt number handed to the processor is the quorum queue's {@code
 * x-delivery-count} plus one (a classic queue has no such header: the subscription counts failed
 * attempts itself, and a redelivered message counts at least as the second attempt). Every return
 * to the queue counts as a delivery, including those caused by a crash or a lost connection, so an
 * event may reach its last attempt sooner than its failures alone would say; the queue's {@code
 * x-delivery-limit} must be at least the processor's attempts, and after it the broker
 * dead-letters the message to {@code <queue>.dead-letter}.
 *
 * <p><b>Database failures.</b> If the processor throws (it could not even record a failure, for
 * example because the database is down), the message is held for the {@link DeliveryPipeline}'s
 * outage backoff (200 ms doubling to 30 s, reset by the next success) and then returned to the
 * queue, without using up an attempt. With {@code autoAck} the broker has forgotten the message,
 * so the subscription's thread waits and tries again in place until the outcome is recorded.
 *
 * <p><b>After-commit hook.</b> It runs for every final outcome of a well-formed event; one that
 * throws crashes the subscription before the ack (see {@link DeliveryPipeline}).
 *
 * <p><b>Failures that stop it.</b> If the broker cancels the consumer (the queue was deleted), the
 * subscription logs an ERROR, stops ({@link #isRunning()} turns false, {@link #state()} is {@link
 * Subscription.State#FAILED}) and keeps the reason in {@link #failure()}. It never stops consuming silently. A
 * lost connection is not such a failure: the subscription reconnects with backoff ({@link
 * Subscription.State#RECONNECTING}), declaring its queue again, and the broker redelivers what was not acked.
 *
 * <p><b>Threads and time.</b> Messages are processed on the worker thread {@code
 * courier-rabbitmq-<queue>}; held messages are returned by {@code courier-rabbitmq-retry-<queue>}.
 * Both come from the transport's {@link RabbitMqTransport.Builder#threadFactory thread factory},
 * and a message without a creation time is dated by its {@link RabbitMqTransport.Builder#clock
 * clock}.
 *
 * <p>Thread-safe.
 */
public final class RabbitMqSubscription implements Subscription {
  private static final Logger log = LoggerFactory.getLogger(RabbitMqSubscription.class);
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(100);
  private static final Duration MAX_RECONNECT_BACKOFF = Duration.ofSeconds(5);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);
  private static final int TRACKED_EVENTS = 10_000;

  private record Delivery(long generation, long tag, boolean redelivered, AMQP.BasicProperties props, byte[] body) {}

  private final ConnectionSettings settings;
  private final Topology topology;
  private final String destination;
  private final String queue;
  private final SubscriptionSpec spec;
  private final IdempotentProcessor processor;
  private final int prefetch;
  private final boolean autoAck;
  private final Clock clock;
  private final ThreadFactory threadFactory;
  private final Consumer<RabbitMqSubscription> onStop;

  private final LinkedBlockingQueue<Delivery> inbox = new LinkedBlockingQueue<>();
  private final ReentrantLock channelLock = new ReentrantLock();
  private final SubscriptionLifecycle lifecycle = new SubscriptionLifecycle();
  private final DeliveryPipeline pipeline;
  private final ScheduledThreadPoolExecutor retries;
  private final AtomicLong received = new AtomicLong();
  /** Failed attempts per event, for queues without a delivery count. Worker thread only. */
  private final Map<UUID, Integer> failedAttempts =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<UUID, Integer> eldest) {
          return size() > TRACKED_EVENTS;
        }
      };

  private Connection connection; // guarded by channelLock
  private Channel channel; // guarded by channelLock
  private volatile long generation; // written under channelLock
  private volatile boolean lost;
  private Thread worker;

  /**
   * A subscription to {@code spec.destination()} configured as {@link RabbitMqTransport#subscribe}
   * describes, its options read and checked; not started yet.
   *
   * @param defaultPrefetch the prefetch when the spec's options set none
   * @throws ConfigurationException for an unknown or invalid option, an illegal name, or a
   *     delivery limit below the processor's attempts
   */
  static RabbitMqSubscription of(
      ConnectionSettings settings,
      Topology topology,
      SubscriptionSpec spec,
      IdempotentProcessor processor,
      int defaultPrefetch,
      boolean autoAck,
      Clock clock,
      ThreadFactory threadFactory,
      Consumer<RabbitMqSubscription> onStop) {
    String destination = spec.destination();
    Topology.requireName("destination", "exchange", destination);
    int prefetch = defaultPrefetch;
    String queue = Topology.queueName(destination, processor.consumer());
    for (Map.Entry<String, String> o : spec.options().entrySet()) {
      switch (o.getKey()) {
        case RabbitMqTransport.OPTION_PREFETCH -> prefetch = parsePrefetch(o.getValue());
        case RabbitMqTransport.OPTION_QUEUE -> queue = o.getValue();
        default ->
            throw new ConfigurationException(
                o.getKey(),
                "is not a subscription option of the rabbitmq transport; it knows "
                    + RabbitMqTransport.OPTION_PREFETCH
                    + " and "
                    + RabbitMqTransport.OPTION_QUEUE);
      }
    }
    Topology.requireQueueName(RabbitMqTransport.OPTION_QUEUE, queue);
    int maxAttempts = processor.retryPolicy().maxAttempts();
    if (topology.queueType() == RabbitMqTransport.QueueType.QUORUM
        && topology.deliveryLimit() < maxAttempts) {
      throw new ConfigurationException(
          "deliveryLimit",
          "must be at least the processor's maxAttempts ("
              + maxAttempts
              + "), was "
              + topology.deliveryLimit()
              + ": the broker would dead-letter a failing event to its queue before the processor"
              + " records it with its reason");
    }
    return new RabbitMqSubscription(
        settings, topology, destination, queue, spec, processor, prefetch, autoAck, clock, threadFactory, onStop);
  }

  private static int parsePrefetch(String value) {
    try {
      int p = Integer.parseInt(value.trim());
      if (p >= 1 && p <= 65_535) {
        return p;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new ConfigurationException(
        RabbitMqTransport.OPTION_PREFETCH,
        "must be an integer from 1 to 65535, was '" + value + "'");
  }

  private RabbitMqSubscription(
      ConnectionSettings settings,
      Topology topology,
      String destination,
      String queue,
      SubscriptionSpec spec,
      IdempotentProcessor processor,
      int prefetch,
      boolean autoAck,
      Clock clock,
      ThreadFactory threadFactory,
      Consumer<RabbitMqSubscription> onStop) {
    this.settings = settings;
    this.topology = topology;
    this.destination = destination;
    this.queue = queue;
    this.spec = spec;
    this.processor = processor;
    this.prefetch = prefetch;
    this.autoAck = autoAck;
    this.clock = clock;
    this.threadFactory = threadFactory;
    this.onStop = onStop;
    this.pipeline = new DeliveryPipeline(processor, spec, lifecycle, this::crash);
    this.retries =
        new ScheduledThreadPoolExecutor(1, Threads.named(threadFactory, "courier-rabbitmq-retry-" + queue));
    this.retries.setRemoveOnCancelPolicy(true);
  }

  /**
   * Connects, declares the queue and registers the consumer; then starts the worker thread.
   *
   * @throws IllegalStateException if the thread factory returned no worker thread; nothing was
   *     connected
   */
  void start() {
    Thread w;
    try {
      w = Threads.unstarted(threadFactory, "courier-rabbitmq-" + queue, this::run);
    } catch (RuntimeException e) {
      retries.shutdownNow();
      throw e;
    }
    lifecycle.started();
    try {
      connect();
    } catch (RuntimeException e) {
      lifecycle.fail(e);
      retries.shutdownNow();
      throw e;
    }
    worker = w;
    w.start();
    log.info(
        "consuming queue {} (destination {}, consumer {}, prefetch {}, {})",
        queue,
        destination,
        processor.consumer(),
        prefetch,
        autoAck ? "autoAck" : "manual acks");
  }

  /** The queue consumed. */
  public String queue() {
    return queue;
  }

  @Override
  public State state() {
    return lifecycle.state();
  }

  /**
   * Why the subscription stopped on its own (for example "the broker cancelled the consumer of
   * queue ..."), or what crashed it; empty while it runs and after {@link #close()}.
   */
  @Override
  public Optional<Throwable> failure() {
    return lifecycle.failure();
  }

  @Override
  public long received() {
    return received.get();
  }

  /**
   * Stops gracefully: the message in hand finishes and is acknowledged if its outcome committed;
   * nothing else is taken. Messages held for a retry and those prefetched but not processed return
   * to the queue when the connection closes. Waits up to 30 s for the message in hand. Idempotent.
   */
  @Override
  public void close() {
    if (!lifecycle.stop()) {
      return;
    }
    Thread w = worker;
    if (w == null || w == Thread.currentThread()) {
      return;
    }
    try {
      w.join(CLOSE_TIMEOUT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (w.isAlive()) {
      log.warn("subscription to queue {} did not finish its message within {}; dropping its connection", queue, CLOSE_TIMEOUT);
      crash();
    }
  }

  /**
   * Stops at once: acknowledges nothing more and drops the connection, so the broker redelivers
   * every unacknowledged message to the next consumer. A processor call in flight may still commit
   * its outcome; its message is redelivered anyway and recognised as a duplicate.
   */
  @Override
  public void crash() {
    crash(new SubscriptionSpec.SimulatedCrash("crash() called"));
  }

  private void crash(Throwable why) {
    Connection c;
    channelLock.lock();
    try {
      if (!lifecycle.crash(why)) {
        return;
      }
      c = connection;
    } finally {
      channelLock.unlock();
    }
    log.warn(
        "subscription to queue {} crashed: dropping the connection without acknowledging; the broker"
            + " redelivers unacknowledged messages",
        queue);
    retries.shutdownNow();
    if (c != null) {
      c.abort(1_000);
    }
  }

  @Override
  public String toString() {
    return "RabbitMqSubscription[queue=" + queue + ", consumer=" + processor.consumer() + ", state=" + lifecycle.state() + "]";
  }

  // ---------------------------------------------------------------------------------------------

  private void connect() {
    Connection c;
    try {
      c = settings.open("consumer " + queue);
    } catch (IOException | TimeoutException e) {
      throw new RetriableCourierException(
          "cannot connect to RabbitMQ at " + settings.describe() + " to consume queue '" + queue + "': " + AmqpErrors.describe(e),
          e);
    }
    try {
      if (topology.declare()) {
        Topology.declareOn(c, ch -> topology.declareQueue(ch, destination, queue));
      } else {
        Topology.declareOn(c, ch -> ch.queueDeclarePassive(queue));
      }
      Channel ch = c.createChannel();
      if (ch == null) {
        throw new IOException("the connection has no free channel (channel_max reached)");
      }
      if (!autoAck) {
        ch.basicQos(prefetch);
      }
      long gen;
      channelLock.lock();
      try {
        if (!lifecycle.isRunning()) {
          c.abort(1_000);
          return;
        }
        gen = generation + 1;
        generation = gen;
        connection = c;
        channel = ch;
      } finally {
        channelLock.unlock();
      }
      ch.basicConsume(queue, autoAck, "courier-" + processor.consumer() + "-" + UUID.randomUUID(), new Handler(ch, gen));
      channelLock.lock();
      try {
        // only now: a reconnect that fails before this point stays RECONNECTING and tries again
        lifecycle.reconnected();
      } finally {
        channelLock.unlock();
      }
    } catch (IOException | TimeoutException | RuntimeException e) {
      c.abort(1_000);
      if (!topology.declare() && AmqpErrors.replyCode(e) == AmqpErrors.NOT_FOUND) {
        throw new ConfigurationException(
            "queue",
            "queue '"
                + queue
                + "' does not exist, and the transport does not declare topology"
                + " (declareTopology(false)); declare it first");
      }
      throw Topology.declarationFailure("queue '" + queue + "'", e);
    }
  }

  /** Receives the broker's callbacks on the connection's dispatch thread; never blocks it. */
  private final class Handler extends DefaultConsumer {
    private final long gen;

    Handler(Channel channel, long gen) {
      super(channel);
      this.gen = gen;
    }

    @Override
    public void handleDelivery(String consumerTag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
      inbox.add(new Delivery(gen, envelope.getDeliveryTag(), envelope.isRedeliver(), properties, body));
    }

    @Override
    public void handleCancel(String consumerTag) {
      if (gen == generation) {
        fail(
            "the broker cancelled the consumer of queue '"
                + queue
                + "' (basic.cancel): the queue was deleted or became unavailable. Consuming stopped:"
                + " events published to '"
                + destination
                + "' no longer reach consumer '"
                + processor.consumer()
                + "' until the queue is declared again and a new subscription is started");
      }
    }

    @Override
    public void handleShutdownSignal(String consumerTag, ShutdownSignalException sig) {
      if (gen != generation || sig.isInitiatedByApplication() || !lifecycle.isRunning()) {
        return;
      }
      log.warn(
          "lost the connection consuming queue {} ({}); unacknowledged messages return to the queue;"
              + " reconnecting",
          queue,
          AmqpErrors.describe(sig));
      lost = true;
    }
  }

  private void fail(String reason) {
    fail(new FatalCourierException(reason, null, destination, null));
  }

  private void fail(FatalCourierException why) {
    channelLock.lock();
    try {
      if (!lifecycle.fail(why)) {
        return;
      }
    } finally {
      channelLock.unlock();
    }
    log.error("subscription to queue {} stopped: {}", queue, why.getMessage());
  }

  private void run() {
    try {
      while (lifecycle.isRunning()) {
        if (lost) {
          reconnect();
          continue;
        }
        Delivery d = inbox.poll(spec.pollTimeout().toNanos(), TimeUnit.NANOSECONDS);
        if (d == null && lifecycle.state() == State.RUNNING && !channelOpen()) {
          // a safety net: the shutdown callback normally reports a lost channel first
          lost = lifecycle.state() == State.RUNNING;
          continue;
        }
        if (d == null || d.generation() != generation) {
          continue; // nothing, or a message of a dropped connection: the broker redelivers it
        }
        handle(d);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | Error e) {
      log.error("subscription to queue {} failed unexpectedly", queue, e);
      fail(new FatalCourierException("the subscription's thread failed unexpectedly: " + e, null, destination, e));
    } finally {
      release();
    }
  }

  private void release() {
    retries.shutdownNow();
    inbox.clear();
    Connection c;
    State end;
    channelLock.lock();
    try {
      lifecycle.stopped();
      end = lifecycle.state();
      c = connection;
      connection = null;
      channel = null;
      generation = generation + 1;
    } finally {
      channelLock.unlock();
    }
    if (c != null && c.isOpen()) {
      try {
        c.close(5_000);
      } catch (IOException | RuntimeException e) {
        c.abort(1_000);
      }
    }
    onStop.accept(this);
    log.info("subscription to queue {} stopped ({})", queue, end);
  }

  private void reconnect() {
    Connection old;
    channelLock.lock();
    try {
      if (!lifecycle.reconnecting()) {
        return;
      }
      generation = generation + 1;
      old = connection;
      connection = null;
      channel = null;
    } finally {
      channelLock.unlock();
    }
    inbox.clear();
    if (old != null) {
      old.abort(1_000);
    }
    lost = false;
    Duration backoff = FIRST_BACKOFF;
    while (lifecycle.state() == State.RECONNECTING) {
      try {
        connect();
        log.info("reconnected to RabbitMQ; consuming queue {} again", queue);
        return;
      } catch (ConfigurationException e) {
        fail("could not consume queue '" + queue + "' again after reconnecting: " + e.getMessage());
        return;
      } catch (RuntimeException e) {
        log.warn("reconnecting to consume queue {} failed, trying again in {} ms: {}", queue, backoff.toMillis(), e.getMessage());
        if (!lifecycle.await(backoff)) {
          return;
        }
        backoff = min(backoff.multipliedBy(2), MAX_RECONNECT_BACKOFF);
      }
    }
  }

  private void handle(Delivery d) {
    received.incrementAndGet();
    Decoded decoded = AmqpMessages.decode(d.body(), d.props(), destination, spec.maxRecordBytes(), clock.instant());
    UUID eventId;
    String source = queue;
    int attempt;
    switch (decoded) {
      case Undecodable u -> {
        eventId = null;
        attempt = 1;
        if (u.eventId() == null) {
          source = AmqpMessages.contentSource(queue, d.body(), u.rawHeaders());
        }
      }
      case Decoded.Decodable ok -> {
        eventId = ok.event().id();
        attempt = attempt(d, eventId);
      }
    }
    pipeline.deliver(decoded, attempt, source, new Settle(d, eventId));
  }

  /** Settles one delivery: ack, or hold and then return it to the queue. */
  private final class Settle implements DeliveryPipeline.Acknowledger {
    private final Delivery d;
    private final UUID eventId;

    Settle(Delivery d, UUID eventId) {
      this.d = d;
      this.eventId = eventId;
    }

    @Override
    public void acknowledge() {
      if (eventId != null) {
        failedAttempts.remove(eventId);
      }
      ack(d);
    }

    @Override
    public void redeliver(Redelivery r) {
      if (eventId != null && !r.outage()) {
        failedAttempts.put(eventId, r.failedAttempts());
      }
      holdThenReturn(d, r.delay());
    }

    /** With autoAck the broker has forgotten the message: only retrying in place is left. */
    @Override
    public boolean redeliverable() {
      return !autoAck;
    }
  }

  /**
   * The attempt a delivery is: the quorum queue's delivery count plus one, or (without one) the
   * failed attempts counted here plus one, at least 2 for a redelivery.
   */
  private int attempt(Delivery d, UUID eventId) {
    int fromBroker = d.redelivered() ? 2 : 1;
    Map<String, Object> headers = d.props() == null ? null : d.props().getHeaders();
    Object count = headers == null ? null : headers.get(RabbitMqHeaders.DELIVERY_COUNT);
    if (count instanceof Number n) {
      fromBroker = (int) Math.min(Integer.MAX_VALUE - 1, Math.max(0, n.longValue())) + 1;
    }
    Integer failed = failedAttempts.get(eventId);
    return Math.max(fromBroker, failed == null ? 1 : failed + 1);
  }

  /** Keeps the message unacknowledged for {@code delay}, then returns it to the queue. */
  private void holdThenReturn(Delivery d, Duration delay) {
    try {
      retries.schedule(() -> settle(d, false), Math.max(0, delay.toNanos()), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // stopping: the broker takes the message back when the connection closes
    }
  }

  private void ack(Delivery d) {
    settle(d, true);
  }

  /** Acks, or nacks with requeue, unless the subscription crashed or the channel was replaced. */
  private void settle(Delivery d, boolean ack) {
    if (autoAck) {
      return;
    }
    channelLock.lock();
    try {
      if (!lifecycle.mayAcknowledge() || d.generation() != generation || channel == null) {
        return; // crashed, or the connection was replaced: the broker redelivers it
      }
      if (ack) {
        channel.basicAck(d.tag(), false);
      } else {
        channel.basicNack(d.tag(), false, true);
      }
    } catch (IOException | RuntimeException e) {
      log.warn(
          "could not {} a message on queue {}; the broker redelivers it, and a redelivered event is"
              + " recognised as a duplicate: {}",
          ack ? "acknowledge" : "return",
          queue,
          AmqpErrors.describe(e));
    } finally {
      channelLock.unlock();
    }
  }

  private boolean channelOpen() {
    channelLock.lock();
    try {
      return channel != null && channel.isOpen();
    } finally {
      channelLock.unlock();
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
