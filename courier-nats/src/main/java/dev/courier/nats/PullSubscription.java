package dev.courier.nats;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.inbox.HandleOutcome;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.EventLog;
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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running durable pull consumer; see {@link JetStreamTransport#subscribe} for what it
 * guarantees. The pull loop runs on its own platform thread, in-progress acks on a second one.
 * Thread-safe.
 */
final class PullSubscription implements Subscription {
  private static final Logger log = LoggerFactory.getLogger(PullSubscription.class);
  private static final Duration ACK_TIMEOUT = Duration.ofSeconds(5);
  private static final int MAX_TRACKED_FAILURES = 10_000;

  private enum State {
    RUNNING,
    CLOSING,
    STOPPED,
    CRASHED
  }

  private final Connection connection;
  private final String stream;
  private final SubscriptionSpec spec;
  private final IdempotentProcessor processor;
  private final ConsumerSettings settings;
  private final Consumer<PullSubscription> onStop;
  private final JetStreamSubscription subscription;
  private final Dispatcher advisories;
  private final ScheduledExecutorService heartbeat;
  private final Set<Message> inHand = ConcurrentHashMap.newKeySet();
  private final AtomicLong received = new AtomicLong();
  // Touched by the loop thread only: deliveries whose processing threw, by stream sequence.
  private final Map<Long, Integer> unrecorded = new HashMap<>();
  private volatile State state = State.RUNNING;
  private Thread loop;

  private PullSubscription(
      Connection connection,
      String stream,
      SubscriptionSpec spec,
      IdempotentProcessor processor,
      ConsumerSettings settings,
      Consumer<PullSubscription> onStop,
      JetStreamSubscription subscription,
      Dispatcher advisories) {
    this.connection = connection;
    this.stream = stream;
    this.spec = spec;
    this.processor = processor;
    this.settings = settings;
    this.onStop = onStop;
    this.subscription = subscription;
    this.advisories = advisories;
    this.heartbeat =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform()
                .name("courier-nats-in-progress-" + settings.durable())
                .daemon(true)
                .factory());
  }

  /**
   * Creates or updates the durable consumer, binds a pull subscription to it and starts the loop.
   *
   * @throws ConfigurationException if the server refuses the consumer
   * @throws RetriableCourierException if the server cannot be asked
   */
  static PullSubscription start(
      Connection connection,
      String stream,
      SubscriptionSpec spec,
      IdempotentProcessor processor,
      ConsumerSettings settings,
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
              connection, stream, spec, processor, settings, onStop, sub, advisories);
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
    long every = Math.max(100, settings.heartbeat().toMillis());
    heartbeat.scheduleAtFixedRate(this::beat, every, every, TimeUnit.MILLISECONDS);
    loop =
        Thread.ofPlatform()
            .name("courier-nats-consumer-" + settings.durable())
            .daemon(true)
            .start(this::run);
  }

  /** Tells the server that every delivery in hand is still being worked on. */
  private void beat() {
    for (Message m : inHand) {
      if (state == State.CRASHED) {
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
  public boolean isRunning() {
    return state == State.RUNNING;
  }

  @Override
  public long received() {
    return received.get();
  }

  private void run() {
    int fetchFailures = 0;
    Iterator<Message> pull = null;
    try {
      while (state == State.RUNNING) {
        List<Message> arrived;
        try {
          if (pull == null) {
            pull = subscription.iterate(settings.batchSize(), spec.pollTimeout());
          }
          arrived = arrived(pull);
          fetchFailures = 0;
        } catch (RuntimeException e) {
          pull = null;
          if (state != State.RUNNING) {
            break;
          }
          fetchFailures++;
          log.warn(
              "nats subscription {}: fetch failed, trying again: {}",
              settings.durable(),
              e.toString());
          sleepWhileRunning(backoff(fetchFailures));
          continue;
        }
        if (arrived.isEmpty()) {
          pull = null; // the pull request was served in full or expired: the next one goes out now
          continue;
        }
        inHand.addAll(arrived);
        for (Message m : arrived) {
          if (state != State.RUNNING) {
            break;
          }
          handle(m);
          inHand.remove(m);
        }
        if (state == State.CRASHED) {
          break;
        }
        release();
      }
    } catch (RuntimeException | Error e) {
      log.error("nats subscription {} stopped by an unexpected error", settings.durable(), e);
    } finally {
      if (state != State.CRASHED) {
        release();
        handBackBuffered();
        shutDown();
        state = State.STOPPED;
        log.info("nats subscription {} stopped", settings.durable());
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

  @SuppressWarnings("try") // the EventLog scopes are used for their MDC side effect
  private void handle(Message m) {
    received.incrementAndGet();
    NatsJetStreamMetaData meta = m.metaData();
    long delivered = meta.deliveredCount();
    long seq = meta.streamSequence();
    String source = meta.getStream() + "@" + seq;
    Decoded decoded = NatsMessages.decode(m, spec.maxRecordBytes(), Instant.now());
    boolean last = delivered >= settings.maxDeliver();
    HandleOutcome outcome;
    int attempt;
    while (true) {
      attempt = attempt(delivered, seq, last);
      try {
        outcome =
            switch (decoded) {
              case Decodable d -> processor.process(d.event(), attempt, source);
              case Undecodable u ->
                  processor.rejectMalformed(
                      u.eventId(), source, u.rawPayload(), u.rawHeaders(), u.reason(), u.error());
            };
        break;
      } catch (RuntimeException e) {
        int failures = unrecorded.merge(seq, 1, Integer::sum);
        Duration delay = backoff(failures);
        try (EventLog ignored = scope(decoded, attempt, source)) {
          if (!last) {
            log.error(
                "could not process the message nor record its failure (is the database reachable?);"
                    + " it stays unacknowledged and is redelivered in {} ms: {}",
                delay.toMillis(),
                e.toString());
            nak(m, delay);
            trimFailures();
            return;
          }
          log.error(
              "could not process the message nor record its failure on its last allowed delivery"
                  + " ({} of {}); holding it and trying again in {} ms: {}",
              delivered,
              settings.maxDeliver(),
              delay.toMillis(),
              e.toString());
        }
        if (!sleepWhileRunning(delay)) {
          try (EventLog ignored = scope(decoded, attempt, source)) {
            log.error(
                "subscription stopped while holding the last allowed delivery of a message that was"
                    + " never recorded; the server will not deliver it to this consumer again:"
                    + " replay {} from the stream",
                source);
          }
          return;
        }
      }
    }
    unrecorded.remove(seq);
    switch (outcome) {
      case HandleOutcome.Applied a -> {
        if (afterCommit(decoded)) {
          ack(m, decoded, attempt, source);
        }
      }
      case HandleOutcome.Duplicate d -> {
        if (afterCommit(decoded)) {
          ack(m, decoded, attempt, source);
        }
      }
      case HandleOutcome.NotAddressed n -> {
        if (afterCommit(decoded)) {
          ack(m, decoded, attempt, source);
        }
      }
      case HandleOutcome.DeadLettered d -> {
        if (afterCommit(decoded)) {
          term(m, decoded, attempt, source);
        }
      }
      case HandleOutcome.RetryLater r -> nak(m, r.delay());
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

  /** Runs the after-commit hook; false when it crashed the subscription. */
  @SuppressWarnings("try")
  private boolean afterCommit(Decoded decoded) {
    if (decoded instanceof Decodable d) {
      Event event = d.event();
      try {
        spec.afterCommit().afterCommit(event);
      } catch (RuntimeException | Error t) {
        try (EventLog ignored = EventLog.of(event).with(EventLog.CONSUMER, processor.consumer())) {
          log.error(
              "nats subscription {} stopped by a failure after the outcome committed and before the"
                  + " ack; the message will be delivered again and deduplicated: {}",
              settings.durable(),
              t.toString());
        }
        crash();
        return false;
      }
    }
    return state == State.RUNNING || state == State.CLOSING;
  }

  private void ack(Message m, Decoded decoded, int attempt, String source) {
    try {
      m.ackSync(ACK_TIMEOUT);
    } catch (TimeoutException | RuntimeException e) {
      warnUnconfirmed(decoded, attempt, source, "ack", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      warnUnconfirmed(decoded, attempt, source, "ack", e);
    }
  }

  private void term(Message m, Decoded decoded, int attempt, String source) {
    try {
      m.term();
      connection.flush(ACK_TIMEOUT);
    } catch (TimeoutException | RuntimeException e) {
      warnUnconfirmed(decoded, attempt, source, "term", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      warnUnconfirmed(decoded, attempt, source, "term", e);
    }
  }

  @SuppressWarnings("try")
  private void warnUnconfirmed(
      Decoded decoded, int attempt, String source, String what, Exception e) {
    try (EventLog ignored = scope(decoded, attempt, source)) {
      log.warn(
          "{} not confirmed by the server ({}); if it was lost the message is delivered again after"
              + " the ack wait and recognised as a duplicate",
          what,
          e.toString());
    }
  }

  private void nak(Message m, Duration delay) {
    try {
      m.nakWithDelay(delay);
    } catch (RuntimeException e) {
      log.debug("nak failed; the message is redelivered after the ack wait: {}", e.toString());
    }
  }

  private EventLog scope(Decoded decoded, int attempt, String source) {
    EventLog scope =
        switch (decoded) {
          case Decodable d -> EventLog.of(d.event()).with(EventLog.ATTEMPT, attempt);
          case Undecodable u -> EventLog.ofUnknown(u.eventId(), spec.destination());
        };
    return scope.with(EventLog.CONSUMER, processor.consumer()).with("source", source);
  }

  private void trimFailures() {
    if (unrecorded.size() > MAX_TRACKED_FAILURES) {
      unrecorded.clear(); // only the backoff of database outages depends on it
    }
  }

  /**
   * 500 ms doubling to 30 s: slow enough that a short outage uses few of the server's deliveries.
   */
  private static Duration backoff(int failures) {
    return Duration.ofMillis(Math.min(30_000L, 500L << Math.min(Math.max(failures, 1) - 1, 6)));
  }

  /** Sleeps unless the subscription stops first; returns whether it is still running. */
  private boolean sleepWhileRunning(Duration d) {
    long until = System.nanoTime() + d.toNanos();
    while (state == State.RUNNING) {
      long left = until - System.nanoTime();
      if (left <= 0) {
        return true;
      }
      try {
        Thread.sleep(Math.min(TimeUnit.NANOSECONDS.toMillis(left) + 1, 100));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return false;
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
    JetStreamTransport.closeQuietly(connection);
  }

  /**
   * Finishes the delivery in hand (acknowledging it if its outcome committed), hands the rest of
   * the fetched batch back with a nak, and closes the connection. Idempotent.
   */
  @Override
  public void close() {
    if (state != State.RUNNING) {
      return;
    }
    state = State.CLOSING;
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
   * Stops at once and drops the connection without acknowledging anything more; the deliveries in
   * hand are redelivered after the ack wait. Idempotent.
   */
  @Override
  public void crash() {
    if (state == State.CRASHED || state == State.STOPPED) {
      return;
    }
    state = State.CRASHED;
    heartbeat.shutdownNow();
    JetStreamTransport.closeQuietly(connection);
    log.warn(
        "nats subscription {} crashed on purpose: nothing more is acknowledged",
        settings.durable());
  }

  /** The stream this subscription reads. */
  String stream() {
    return stream;
  }
}
