package dev.courier.nats;

import dev.courier.ConfigurationException;
import dev.courier.RetriableCourierException;
import dev.courier.inbox.DeliveryPipeline;
import dev.courier.inbox.DeliveryPipeline.Redelivery;
import dev.courier.inbox.DeliveryPipeline.Settlement;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.inbox.SubscriptionLifecycle;
import dev.courier.internal.EventLog;
import dev.courier.internal.Threads;
import dev.courier.spi.Decoded;
import dev.courier.spi.Decoded.Decodable;
import dev.courier.spi.Decoded.Undecodable;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import io.nats.client.Connection;
import io.nats.client.Dispatcher;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.nats.client.PullSubscribeOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.ConsumerInfo;
import io.nats.client.api.DeliverPolicy;
import io.nats.client.impl.NatsJetStreamMetaData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running durable pull consumer; see {@link JetStreamTransport#subscribe} for what it
 * guarantees. What is NATS's own lives here: the continuous pull, in-progress acks, the attempt
 * count, and settling a delivery with {@code ackSync}, {@code term} or {@code nakWithDelay}; each
 * delivery is run through core's {@link DeliveryPipeline}, and the states are core's {@link
 * SubscriptionLifecycle}. The pull loop runs on its own thread, {@code
 * courier-nats-consumer-<durable>}, in-progress acks on a second one, {@code
 * courier-nats-in-progress-<durable>}, both from the transport's thread factory; a message without
 * a creation time is dated by the transport's clock. Thread-safe.
 */
final class PullSubscription implements Subscription {
  private static final Logger log = LoggerFactory.getLogger(PullSubscription.class);
  private static final Duration ACK_TIMEOUT = Duration.ofSeconds(5);
  private static final int MAX_TRACKED_FAILURES = 10_000;

  private final Connection connection;
  private final String stream;
  private final SubscriptionSpec spec;
  private final IdempotentProcessor processor;
  private final ConsumerSettings settings;
  private final Clock clock;
  private final ThreadFactory threadFactory;
  private final SubscriptionLifecycle lifecycle = new SubscriptionLifecycle();
  private final DeliveryPipeline pipeline;
  private final Consumer<PullSubscription> onStop;
  private final JetStreamSubscription subscription;
  private final Dispatcher advisories;
  private final ScheduledExecutorService heartbeat;
  private final Set<Message> inHand = ConcurrentHashMap.newKeySet();
  private final AtomicLong received = new AtomicLong();
  // Touched by the loop thread only: deliveries whose processing threw, by stream sequence.
  private final Map<Long, Integer> unrecorded = new HashMap<>();
  private Thread loop;

  private PullSubscription(
      Connection connection,
      String stream,
      SubscriptionSpec spec,
      IdempotentProcessor processor,
      ConsumerSettings settings,
      Clock clock,
      ThreadFactory threadFactory,
      Consumer<PullSubscription> onStop,
      JetStreamSubscription subscription,
      Dispatcher advisories) {
    this.connection = connection;
    this.stream = stream;
    this.spec = spec;
    this.processor = processor;
    this.settings = settings;
    this.clock = clock;
    this.threadFactory = threadFactory;
    this.onStop = onStop;
    this.subscription = subscription;
    this.advisories = advisories;
    this.pipeline = new DeliveryPipeline(processor, spec, lifecycle, this::crash);
    this.heartbeat =
        Executors.newSingleThreadScheduledExecutor(
            Threads.named(threadFactory, "courier-nats-in-progress-" + settings.durable()));
  }

  /**
   * Creates or updates the durable consumer, binds a pull subscription to it and starts the loop.
   *
   * @param clock dates a message that carries no creation time
   * @param threadFactory where the loop's and the in-progress acks' threads come from
   * @throws ConfigurationException if the server refuses the consumer
   * @throws RetriableCourierException if the server cannot be asked
   * @throws IllegalStateException if the thread factory returned no thread for the loop
   */
  static PullSubscription start(
      Connection connection,
      String stream,
      SubscriptionSpec spec,
      IdempotentProcessor processor,
      ConsumerSettings settings,
      Clock clock,
      ThreadFactory threadFactory,
      String servers,
      Consumer<PullSubscription> onStop) {
    String durable = settings.durable();
    ConsumerConfiguration.Builder cc =
        ConsumerConfiguration.builder()
            .durable(durable)
            .description("Courier consumer " + processor.consumer())
            .filterSubject(spec.destination())
            .deliverPolicy(DeliverPolicy.All)
            .ackPolicy(AckPolicy.Explicit)
            .ackWait(settings.ackWait())
            .maxDeliver(settings.maxDeliver())
            .maxAckPending(settings.maxAckPending());
    if (!settings.backoff().isEmpty()) {
      cc.backoff(settings.backoff().toArray(Duration[]::new));
    }
    try {
      JetStreamManagement jsm = connection.jetStreamManagement();
      ConsumerInfo info = jsm.addOrUpdateConsumer(stream, cc.build());
      long granted = info.getConsumerConfiguration().getMaxDeliver();
      if (granted != settings.maxDeliver()) {
        throw new ConfigurationException(
            JetStreamTransport.OPTION_MAX_DELIVER,
            "the server set MaxDeliver of consumer "
                + durable
                + " to "
                + granted
                + " instead of "
                + settings.maxDeliver());
      }
      JetStreamSubscription sub =
          connection
              .jetStream()
              .subscribe(spec.destination(), PullSubscribeOptions.bind(stream, durable));
      Dispatcher advisories =
          connection.createDispatcher(
              m -> {
                String advisory = new String(m.getData(), StandardCharsets.UTF_8);
                log.error(
                    "JetStream gave up delivering a message to consumer {} after {} deliveries; it"
                        + " was never acknowledged and will not be delivered to this consumer"
                        + " again. Server advisory: {}",
                    durable,
                    settings.maxDeliver(),
                    advisory.length() > 1000 ? advisory.substring(0, 1000) + "..." : advisory);
              });
      advisories.subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + durable);
      PullSubscription s =
          new PullSubscription(
              connection, stream, spec, processor, settings, clock, threadFactory, onStop, sub, advisories);
      s.begin();
      log.info(
          "nats subscription {} started on stream {} subject {}: ackWait={}, maxDeliver={},"
              + " backoff={}, batchSize={}",
          durable,
          stream,
          spec.destination(),
          DurationText.format(settings.ackWait()),
          settings.maxDeliver(),
          settings.backoff().isEmpty()
              ? "none"
              : settings.backoff().stream()
                  .map(DurationText::format)
                  .collect(Collectors.joining(",")),
          settings.batchSize());
      return s;
    } catch (JetStreamApiException e) {
      throw new ConfigurationException(
          "options",
          "the server refused durable consumer "
              + durable
              + " on stream "
              + stream
              + ": "
              + e.getErrorDescription()
              + " (api error "
              + e.getApiErrorCode()
              + ")");
    } catch (IOException e) {
      throw new RetriableCourierException(
          "could not create consumer " + durable + " on NATS at " + servers + ": " + e.getMessage(),
          e);
    }
  }

  private void begin() {
    Thread t;
    try {
      t = Threads.unstarted(threadFactory, "courier-nats-consumer-" + settings.durable(), this::run);
    } catch (RuntimeException e) {
      heartbeat.shutdownNow();
      throw e;
    }
    lifecycle.started();
    long every = Math.max(100, settings.heartbeat().toMillis());
    heartbeat.scheduleAtFixedRate(this::beat, every, every, TimeUnit.MILLISECONDS);
    loop = t;
    t.start();
  }

  /** Tells the server that every delivery in hand is still being worked on. */
  private void beat() {
    for (Message m : inHand) {
      if (!lifecycle.mayAcknowledge()) {
        return;
      }
      try {
        m.inProgress();
      } catch (RuntimeException e) {
        log.debug("in-progress ack failed: {}", e.toString());
      }
    }
  }

  @Override
  public State state() {
    return lifecycle.state();
  }

  @Override
  public Optional<Throwable> failure() {
    return lifecycle.failure();
  }

  @Override
  public long received() {
    return received.get();
  }

  private void run() {
    int fetchFailures = 0;
    Iterator<Message> pull = null;
    try {
      while (lifecycle.isRunning()) {
        List<Message> arrived;
        try {
          if (pull == null) {
            pull = subscription.iterate(settings.batchSize(), spec.pollTimeout());
          }
          arrived = arrived(pull);
          fetchFailures = 0;
        } catch (RuntimeException e) {
          pull = null;
          if (!lifecycle.isRunning()) {
            break;
          }
          fetchFailures++;
          log.warn(
              "nats subscription {}: fetch failed, trying again: {}",
              settings.durable(),
              e.toString());
          lifecycle.await(DeliveryPipeline.OUTAGE_BACKOFF.delay(fetchFailures));
          continue;
        }
        if (arrived.isEmpty()) {
          pull = null; // the pull request was served in full or expired: the next one goes out now
          continue;
        }
        inHand.addAll(arrived);
        for (Message m : arrived) {
          if (!lifecycle.isRunning()) {
            break;
          }
          handle(m);
          inHand.remove(m);
        }
        if (!lifecycle.mayAcknowledge()) {
          break; // crashed: a killed process hands nothing back
        }
        release();
      }
    } catch (RuntimeException | Error e) {
      lifecycle.fail(e);
      log.error(
          "nats subscription {} failed: stopped by an unexpected error", settings.durable(), e);
    } finally {
      if (lifecycle.state() != State.CRASHED) {
        release();
        handBackBuffered();
        shutDown();
        lifecycle.stopped();
        log.info("nats subscription {} stopped ({})", settings.durable(), lifecycle.state());
      }
      onStop.accept(this);
    }
  }

  /**
   * Waits, up to the poll timeout, for the next delivery of the open pull request and returns it
   * with every one that has arrived behind it: a delivery is handled as soon as it is here, not
   * once the request's whole batch is (at a low rate that wait was most of a message's latency),
   * and what has arrived is in hand, kept alive by in-progress acks and handed back on stop.
   *
   * @return nothing when the pull request ended: served in full, or expired
   */
  private List<Message> arrived(Iterator<Message> pull) {
    List<Message> arrived = new ArrayList<>();
    if (!pull.hasNext()) {
      return arrived;
    }
    arrived.add(pull.next());
    long buffered = subscription.getPendingMessageCount();
    while (buffered-- > 0 && pull.hasNext()) {
      arrived.add(pull.next());
    }
    return arrived;
  }

  /**
   * Hands back with a nak the deliveries that arrived after the last were taken in hand, so that
   * the next subscriber need not wait for the ack wait; at most one pull request's worth.
   */
  private void handBackBuffered() {
    try {
      for (int i = 0; i < settings.batchSize(); i++) {
        Message m = subscription.nextMessage(Duration.ofMillis(1));
        if (m == null) {
          return;
        }
        m.nak();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.debug("handing back buffered deliveries failed: {}", e.toString());
    }
  }

  /**
   * Hands undone deliveries back at once, so that the next subscriber need not wait for AckWait.
   */
  private void release() {
    for (Message m : inHand) {
      try {
        m.nak();
      } catch (RuntimeException e) {
        log.debug("nak on release failed: {}", e.toString());
      }
    }
    inHand.clear();
  }

  /**
   * Decodes one delivery and runs it through the pipeline with the attempt JetStream's delivery
   * count gives, settling it with this message's {@link JetStreamAcknowledger}.
   */
  private void handle(Message m) {
    received.incrementAndGet();
    NatsJetStreamMetaData meta = m.metaData();
    long delivered = meta.deliveredCount();
    long seq = meta.streamSequence();
    String source = meta.getStream() + "@" + seq;
    Decoded decoded = NatsMessages.decode(m, spec.maxRecordBytes(), clock.instant());
    boolean last = delivered >= settings.maxDeliver();
    int attempt = attempt(delivered, seq, last);
    Settlement settled =
        pipeline.deliver(
            decoded,
            attempt,
            source,
            new JetStreamAcknowledger(m, seq, last, decoded, attempt, source));
    if (settled == Settlement.ACKNOWLEDGED || settled == Settlement.TERMINATED) {
      unrecorded.remove(seq);
    }
  }

  /**
   * The attempt to report to the processor: the server's delivery count less the deliveries this
   * instance saw fail for want of a database (those say nothing about the event). On the last
   * delivery the server allows, it is at least the processor's last attempt, so that the outcome is
   * applied or dead-lettered, never a retry the server would not deliver.
   */
  private int attempt(long delivered, long seq, boolean last) {
    long attempt = Math.max(1, delivered - unrecorded.getOrDefault(seq, 0));
    if (last) {
      attempt = Math.max(attempt, processor.retryPolicy().maxAttempts());
    }
    return (int) Math.min(attempt, Integer.MAX_VALUE);
  }

  /**
   * Settles one delivery with the server: {@code ackSync}, {@code term} (flushed), or {@code
   * nakWithDelay}. A delivery is redeliverable unless it is the last the consumer's {@code
   * MaxDeliver} allows; the pipeline then holds it and tries again in place.
   */
  private final class JetStreamAcknowledger implements DeliveryPipeline.Acknowledger {
    private final Message message;
    private final long seq;
    private final boolean last;
    private final Decoded decoded;
    private final int attempt;
    private final String source;

    JetStreamAcknowledger(
        Message message, long seq, boolean last, Decoded decoded, int attempt, String source) {
      this.message = message;
      this.seq = seq;
      this.last = last;
      this.decoded = decoded;
      this.attempt = attempt;
      this.source = source;
    }

    @Override
    public void acknowledge() {
      try {
        message.ackSync(ACK_TIMEOUT);
      } catch (TimeoutException | RuntimeException e) {
        warnUnconfirmed("ack", e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        warnUnconfirmed("ack", e);
      }
    }

    @Override
    public void terminate() {
      try {
        message.term();
        connection.flush(ACK_TIMEOUT);
      } catch (TimeoutException | RuntimeException e) {
        warnUnconfirmed("term", e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        warnUnconfirmed("term", e);
      }
    }

    /**
     * A nak with the delay. A delivery that failed for want of a database is counted against its
     * stream sequence, so that its redelivery does not use up one of the event's attempts.
     */
    @Override
    public void redeliver(Redelivery redelivery) {
      if (redelivery.outage()) {
        unrecorded.merge(seq, 1, Integer::sum);
        trimFailures();
      }
      try {
        message.nakWithDelay(redelivery.delay());
      } catch (RuntimeException e) {
        log.debug("nak failed; the message is redelivered after the ack wait: {}", e.toString());
      }
    }

    @Override
    public boolean redeliverable() {
      return !last;
    }

    @SuppressWarnings("try") // the EventLog scope is used for its MDC side effect
    private void warnUnconfirmed(String what, Exception e) {
      EventLog scope =
          switch (decoded) {
            case Decodable d -> EventLog.of(d.event()).with(EventLog.ATTEMPT, attempt);
            case Undecodable u -> EventLog.ofUnknown(u.eventId(), spec.destination());
          };
      try (EventLog ignored =
          scope.with(EventLog.CONSUMER, processor.consumer()).with("source", source)) {
        log.warn(
            "{} not confirmed by the server ({}); if it was lost the message is delivered again"
                + " after the ack wait and recognised as a duplicate",
            what,
            e.toString());
      }
    }
  }

  private void trimFailures() {
    if (unrecorded.size() > MAX_TRACKED_FAILURES) {
      unrecorded.clear(); // only the attempt count after database outages depends on it
    }
  }

  private void shutDown() {
    heartbeat.shutdownNow();
    try {
      subscription.unsubscribe();
    } catch (RuntimeException e) {
      log.debug("unsubscribe failed: {}", e.toString());
    }
    try {
      connection.closeDispatcher(advisories);
    } catch (RuntimeException e) {
      log.debug("closing the advisory dispatcher failed: {}", e.toString());
    }
    try {
      connection.flush(ACK_TIMEOUT);
    } catch (TimeoutException | RuntimeException e) {
      log.debug("flush on close failed: {}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    NatsConnections.closeQuietly(connection);
  }

  /**
   * Stops gracefully ({@link State#STOPPING}, then {@link State#STOPPED}): finishes the delivery in
   * hand (acknowledging it if its outcome committed), hands the rest of the fetched batch back with
   * a nak, and closes the connection. Idempotent; does nothing after a crash or failure.
   */
  @Override
  public void close() {
    if (!lifecycle.stop()) {
      return;
    }
    if (Thread.currentThread() == loop) {
      return; // the loop sees the state and cleans up on its way out
    }
    try {
      loop.join(spec.pollTimeout().plus(settings.ackWait()).toMillis() + 5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (loop.isAlive()) {
      log.warn(
          "nats subscription {}: the delivery in hand did not finish in time; interrupting it",
          settings.durable());
      loop.interrupt();
    }
  }

  /**
   * Stops at once ({@link State#CRASHED}, with a {@link SubscriptionSpec.SimulatedCrash} as the
   * {@link #failure()}) and drops the connection without acknowledging anything more; the
   * deliveries in hand are redelivered after the ack wait. Idempotent; does nothing once stopped.
   */
  @Override
  public void crash() {
    crash(new SubscriptionSpec.SimulatedCrash("Subscription.crash() was called"));
  }

  /** The crash of {@link #crash()} and of an after-commit hook that threw {@code why}. */
  private void crash(Throwable why) {
    if (!lifecycle.crash(why)) {
      return;
    }
    heartbeat.shutdownNow();
    NatsConnections.closeQuietly(connection);
    log.warn(
        "nats subscription {} crashed ({}): nothing more is acknowledged",
        settings.durable(),
        why.toString());
  }

  /** The stream this subscription reads. */
  String stream() {
    return stream;
  }
}
