package dev.courier.nats;

import dev.courier.metrics.CourierMetrics;
import dev.courier.ConfigurationException;
import dev.courier.CourierException;
import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.RetriableCourierException;
import dev.courier.UnsafeConfigurationException;
import dev.courier.inbox.DeliveryPipeline;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.EventLog;
import dev.courier.internal.Threads;
import dev.courier.relay.Relay;
import dev.courier.retry.RetryPolicy;
import dev.courier.spi.PublishResult;
import dev.courier.spi.Subscription;
import dev.courier.spi.SubscriptionSpec;
import dev.courier.spi.Transport;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.nats.client.AuthenticationException;
import io.nats.client.Connection;
import io.nats.client.ConnectionListener;
import io.nats.client.ErrorListener;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.PublishOptions;
import io.nats.client.api.PublishAck;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import io.nats.client.impl.Headers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes events to NATS JetStream and consumes them with durable pull consumers that acknowledge
 * only after the outcome is committed.
 *
 * <p><b>Messages.</b> Subject = {@link Event#destination()}; data = the payload; headers = {@code
 * Nats-Msg-Id} set to the event id (with {@code @} and the replay id for a replayed event, so that
 * the duplicate window does not swallow a replay; see {@link NatsMessages#messageId}), the headers of {@link NatsHeaders}, and every application
 * header (values that are not printable ASCII travel as encoded words, see {@link NatsHeaders}).
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
 * for every PubAck up to the timeout. A PubAck is {@link PublishResult.Confirmed}; one marked as a
 * duplicate (the stream already holds a message with that {@code Nats-Msg-Id} inside its window) is
 * confirmed with {@code brokerDuplicate = true}, counted in {@value #BROKER_DEDUPE_HITS} and logged
 * with the event id. No PubAck by the deadline, a server error, or no stream for the subject is a
 * retriable failure. Failures that retrying cannot fix are non-retriable, and the relay parks the
 * event at once: a subject that cannot be published to (empty, wildcard, starting with {@code $}),
 * an application header NATS cannot carry or that uses a reserved prefix ({@code courier-}, {@code
 * Nats-}), and a message larger than the server's {@code max_payload} or the stream's {@code
 * max_msg_size} (the message names its size and the limit). Each publish names the stream it
 * expects ({@code Nats-Expected-Stream}), so a subject captured by some other stream is refused
 * instead of stored where no Courier consumer looks.
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

  private static final int API_STREAM_NOT_FOUND = 10059;
  private static final int API_STREAM_NAME_IN_USE = 10058;
  private static final int API_MESSAGE_TOO_LARGE = 10054;
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,255}");

  private final Supplier<Options> options;
  private final String servers;
  private final Connection connection;
  private final JetStream jetStream;
  private final JetStreamManagement management;
  private final Map<String, String> explicitStreams;
  private final UnaryOperator<String> streamNaming;
  private final boolean createStreams;
  private final StorageType storage;
  private final int replicas;
  private final Duration explicitWindow;
  private volatile Duration retryHorizon;
  private final boolean allowShortWindow;
  private final MeterRegistry registry;
  private final Clock clock;
  private final ThreadFactory threadFactory;

  private final ReentrantLock streamLock = new ReentrantLock();
  private final Map<String, Target> targets = new ConcurrentHashMap<>();
  private final Map<String, Counter> dedupeCounters = new ConcurrentHashMap<>();
  private final AtomicLong dedupeHits = new AtomicLong();
  private final Set<PullSubscription> subscriptions = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  /**
   * Where a destination's messages go and how large they may be.
   *
   * @param stream the stream that captures the destination
   * @param maxBytes the largest message (data plus headers) the server and the stream accept
   * @param limit how {@code maxBytes} came about, for messages
   * @param window the stream's duplicate window
   */
  private record Target(String stream, long maxBytes, String limit, Duration window) {}

  private JetStreamTransport(Builder b, Supplier<Options> options, Connection connection)
      throws IOException {
    this.options = options;
    this.servers = b.serversForLogs();
    this.connection = connection;
    this.jetStream = connection.jetStream();
    this.management = connection.jetStreamManagement();
    this.explicitStreams = Map.copyOf(b.streams);
    this.streamNaming = b.streamNaming;
    this.createStreams = b.createStreams;
    this.storage = b.storage;
    this.replicas = b.replicas;
    this.retryHorizon = b.retryHorizon;
    this.explicitWindow = b.duplicateWindow;
    this.allowShortWindow = b.allowShortWindow;
    this.registry = b.registry;
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
    return dedupeHits.get();
  }

  /**
   * The retry horizon every stream's duplicate window is checked against: the builder's, or a
   * longer one a relay asked for ({@link #checkRetryHorizon}).
   */
  public Duration retryHorizon() {
    return retryHorizon;
  }

  /**
   * The duplicate window given to the streams this transport creates: the builder's, or else the
   * retry horizon plus {@link #DUPLICATE_WINDOW_SLACK}, at least {@link
   * #NATS_DEFAULT_DUPLICATE_WINDOW}.
   */
  public Duration duplicateWindow() {
    return Builder.window(explicitWindow, retryHorizon);
  }

  /**
   * Holds every stream to a relay's retry horizon: raises this transport's horizon to {@code
   * relayHorizon} if that is longer (streams created from then on get a window to match, unless
   * the builder set one), then checks the stream of each destination already used or given here,
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
    streamLock.lock();
    try {
      if (relayHorizon.compareTo(retryHorizon) > 0) {
        log.info(
            "nats transport: retry horizon raised from {} to the relay's {}",
            DurationText.format(retryHorizon),
            DurationText.format(relayHorizon));
        retryHorizon = relayHorizon;
      }
      for (Map.Entry<String, Target> known : targets.entrySet()) {
        checkWindow(known.getValue().stream(), known.getValue().window());
      }
    } finally {
      streamLock.unlock();
    }
    for (String d : destinations) {
      ensureStream(d);
    }
  }

  /** The stream that captures (or will capture) {@code destination}, by mapping or naming rule. */
  public String streamName(String destination) {
    String explicit = explicitStreams.get(destination);
    return explicit != null ? explicit : streamNaming.apply(destination);
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
    return target(destination).stream();
  }

  private Target target(String destination) {
    Target t = targets.get(destination);
    if (t != null) {
      return t;
    }
    streamLock.lock();
    try {
      t = targets.get(destination);
      if (t == null) {
        t = resolve(destination);
        targets.put(destination, t);
      }
      return t;
    } finally {
      streamLock.unlock();
    }
  }

  private Target resolve(String destination) {
    if (closed) {
      throw new IllegalStateException("the nats transport is closed");
    }
    String problem = NatsMessages.subjectProblem(destination);
    if (problem != null) {
      throw new ConfigurationException("destination", problem);
    }
    String stream = streamName(destination);
    if (stream == null || !NAME.matcher(stream).matches()) {
      throw new ConfigurationException(
          "streamNaming",
          "the stream name '"
              + (stream == null ? "null" : NatsMessages.printable(stream))
              + "' for subject "
              + destination
              + " is not allowed: 1 to 255 letters, digits, '_' or '-'");
    }
    try {
      StreamInfo info = existing(stream);
      if (info == null) {
        if (!createStreams) {
          throw new ConfigurationException(
              "stream",
              "stream "
                  + stream
                  + " for subject "
                  + destination
                  + " does not exist, and createStreams is off");
        }
        info = create(stream, destination);
      }
      StreamConfiguration cfg = info.getConfiguration();
      if (!captures(cfg.getSubjects(), destination)) {
        throw new ConfigurationException(
            "stream",
            "stream "
                + stream
                + " exists but does not capture subject "
                + destination
                + " (its subjects: "
                + cfg.getSubjects()
                + "); map the destination to another stream with"
                + " JetStreamTransport.Builder.stream(destination, stream)");
      }
      Duration window =
          cfg.getDuplicateWindow() == null
              ? NATS_DEFAULT_DUPLICATE_WINDOW
              : cfg.getDuplicateWindow();
      checkWindow(stream, window);
      if (cfg.getStorageType() == StorageType.Memory) {
        log.warn(
            "stream {} keeps its messages in memory: a server restart loses every message that no"
                + " consumer has acknowledged",
            stream);
      }
      long serverMax = connection.getMaxPayload();
      long streamMax = cfg.getMaximumMessageSize();
      if (streamMax > 0 && streamMax < serverMax) {
        return new Target(
            stream, streamMax, "the stream's max_msg_size of " + streamMax + " bytes", window);
      }
      return new Target(
          stream, serverMax, "the server's max_payload of " + serverMax + " bytes", window);
    } catch (IOException e) {
      throw new RetriableCourierException(
          "could not read or create stream "
              + stream
              + " on NATS at "
              + servers
              + ": "
              + e.getMessage(),
          null,
          destination,
          e);
    }
  }

  private StreamInfo existing(String stream) throws IOException {
    try {
      return management.getStreamInfo(stream);
    } catch (JetStreamApiException e) {
      if (e.getApiErrorCode() == API_STREAM_NOT_FOUND) {
        return null;
      }
      throw refused("stream " + stream + " could not be read", e);
    }
  }

  private StreamInfo create(String stream, String destination) throws IOException {
    Duration duplicateWindow = duplicateWindow();
    checkWindow(stream, duplicateWindow);
    StreamConfiguration cfg =
        StreamConfiguration.builder()
            .name(stream)
            .subjects(destination)
            .storageType(storage)
            .replicas(replicas)
            .duplicateWindow(duplicateWindow)
            .description("Courier events on " + destination)
            .build();
    try {
      StreamInfo info = management.addStream(cfg);
      log.info(
          "created stream {} for subject {}: storage={}, replicas={}, duplicate_window={}",
          stream,
          destination,
          storage,
          replicas,
          DurationText.format(duplicateWindow));
      return info;
    } catch (JetStreamApiException e) {
      if (e.getApiErrorCode() == API_STREAM_NAME_IN_USE) {
        StreamInfo raced = existing(stream); // created meanwhile by another process
        if (raced != null) {
          return raced;
        }
      }
      throw refused(
          "the server refused to create stream "
              + stream
              + " for subject "
              + destination
              + " (is the subject captured by another stream?)",
          e);
    }
  }

  private static ConfigurationException refused(String what, JetStreamApiException e) {
    return new ConfigurationException(
        "stream",
        what + ": " + e.getErrorDescription() + " (api error " + e.getApiErrorCode() + ")");
  }

  private void checkWindow(String stream, Duration configured) {
    // A stream that reports no window has the server's default one.
    Duration window = configured == null ? NATS_DEFAULT_DUPLICATE_WINDOW : configured;
    Duration retryHorizon = this.retryHorizon;
    if (window.compareTo(retryHorizon) >= 0) {
      return;
    }
    String risk =
        "duplicate_window "
            + DurationText.format(window)
            + " is shorter than the relay's retry horizon "
            + DurationText.format(retryHorizon)
            + "; a republish after the window is stored twice (stream "
            + stream
            + "). Consumers still apply it once through the processed-events ledger. Raise the"
            + " stream's duplicate window (nats stream edit "
            + stream
            + " --dupe-window "
            + DurationText.format(retryHorizon.plus(DUPLICATE_WINDOW_SLACK))
            + ") or shorten the relay's retries.";
    if (!allowShortWindow) {
      throw new UnsafeConfigurationException(
          "duplicate_window",
          risk,
          "JetStreamTransport.Builder.allowDuplicateWindowShorterThanRetryHorizon()");
    }
    log.warn("accepted explicitly: {}", risk);
  }

  /** Whether a stream's subject list captures {@code subject}, wildcards included. */
  static boolean captures(List<String> patterns, String subject) {
    String[] tokens = subject.split("\\.", -1);
    for (String pattern : patterns) {
      String[] p = pattern.split("\\.", -1);
      boolean match = true;
      for (int i = 0; i < p.length && match; i++) {
        if (p[i].equals(">")) {
          match = tokens.length > i;
          break;
        }
        match = i < tokens.length && (p[i].equals("*") || p[i].equals(tokens[i]));
        if (match && i == p.length - 1) {
          match = tokens.length == p.length;
        }
      }
      if (match) {
        return true;
      }
    }
    return false;
  }

  /**
   * Publishes a batch and waits for the PubAck of each message; see the class description.
   *
   * @return one result per event, in the batch's order
   * @throws IllegalStateException if the transport is closed
   */
  @Override
  public List<PublishResult> publish(List<Event> batch, Duration timeout) {
    Objects.requireNonNull(batch, "batch");
    Objects.requireNonNull(timeout, "timeout");
    if (closed) {
      throw new IllegalStateException("the nats transport is closed");
    }
    int n = batch.size();
    PublishResult[] results = new PublishResult[n];
    List<CompletableFuture<PublishAck>> futures = new ArrayList<>(n);
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int i = 0; i < n; i++) {
      Event e = batch.get(i);
      futures.add(null);
      String invalid = problem(e);
      if (invalid != null) {
        results[i] =
            new PublishResult.Failed(
                e.id(), new InvalidEventException(invalid, e.id(), e.destination()), false);
        continue;
      }
      Target target;
      try {
        target = target(e.destination());
      } catch (CourierException ex) {
        // A property of the deployment, not of the event: an operator can fix it while the relay
        // backs off, and the relay's policy still parks the event if it persists.
        results[i] = new PublishResult.Failed(e.id(), ex, true);
        continue;
      }
      Headers headers = NatsMessages.headers(e);
      long headerBytes = headers.serializedLength();
      long size = headerBytes + e.payloadSize();
      if (size > target.maxBytes()) {
        results[i] =
            new PublishResult.Failed(
                e.id(),
                new InvalidEventException(
                    "cannot publish to NATS: the message is "
                        + size
                        + " bytes (payload "
                        + e.payloadSize()
                        + ", headers "
                        + headerBytes
                        + "), over "
                        + target.limit(),
                    e.id(),
                    e.destination()),
                false);
        continue;
      }
      long remaining = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
      PublishOptions po =
          PublishOptions.builder()
              .messageId(NatsMessages.messageId(e))
              .expectedStream(target.stream())
              .streamTimeout(Duration.ofMillis(remaining))
              .build();
      try {
        futures.set(i, jetStream.publishAsync(e.destination(), headers, e.payload(), po));
      } catch (IllegalArgumentException ex) {
        results[i] =
            new PublishResult.Failed(e.id(), ex, false); // the client refused the message itself
      } catch (RuntimeException ex) {
        results[i] = retriable(e, "not sent: " + ex.getMessage(), ex);
      }
    }
    for (int i = 0; i < n; i++) {
      CompletableFuture<PublishAck> f = futures.get(i);
      if (f == null) {
        continue;
      }
      Event e = batch.get(i);
      long remaining = Math.max(0, deadline - System.nanoTime());
      try {
        PublishAck ack = f.get(remaining, TimeUnit.NANOSECONDS);
        String position = ack.getStream() + "@" + ack.getSeqno();
        if (ack.isDuplicate()) {
          countDuplicate(e, position);
        }
        results[i] = new PublishResult.Confirmed(e.id(), position, ack.isDuplicate());
      } catch (ExecutionException ex) {
        results[i] = failure(e, ex.getCause() != null ? ex.getCause() : ex);
      } catch (TimeoutException | CancellationException ex) {
        results[i] =
            retriable(
                e,
                "no PubAck from the server within "
                    + timeout
                    + "; the message may still be stored, and publishing it again is safe: the"
                    + " stream's duplicate window and the consumers' ledger deduplicate it",
                ex);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        for (int j = i; j < n; j++) {
          if (futures.get(j) != null) {
            results[j] =
                retriable(batch.get(j), "no PubAck: the publishing thread was interrupted", ex);
          }
        }
        break;
      }
    }
    return Arrays.asList(results);
  }

  private PublishResult.Failed failure(Event e, Throwable cause) {
    for (Throwable c = cause; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof JetStreamApiException api
          && api.getApiErrorCode() == API_MESSAGE_TOO_LARGE) {
        return new PublishResult.Failed(
            e.id(),
            new InvalidEventException(
                "cannot publish to NATS: the stream refused the message as too large ("
                    + api.getErrorDescription()
                    + "); payload "
                    + e.payloadSize()
                    + " bytes",
                e.id(),
                e.destination(),
                api),
            false);
      }
      if (c instanceof IllegalArgumentException) {
        return new PublishResult.Failed(e.id(), c, false);
      }
      String m = c.getMessage();
      if (m != null && m.contains("503")) {
        // No responders: no stream captures the subject (deleted?). Look again on the next try.
        targets.remove(e.destination());
      }
    }
    return new PublishResult.Failed(
        e.id(),
        new RetriableCourierException(
            "the server did not store the message: " + cause.getMessage(),
            e.id(),
            e.destination(),
            cause),
        true);
  }

  @SuppressWarnings("try") // the EventLog scope is used for its MDC side effect
  private void countDuplicate(Event e, String position) {
    dedupeHits.incrementAndGet();
    dedupeCounters
        .computeIfAbsent(
            e.destination(),
            d ->
                Counter.builder(BROKER_DEDUPE_HITS)
                    .description(
                        "Published events the broker recognised as duplicates inside its dedupe"
                            + " window")
                    .baseUnit("events")
                    .tag("transport", name())
                    .tag("destination", d)
                    .register(registry))
        .increment();
    try (EventLog ignored = EventLog.of(e)) {
      log.info(
          "JetStream deduplicated the publish: the stream already holds the event ({})", position);
    }
  }

  private static PublishResult.Failed retriable(Event e, String message, Throwable cause) {
    return new PublishResult.Failed(
        e.id(), new RetriableCourierException(message, e.id(), e.destination(), cause), true);
  }

  /** Why this event cannot be published however often it is tried, or {@code null}. */
  private static String problem(Event e) {
    String subject = NatsMessages.subjectProblem(e.destination());
    if (subject != null) {
      return "cannot publish to NATS: " + subject;
    }
    String header = NatsMessages.headerNameProblem(e);
    if (header != null) {
      return "cannot publish to NATS: " + header;
    }
    return null;
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
    if (closed) {
      throw new IllegalStateException("the nats transport is closed");
    }
    boolean backoffSupported =
        connection.getServerInfo().isSameOrNewerThanVersion(BACKOFF_MIN_SERVER);
    ConsumerSettings settings = ConsumerSettings.from(spec, processor, backoffSupported);
    String stream = ensureStream(spec.destination());
    // Each connection gets Options of its own: the client shuts down a connection's internal
    // executors when it closes, and Options shared with another connection would share them.
    Connection own = connect(options.get(), servers);
    try {
      PullSubscription s =
          PullSubscription.start(
              own, stream, spec, processor, settings, clock, threadFactory, servers, subscriptions::remove);
      subscriptions.add(s);
      return s;
    } catch (RuntimeException e) {
      closeQuietly(own);
      throw e;
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
    closeQuietly(connection);
  }

  @Override
  public String toString() {
    return "JetStreamTransport[servers=" + servers + "]";
  }

  static void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.debug("closing a nats connection failed: {}", e.toString());
    }
  }

  static Connection connect(Options options, String servers) {
    try {
      return Nats.connect(options);
    } catch (AuthenticationException e) {
      throw new ConfigurationException(
          "credentials",
          "the NATS server at "
              + servers
              + " refused the credentials ("
              + e.getClass().getSimpleName()
              + ")");
    } catch (IOException e) {
      throw new RetriableCourierException(
          "could not connect to NATS at " + servers + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RetriableCourierException("interrupted while connecting to NATS at " + servers, e);
    }
  }

  /** Server URLs with any user information replaced, safe to log. */
  static String redact(List<String> urls) {
    List<String> out = new ArrayList<>(urls.size());
    for (String u : urls) {
      int scheme = u.indexOf("://");
      int start = scheme < 0 ? 0 : scheme + 3;
      int at = u.indexOf('@', start);
      out.add(at < 0 ? u : u.substring(0, start) + "***" + u.substring(at));
    }
    return String.join(",", out);
  }

  /**
   * Builds a {@link JetStreamTransport}. Defaults: file storage, 1 replica, streams created when
   * missing, retry horizon that of a relay at its defaults ({@link Relay#defaultRetryHorizon()}), a
   * duplicate window of the retry horizon plus {@link #DUPLICATE_WINDOW_SLACK} and at least {@link
   * #NATS_DEFAULT_DUPLICATE_WINDOW}, a connection timeout of 5 s, reconnecting forever.
   */
  public static final class Builder {
    private final List<String> urls = new ArrayList<>();
    private final Map<String, String> streams = new LinkedHashMap<>();
    private final Set<String> destinations = new LinkedHashSet<>();
    private UnaryOperator<String> streamNaming = JetStreamTransport::defaultStreamName;
    private boolean createStreams = true;
    private StorageType storage = StorageType.File;
    private int replicas = 1;
    private Duration duplicateWindow;
    private Duration retryHorizon = Relay.defaultRetryHorizon();
    private boolean allowShortWindow;
    private Duration connectionTimeout = Duration.ofSeconds(5);
    private String connectionName = "courier";
    private char[] token;
    private String user;
    private char[] password;
    private Path credentialsFile;
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
     * timeout and a poll interval per attempt ({@link dev.courier.relay.Relay#retryHorizon(RetryPolicy,
     * Duration, Duration)}), and the relay raises this transport's horizon to it when it starts: a
     * stream created before that, through another transport, should be given that full horizon
     * with {@link #retryHorizon(Duration)}, or the relay refuses it.
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

    private String serversForLogs() {
      return redact(urls);
    }

    private static Duration window(Duration explicit, Duration retryHorizon) {
      if (explicit != null) {
        return explicit;
      }
      Duration d = retryHorizon.plus(DUPLICATE_WINDOW_SLACK);
      return d.compareTo(NATS_DEFAULT_DUPLICATE_WINDOW) < 0 ? NATS_DEFAULT_DUPLICATE_WINDOW : d;
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
      if (urls.isEmpty()) {
        throw new ConfigurationException(
            "servers", "at least one NATS server URL is required, e.g. nats://127.0.0.1:4222");
      }
      if (retryHorizon == null || retryHorizon.isNegative()) {
        throw new ConfigurationException(
            "retryHorizon", "must be zero or positive, was " + retryHorizon);
      }
      if (duplicateWindow != null
          && (duplicateWindow.isNegative()
              || duplicateWindow.compareTo(Duration.ofMillis(100)) < 0)) {
        throw new ConfigurationException(
            "duplicateWindow", "must be at least 100ms, was " + duplicateWindow);
      }
      if (replicas < 1 || replicas > 5) {
        throw new ConfigurationException("replicas", "must be between 1 and 5, was " + replicas);
      }
      if (connectionTimeout == null
          || connectionTimeout.isNegative()
          || connectionTimeout.isZero()) {
        throw new ConfigurationException(
            "connectionTimeout", "must be positive, was " + connectionTimeout);
      }
      int auth =
          (token != null ? 1 : 0) + (user != null ? 1 : 0) + (credentialsFile != null ? 1 : 0);
      if (auth > 1) {
        throw new ConfigurationException(
            "credentials", "set at most one of token, userInfo and credentialsFile");
      }
      if (credentialsFile != null && !Files.isReadable(credentialsFile)) {
        throw new ConfigurationException(
            "credentialsFile", "is not a readable file: " + credentialsFile);
      }
      for (Map.Entry<String, String> e : streams.entrySet()) {
        if (!NAME.matcher(e.getValue()).matches()) {
          throw new ConfigurationException(
              "stream",
              "'"
                  + NatsMessages.printable(e.getValue())
                  + "' (for "
                  + e.getKey()
                  + ") is not a valid stream name: 1 to 255 letters, digits, '_' or '-'");
        }
      }
      String shown = serversForLogs();
      // A snapshot, so that changing this builder later changes no connection of the transport.
      List<String> servers = List.copyOf(urls);
      String name = connectionName;
      Duration timeout = connectionTimeout;
      char[] tokenCopy = token == null ? null : token.clone();
      String userCopy = user;
      char[] passwordCopy = password == null ? null : password.clone();
      Path credentials = credentialsFile;
      Supplier<Options> options =
          () ->
              options(
                  servers, name, timeout, tokenCopy, userCopy, passwordCopy, credentials, shown);
      Connection connection;
      try {
        connection = connect(options.get(), shown);
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
        closeQuietly(connection);
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
          DurationText.format(transport.retryHorizon),
          DurationText.format(transport.duplicateWindow()));
      return transport;
    }

    /** New client options for one connection. */
    private static Options options(
        List<String> urls,
        String connectionName,
        Duration connectionTimeout,
        char[] token,
        String user,
        char[] password,
        Path credentialsFile,
        String shown) {
      LoggingListener listener = new LoggingListener(shown);
      Options.Builder ob =
          new Options.Builder()
              .servers(urls.toArray(String[]::new))
              .connectionName(connectionName)
              .connectionTimeout(connectionTimeout)
              .maxReconnects(-1)
              .reconnectWait(Duration.ofMillis(500))
              .errorListener(listener)
              .connectionListener(listener);
      if (token != null) {
        ob.token(token.clone());
      } else if (user != null) {
        ob.userInfo(user.toCharArray(), password.clone());
      } else if (credentialsFile != null) {
        ob.credentialPath(credentialsFile.toString());
      }
      return ob.build();
    }
  }

  /** Connection events and client errors, logged through SLF4J without credentials. */
  static final class LoggingListener implements ErrorListener, ConnectionListener {
    private final String servers;
    private final AtomicBoolean down = new AtomicBoolean();

    LoggingListener(String servers) {
      this.servers = servers;
    }

    @Override
    @SuppressWarnings(
        "deprecation") // abstract in the client's interface; the client calls the other
    public void connectionEvent(Connection conn, Events type) {
      event(type);
    }

    @Override
    public void connectionEvent(Connection conn, Events type, Long time, String uriDetails) {
      event(type);
    }

    private void event(Events type) {
      switch (type) {
        case DISCONNECTED -> {
          // The client reports every failed reconnect attempt as a new disconnect: warn once.
          if (down.compareAndSet(false, true)) {
            log.warn("nats connection to {} lost; reconnecting", servers);
          }
        }
        case RECONNECTED -> {
          down.set(false);
          log.info("nats connection to {} re-established", servers);
        }
        default ->
            log.debug(
                "nats connection to {}: {}", servers, type.toString().toLowerCase(Locale.ROOT));
      }
    }

    @Override
    public void errorOccurred(Connection conn, String error) {
      log.warn("nats server at {} reported: {}", servers, error);
    }

    @Override
    public void exceptionOccurred(Connection conn, Exception exp) {
      log.debug("nats client error on connection to {}: {}", servers, exp.toString());
    }
  }
}
