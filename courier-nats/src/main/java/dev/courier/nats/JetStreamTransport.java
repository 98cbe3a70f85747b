package dev.courier.nats;

import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.RetriableCourierException;
import dev.courier.UnsafeConfigurationException;
import dev.courier.inbox.DeliveryPipeline;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.Causes;
import dev.courier.internal.Threads;
import dev.courier.metrics.CourierMetrics;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishBatch;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.Options;
import io.nats.client.PublishOptions;
import io.nats.client.api.PublishAck;
import io.nats.client.api.StorageType;
import io.nats.client.impl.Headers;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes events to NATS JetStream and consumes them with durable pull consumers that acknowledge
 * only after the outcome is committed.
 *
 * <p><b>Messages.</b> Subject = {@link Event#destination()}; data = the payload; headers = {@code
 * Nats-Msg-Id} set to the event id (with {@code @} and the replay id for a replayed event, so that
 * the duplicate window does not swallow a replay; see {@link NatsMessages#messageId}), the headers
 * of {@link NatsHeaders}, and every application header (values that are not printable ASCII travel
 * as encoded words, see {@link NatsHeaders}).
 *
 * <p><b>Streams.</b> Each destination is captured by one stream, named by {@link
 * Builder#stream(String, String)} or else by {@link Builder#streamNaming(UnaryOperator)} (default:
 * {@code COURIER_} and the subject in upper case with every character other than letters, digits,
 * {@code _} and {@code -} replaced by {@code _}). {@link #ensureStream(String)} creates a missing
 * stream (file storage, the duplicate window of {@link Builder#duplicateWindow(Duration)}, 1
 * replica by default) or validates an existing one: it must capture the subject, and its duplicate
 * window must cover the relay's retry horizon. A shorter window is refused with an {@link
 * UnsafeConfigurationException} naming both durations, because a republish after the window is
 * stored twice; {@link Builder#allowDuplicateWindowShorterThanRetryHorizon()} accepts that risk.
 * Destinations given to {@link Builder#destinations(String...)} are ensured when the transport is
 * built; others on their first publish or subscription. A relay that starts with this transport
 * raises the retry horizon to its own, if that is longer, and has its destinations checked against
 * it ({@link #checkRetryHorizon}), so the window covers the relay's retries, not only the
 * builder's.
 *
 * <p><b>Publishing.</b> {@link #publish} sends the whole batch asynchronously, in order, then waits
 * for every PubAck up to the timeout, as {@link PublishBatch} describes: an event that could not be
 * sent holds back the later events of its subject and key in the batch. A PubAck is {@link
 * PublishResult.Confirmed}; one marked as a duplicate (the stream already holds a message with that
 * {@code Nats-Msg-Id} inside its window) is confirmed with {@code brokerDuplicate = true}, counted
 * in {@value #BROKER_DEDUPE_HITS} and logged with the event id. No PubAck by the deadline, a server
 * error, or no stream for the subject is a retriable failure. Failures that retrying cannot fix are
 * non-retriable, and the relay parks the event at once: a subject that cannot be published to
 * (empty, wildcard, starting with {@code $}), an application header NATS cannot carry or that uses
 * a reserved prefix ({@code courier-}, {@code Nats-}), and a message larger than the server's
 * {@code max_payload} or the stream's {@code max_msg_size} (the message names its size and the
 * limit). Each publish names the stream it expects ({@code Nats-Expected-Stream}), so a subject
 * captured by some other stream is refused instead of stored where no Courier consumer looks.
 *
 * <p><b>Consuming.</b> See {@link #subscribe}: a durable pull consumer with explicit acks, a
 * bounded {@code MaxDeliver} and a {@code BackOff} schedule; acks only after the database commit.
 *
 * <p><b>Durability.</b> A PubAck means the server stored the message in its stream. With one
 * replica on one server (the default, and all Debian's nats-server 2.9 offers here) that is one
 * machine's file system; use {@link Builder#replicas(int)} on a cluster for more.
 *
 * <p><b>Credentials.</b> Tokens, passwords and credentials files are handed to the NATS client and
 * never printed: {@link #toString()}, logs and exception messages show server URLs without their
 * user information.
 *
 * <p>Thread-safe: one instance may serve several relays and subscriptions.
 */
public final class JetStreamTransport implements Transport {
  private static final Logger log = LoggerFactory.getLogger(JetStreamTransport.class);

  /** Confirmed publishes that the server recognised as duplicates. Tags: transport, destination. */
  public static final String BROKER_DEDUPE_HITS = CourierMetrics.RELAY_BROKER_DEDUPE_HITS;

  /**
   * The server's own default duplicate window, the shortest {@link Builder#duplicateWindow}
   * default.
   */
  public static final Duration NATS_DEFAULT_DUPLICATE_WINDOW = Duration.ofMinutes(2);

  /** Added to the retry horizon to make the default duplicate window. */
  public static final Duration DUPLICATE_WINDOW_SLACK = Duration.ofMinutes(1);

  /**
   * Subscription option: how long the server waits for an ack before redelivering (default 30s).
   */
  public static final String OPTION_ACK_WAIT = "ackWait";

  /**
   * Subscription option: how many times the server delivers a message at most. Default: the
   * processor's {@code maxAttempts} plus {@value #DEFAULT_MAX_DELIVER_MARGIN}; never unlimited.
   */
  public static final String OPTION_MAX_DELIVER = "maxDeliver";

  /**
   * Subscription option: the redelivery schedule after an ack wait expires, as a comma-separated
   * list of durations ({@code 30s,1m,2m}), {@code auto} (default: the ack wait doubling, five
   * steps, at most 5 minutes) or {@code none}.
   */
  public static final String OPTION_BACKOFF = "backoff";

  /**
   * Subscription option: how many messages one pull request asks for (default 10, at most 256).
   * Each is handed over as it arrives, not once the request is served in full.
   */
  public static final String OPTION_BATCH_SIZE = "batchSize";

  /** Subscription option: the consumer's limit of unacknowledged messages (default 1000). */
  public static final String OPTION_MAX_ACK_PENDING = "maxAckPending";

  /** Subscription option: the durable consumer's name (default: the processor's consumer name). */
  public static final String OPTION_DURABLE = "durable";

  /** Deliveries allowed beyond the processor's attempts, for crashes and database outages. */
  public static final int DEFAULT_MAX_DELIVER_MARGIN = 5;

  /** The server version from which consumers accept a {@code backoff} list. */
  static final String BACKOFF_MIN_SERVER = "2.7.1";

  private static final int API_MESSAGE_TOO_LARGE = 10054;

  private final Supplier<Options> options;
  private final String servers;
  private final Connection connection;
  private final JetStream jetStream;
  private final Streams streams;
  private final DedupeHits dedupeHits;
  private final Clock clock;
  private final ThreadFactory threadFactory;

  private final Set<PullSubscription> subscriptions = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private JetStreamTransport(Builder b, Supplier<Options> options, Connection connection)
      throws IOException {
    this.options = options;
    this.servers = b.serversForLogs();
    this.connection = connection;
    this.jetStream = connection.jetStream();
    this.streams = new Streams(b, servers, connection);
    this.dedupeHits = new DedupeHits(b.registry, name());
    this.clock = b.clock;
    this.threadFactory = b.threadFactory;
  }

  /** Starts building a transport; see {@link Builder} for the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The default stream name for a subject: {@code orders.created} becomes {@code
   * COURIER_ORDERS_CREATED}.
   */
  public static String defaultStreamName(String subject) {
    StringBuilder sb = new StringBuilder("COURIER_");
    for (char c : subject.toCharArray()) {
      boolean keep =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      sb.append(keep ? Character.toUpperCase(c) : '_');
    }
    return sb.toString();
  }

  @Override
  public String name() {
    return "nats";
  }

  /**
   * Publishes the server recognised as duplicates so far (also in {@value #BROKER_DEDUPE_HITS}).
   */
  public long brokerDedupeHits() {
    return dedupeHits.total();
  }

  /**
   * The retry horizon every stream's duplicate window is checked against: the builder's, or a
   * longer one a relay asked for ({@link #checkRetryHorizon}).
   */
  public Duration retryHorizon() {
    return streams.retryHorizon();
  }

  /**
   * The duplicate window given to the streams this transport creates: the builder's, or else the
   * retry horizon plus {@link #DUPLICATE_WINDOW_SLACK}, at least {@link
   * #NATS_DEFAULT_DUPLICATE_WINDOW}.
   */
  public Duration duplicateWindow() {
    return streams.duplicateWindow();
  }

  /**
   * Holds every stream to a relay's retry horizon: raises this transport's horizon to {@code
   * relayHorizon} if that is longer (streams created from then on get a window to match, unless the
   * builder set one), then checks the stream of each destination already used or given here,
   * creating missing ones as {@link #ensureStream} does.
   *
   * @throws UnsafeConfigurationException naming the stream, its window and the horizon, for a
   *     window shorter than the horizon, unless {@link
   *     Builder#allowDuplicateWindowShorterThanRetryHorizon()} accepted that
   * @throws ConfigurationException if a destination cannot be used (see {@link #ensureStream})
   * @throws RetriableCourierException if the server could not be asked
   */
  @Override
  public void checkRetryHorizon(Duration relayHorizon, Set<String> destinations) {
    Objects.requireNonNull(relayHorizon, "relayHorizon");
    Objects.requireNonNull(destinations, "destinations");
    streams.raiseRetryHorizon(relayHorizon);
    for (String d : destinations) {
      ensureStream(d);
    }
  }

  /** The stream that captures (or will capture) {@code destination}, by mapping or naming rule. */
  public String streamName(String destination) {
    return streams.streamName(destination);
  }

  /**
   * Creates the stream for {@code destination} if it is missing, or validates it if it exists, and
   * remembers it for publishing.
   *
   * @return the stream's name
   * @throws UnsafeConfigurationException if the stream's duplicate window is shorter than the retry
   *     horizon and that was not allowed
   * @throws ConfigurationException if the destination is not a publishable subject, the stream name
   *     is invalid, the stream exists without capturing the subject, the subject is captured by
   *     another stream, or the stream is missing and creating streams is off
   * @throws RetriableCourierException if the server could not be asked
   */
  public String ensureStream(String destination) {
    return streams.target(destination).stream();
  }

  /** Publishes a batch and waits for the PubAck of each message; see the class description. */
  @Override
  public List<PublishResult> publish(List<Event> batch, Duration timeout) {
    requireOpen();
    return new Batch(batch, timeout).publish();
  }

  /**
   * One batch of asynchronous publishes: what publishing is for JetStream; see {@link
   * PublishBatch}.
   */
  private final class Batch extends PublishBatch<PublishAck> {
    // of the event being sent: its stream (or why it has none) and its headers
    private Streams.Target target;
    private CourierException noTarget;
    private Headers headers;

    Batch(List<Event> events, Duration timeout) {
      super(events, timeout, "PubAck");
    }

    @Override
    protected String problem(Event e) {
      String problem = NatsMessages.publishProblem(e);
      if (problem != null) {
        return problem;
      }
      try {
        target = streams.target(e.destination());
        noTarget = null;
      } catch (CourierException ex) {
        noTarget = ex; // see unavailable: whether the event fits is checked once there is a stream
        return null;
      }
      headers = NatsMessages.headers(e);
      return target.sizeProblem(e, headers);
    }

    @Override
    protected PublishResult.Failed unavailable(Event e) {
      // A property of the deployment, not of the event: an operator can fix it while the relay
      // backs off, and the relay's policy still parks the event if it persists.
      return noTarget == null ? null : new PublishResult.Failed(e.id(), noTarget, true);
    }

    @Override
    protected Future<PublishAck> send(Event e) {
      PublishOptions po =
          PublishOptions.builder()
              .messageId(NatsMessages.messageId(e))
              .expectedStream(target.stream())
              .streamTimeout(Duration.ofMillis(Math.max(1, remaining().toMillis())))
              .build();
      return jetStream.publishAsync(e.destination(), headers, e.payload(), po);
    }

    @Override
    protected PublishResult answered(Event e, PublishAck ack) {
      String position = ack.getStream() + "@" + ack.getSeqno();
      if (ack.isDuplicate()) {
        dedupeHits.record(e, position);
      }
      return new PublishResult.Confirmed(e.id(), position, ack.isDuplicate());
    }

    @Override
    protected PublishResult.Failed failed(Event e, Throwable error) {
      for (Throwable c : Causes.chain(error)) {
        if (c instanceof JetStreamApiException api
            && api.getApiErrorCode() == API_MESSAGE_TOO_LARGE) {
          String why =
              "cannot publish to NATS: the stream refused the message as too large ("
                  + api.getErrorDescription()
                  + "); payload "
                  + e.payloadSize()
                  + " bytes";
          return new PublishResult.Failed(
              e.id(), new InvalidEventException(why, e.id(), e.destination(), api), false);
        }
        if (c instanceof IllegalArgumentException) {
          return new PublishResult.Failed(e.id(), c, false); // the client refused the message
        }
        String m = c.getMessage();
        if (m != null && m.contains("503")) {
          // No responders: no stream captures the subject (deleted?). Look again on the next try.
          streams.forget(e.destination());
        }
      }
      return PublishResult.retriable(
          e, "the server did not store the message: " + error.getMessage(), error);
    }
  }

  /**
   * Starts consuming {@code spec.destination()} with a durable pull consumer named after the
   * processor (or {@link #OPTION_DURABLE}), on a connection of its own.
   *
   * <p><b>Consumer settings</b> (from {@code spec.options()}): {@code AckPolicy.Explicit}; {@link
   * #OPTION_ACK_WAIT} (default 30s); {@link #OPTION_MAX_DELIVER} (default the processor's {@code
   * maxAttempts} + {@value #DEFAULT_MAX_DELIVER_MARGIN}; it must be at least {@code maxAttempts}
   * and is never unlimited); {@link #OPTION_BACKOFF} (servers from {@value #BACKOFF_MIN_SERVER} on;
   * its first step equals the ack wait, because the server uses it as one); {@link
   * #OPTION_BATCH_SIZE}; {@link #OPTION_MAX_ACK_PENDING}. An existing durable consumer is updated
   * to these settings. Unknown option keys are refused.
   *
   * <p><b>Per delivery</b>, in stream order within a fetched batch, through core's {@link
   * DeliveryPipeline}: a message that is not a valid event (no or invalid id, no type, bad
   * encoding, over {@code spec.maxRecordBytes()}) is dead-lettered through {@link
   * IdempotentProcessor#rejectMalformed} and terminated ({@code +TERM}). Otherwise {@link
   * IdempotentProcessor#process} runs with the source {@code STREAM@sequence} and, as the attempt,
   * the server's delivery count less the deliveries this instance saw fail for want of a database.
   * Applied, Duplicate and NotAddressed: the after-commit hook, then {@code ackSync}. DeadLettered:
   * the hook, then {@code term()}, flushed. RetryLater: {@code nakWithDelay(delay)}. If {@code
   * process} throws (the database is unavailable) the message is nak'd without an ack, with the
   * delay of {@link DeliveryPipeline#OUTAGE_BACKOFF} (200 ms doubling to 30 s over consecutive
   * failures), and that delivery does not count as an attempt. On the last delivery the server
   * allows, nothing is left to the server: the attempt reported is at least the processor's last,
   * so the outcome is applied or dead-lettered, and a database failure is retried in place with the
   * same backoff until the database is back (or the subscription closes, which is logged as an
   * error naming the stream sequence to replay). While deliveries are in hand, each of them gets an
   * in-progress ack every third of the ack wait, so a slow handler causes no redelivery to another
   * instance.
   *
   * <p><b>Lifecycle.</b> The subscription is {@link Subscription.State#RUNNING} once this returns.
   * {@link Subscription#close()} makes it {@link Subscription.State#STOPPING} (the delivery in hand
   * finishes and is acknowledged, the rest of the fetched batch is handed back with a nak), then
   * {@link Subscription.State#STOPPED}. A hook that throws anything, {@link
   * SubscriptionSpec.SimulatedCrash} or not, stops the subscription as {@link Subscription#crash()}
   * does, after its outcome committed and before its ack: {@link Subscription.State#CRASHED}, with
   * the hook's throwable as {@link Subscription#failure()}. An unexpected error in the pull loop
   * stops it as {@link Subscription.State#FAILED}, with that error as the failure. A failed fetch
   * (the server is unreachable) is retried with the same backoff and does not stop it.
   *
   * @throws ConfigurationException for an invalid option or a consumer the server refuses
   * @throws RetriableCourierException if the server could not be reached
   */
  @Override
  public Subscription subscribe(SubscriptionSpec spec, IdempotentProcessor processor) {
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(processor, "processor");
    requireOpen();
    boolean backoffSupported =
        connection.getServerInfo().isSameOrNewerThanVersion(BACKOFF_MIN_SERVER);
    ConsumerSettings settings = ConsumerSettings.from(spec, processor, backoffSupported);
    String stream = ensureStream(spec.destination());
    // Each connection gets Options of its own: the client shuts down a connection's internal
    // executors when it closes, and Options shared with another connection would share them.
    Connection own = NatsConnections.connect(options.get(), servers);
    try {
      PullSubscription s =
          PullSubscription.start(
              own, stream, spec, processor, settings, clock, threadFactory, servers, subscriptions::remove);
      subscriptions.add(s);
      return s;
    } catch (RuntimeException e) {
      NatsConnections.closeQuietly(own);
      throw e;
    }
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the nats transport is closed");
    }
  }

  /**
   * Closes the subscriptions made by this transport (gracefully), then the connection, after
   * flushing what was sent. Unconfirmed events stay in the outbox and are retried. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    streams.close();
    for (PullSubscription s : List.copyOf(subscriptions)) {
      s.close();
    }
    try {
      connection.flush(Duration.ofSeconds(5));
    } catch (TimeoutException | InterruptedException | RuntimeException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      log.debug("flushing the nats connection failed: {}", e.toString());
    }
    NatsConnections.closeQuietly(connection);
  }

  @Override
  public String toString() {
    return "JetStreamTransport[servers=" + servers + "]";
  }

  /**
   * Builds a {@link JetStreamTransport}. Defaults: file storage, 1 replica, streams created when
   * missing, retry horizon that of a relay at its defaults ({@link Relay#defaultRetryHorizon()}), a
   * duplicate window of the retry horizon plus {@link #DUPLICATE_WINDOW_SLACK} and at least {@link
   * #NATS_DEFAULT_DUPLICATE_WINDOW}, a connection timeout of 5 s, reconnecting forever.
   */
  public static final class Builder {
    // the package-private ones are read by Streams and NatsConnections
    final List<String> urls = new ArrayList<>();
    final Map<String, String> streams = new LinkedHashMap<>();
    private final Set<String> destinations = new LinkedHashSet<>();
    UnaryOperator<String> streamNaming = JetStreamTransport::defaultStreamName;
    boolean createStreams = true;
    StorageType storage = StorageType.File;
    int replicas = 1;
    Duration duplicateWindow;
    Duration retryHorizon = Relay.defaultRetryHorizon();
    boolean allowShortWindow;
    Duration connectionTimeout = Duration.ofSeconds(5);
    String connectionName = "courier";
    char[] token;
    String user;
    char[] password;
    Path credentialsFile;
    private MeterRegistry registry = new SimpleMeterRegistry();
    private Clock clock = Clock.systemUTC();
    private ThreadFactory threadFactory = Threads.DAEMON_PLATFORM;

    private Builder() {}

    /** The servers, {@code nats://host:port}, tried in turn. Required. */
    public Builder servers(String... urls) {
      for (String u : urls) {
        this.urls.add(Objects.requireNonNull(u, "server url"));
      }
      return this;
    }

    /** Authenticates with a token. It is never printed. */
    public Builder token(char[] token) {
      this.token = Objects.requireNonNull(token, "token").clone();
      return this;
    }

    /** Authenticates with a user and password. The password is never printed. */
    public Builder userInfo(String user, char[] password) {
      this.user = Objects.requireNonNull(user, "user");
      this.password = Objects.requireNonNull(password, "password").clone();
      return this;
    }

    /**
     * Authenticates with a NATS credentials file (JWT and NKey seed). Its content is never printed.
     */
    public Builder credentialsFile(Path file) {
      this.credentialsFile = Objects.requireNonNull(file, "file");
      return this;
    }

    /** The connection name shown by the server's monitoring (default {@code courier}). */
    public Builder connectionName(String name) {
      this.connectionName = Objects.requireNonNull(name, "name");
      return this;
    }

    /** How long connecting may take (default 5 s). */
    public Builder connectionTimeout(Duration timeout) {
      this.connectionTimeout = timeout;
      return this;
    }

    /** Maps one destination (subject) to a named stream, overriding the naming rule. */
    public Builder stream(String destination, String stream) {
      streams.put(
          Objects.requireNonNull(destination, "destination"),
          Objects.requireNonNull(stream, "stream"));
      return this;
    }

    /** The rule naming the stream of a destination without a {@link #stream} mapping. */
    public Builder streamNaming(UnaryOperator<String> rule) {
      this.streamNaming = Objects.requireNonNull(rule, "rule");
      return this;
    }

    /** Destinations whose streams are created or validated by {@link #build()}. */
    public Builder destinations(String... destinations) {
      this.destinations.addAll(Arrays.asList(destinations));
      return this;
    }

    /** Whether missing streams are created (default) or reported as a configuration error. */
    public Builder createStreams(boolean create) {
      this.createStreams = create;
      return this;
    }

    /** Storage of created streams (default {@link StorageType#File}). */
    public Builder storage(StorageType storage) {
      this.storage = Objects.requireNonNull(storage, "storage");
      return this;
    }

    /**
     * Replicas of created streams (default 1; at most 5, and a cluster is needed for more than 1).
     */
    public Builder replicas(int replicas) {
      this.replicas = replicas;
      return this;
    }

    /**
     * The duplicate window of created streams: how long the server remembers a {@code Nats-Msg-Id}.
     * Default: the retry horizon plus {@link #DUPLICATE_WINDOW_SLACK}, at least {@link
     * #NATS_DEFAULT_DUPLICATE_WINDOW}.
     */
    public Builder duplicateWindow(Duration window) {
      this.duplicateWindow = window;
      return this;
    }

    /**
     * The relay's retry policy; its {@link RetryPolicy#horizon()} (the delays alone) becomes the
     * retry horizon every duplicate window must cover. A relay's full horizon also counts a publish
     * timeout and a poll interval per attempt ({@link
     * dev.courier.relay.Relay#retryHorizon(RetryPolicy, Duration, Duration)}), and the relay raises
     * this transport's horizon to it when it starts: a stream created before that, through another
     * transport, should be given that full horizon with {@link #retryHorizon(Duration)}, or the
     * relay refuses it.
     */
    public Builder retryPolicy(RetryPolicy relayPolicy) {
      this.retryHorizon = Objects.requireNonNull(relayPolicy, "relayPolicy").horizon();
      return this;
    }

    /** The retry horizon itself, when it is known without a policy. */
    public Builder retryHorizon(Duration horizon) {
      this.retryHorizon = horizon;
      return this;
    }

    /**
     * Accepts streams whose duplicate window is shorter than the retry horizon. A republish after
     * the window is then stored twice; consumers still apply it once through their ledger.
     */
    public Builder allowDuplicateWindowShorterThanRetryHorizon() {
      this.allowShortWindow = true;
      return this;
    }

    /** Where {@value #BROKER_DEDUPE_HITS} is registered (default: a private simple registry). */
    public Builder meterRegistry(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * The clock the subscriptions read the time from (default {@link Clock#systemUTC()}): a
     * message that carries no {@link NatsHeaders#CREATED_AT} header is given this clock's time as
     * its event's creation time. Redelivery delays are the server's, in-progress acks are paced by
     * a scheduler, and publishing reads no clock. Shared by every subscription of this transport,
     * so it must be safe for concurrent use, as the JDK's clocks and {@code TestClock} are.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Where the subscriptions' threads come from (default: daemon platform threads). Each
     * subscription takes two when it starts: its pull loop, {@code courier-nats-consumer-<durable>},
     * which processes the messages, and {@code courier-nats-in-progress-<durable>}, which sends the
     * in-progress acks of the deliveries in hand; both end when it closes. The NATS client's own
     * threads are the client's and do not come from it. The factory must return a new, unstarted
     * thread; one that returns none for the loop makes {@link JetStreamTransport#subscribe} throw
     * {@link IllegalStateException}. It is called from the threads that subscribe, so it must be
     * safe for concurrent use if they are several. Whether the threads are daemons is the
     * factory's choice; a subscription whose threads are not keeps the JVM alive until it is
     * closed.
     */
    public Builder threadFactory(ThreadFactory threadFactory) {
      this.threadFactory = Objects.requireNonNull(threadFactory, "threadFactory");
      return this;
    }

    String serversForLogs() {
      return NatsConnections.redact(urls);
    }

    /**
     * Checks the settings, connects, and ensures the streams of {@link #destinations}.
     *
     * @throws ConfigurationException for a missing or invalid setting, refused credentials, or a
     *     stream that cannot be used
     * @throws UnsafeConfigurationException for a duplicate window shorter than the retry horizon
     *     that was not allowed
     * @throws RetriableCourierException if the server cannot be reached
     */
    public JetStreamTransport build() {
      Supplier<Options> options = NatsConnections.options(this);
      Streams.check(this);
      String shown = serversForLogs();
      Connection connection;
      try {
        connection = NatsConnections.connect(options.get(), shown);
      } catch (IllegalArgumentException | IllegalStateException e) {
        throw new ConfigurationException(
            "servers", "the NATS client refused the options: " + e.getMessage());
      }
      JetStreamTransport transport;
      try {
        transport = new JetStreamTransport(this, options, connection);
        if (!connection.getServerInfo().isJetStreamAvailable()) {
          throw new ConfigurationException(
              "servers",
              "the NATS server at "
                  + shown
                  + " does not have JetStream enabled (start it with -js)");
        }
        for (String d : destinations) {
          transport.ensureStream(d);
        }
      } catch (IOException | RuntimeException e) {
        NatsConnections.closeQuietly(connection);
        if (e instanceof IOException io) {
          throw new RetriableCourierException(
              "could not open JetStream at " + shown + ": " + io.getMessage(), io);
        }
        throw (RuntimeException) e;
      }
      log.info(
          "nats transport connected to {} (server {}): retry horizon {}, duplicate window {} for"
              + " new streams",
          shown,
          connection.getServerInfo().getVersion(),
          DurationText.format(transport.retryHorizon()),
          DurationText.format(transport.duplicateWindow()));
      return transport;
    }
  }
}
