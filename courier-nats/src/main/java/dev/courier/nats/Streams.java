package dev.courier.nats;

import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.RetriableCourierException;
import dev.courier.UnsafeConfigurationException;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import io.nats.client.impl.Headers;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The streams a {@link JetStreamTransport} publishes to: which stream captures each destination,
 * creating it or checking an existing one (it must capture the subject, and its duplicate window
 * must cover the retry horizon), and how large a message it takes. Each destination is resolved
 * once and remembered; see {@link JetStreamTransport} for the rules.
 *
 * <p>Thread-safe: resolving and raising the horizon are serialised by one lock.
 */
final class Streams {
  private static final Logger log = LoggerFactory.getLogger(JetStreamTransport.class);

  /** Stream names: letters, digits, {@code _} and {@code -}. */
  static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{1,255}");

  private static final int API_STREAM_NOT_FOUND = 10059;
  private static final int API_STREAM_NAME_IN_USE = 10058;

  /**
   * Where a destination's messages go and how large they may be.
   *
   * @param stream the stream that captures the destination
   * @param maxBytes the largest message (data plus headers) the server and the stream accept
   * @param limit how {@code maxBytes} came about, for messages
   * @param window the stream's duplicate window
   */
  record Target(String stream, long maxBytes, String limit, Duration window) {

    /** Why the message for {@code event} is too large for this target, or {@code null}. */
    String sizeProblem(Event event, Headers headers) {
      long headerBytes = headers.serializedLength();
      long size = headerBytes + event.payloadSize();
      if (size <= maxBytes) {
        return null;
      }
      return "cannot publish to NATS: the message is "
          + size
          + " bytes (payload "
          + event.payloadSize()
          + ", headers "
          + headerBytes
          + "), over "
          + limit;
    }
  }

  private final String servers;
  private final Connection connection;
  private final JetStreamManagement management;
  private final Map<String, String> explicitStreams;
  private final UnaryOperator<String> streamNaming;
  private final boolean createStreams;
  private final StorageType storage;
  private final int replicas;
  private final Duration explicitWindow;
  private final boolean allowShortWindow;
  private volatile Duration retryHorizon;
  private final ReentrantLock streamLock = new ReentrantLock();
  private final Map<String, Target> targets = new ConcurrentHashMap<>();
  private volatile boolean closed;

  Streams(JetStreamTransport.Builder b, String servers, Connection connection) throws IOException {
    this.servers = servers;
    this.connection = connection;
    this.management = connection.jetStreamManagement();
    this.explicitStreams = Map.copyOf(b.streams);
    this.streamNaming = b.streamNaming;
    this.createStreams = b.createStreams;
    this.storage = b.storage;
    this.replicas = b.replicas;
    this.explicitWindow = b.duplicateWindow;
    this.allowShortWindow = b.allowShortWindow;
    this.retryHorizon = b.retryHorizon;
  }

  /**
   * Checks a builder's stream settings.
   *
   * @throws ConfigurationException naming the setting and the rule it breaks
   */
  static void check(JetStreamTransport.Builder b) {
    if (b.retryHorizon == null || b.retryHorizon.isNegative()) {
      throw new ConfigurationException(
          "retryHorizon", "must be zero or positive, was " + b.retryHorizon);
    }
    if (b.duplicateWindow != null && b.duplicateWindow.compareTo(Duration.ofMillis(100)) < 0) {
      throw new ConfigurationException(
          "duplicateWindow", "must be at least 100ms, was " + b.duplicateWindow);
    }
    if (b.replicas < 1 || b.replicas > 5) {
      throw new ConfigurationException("replicas", "must be between 1 and 5, was " + b.replicas);
    }
    for (Map.Entry<String, String> e : b.streams.entrySet()) {
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
  }

  /** See {@link JetStreamTransport#retryHorizon()}. */
  Duration retryHorizon() {
    return retryHorizon;
  }

  /** See {@link JetStreamTransport#duplicateWindow()}. */
  Duration duplicateWindow() {
    return window(explicitWindow, retryHorizon);
  }

  /**
   * The duplicate window of a created stream: {@code explicit} if set, else the retry horizon plus
   * {@link JetStreamTransport#DUPLICATE_WINDOW_SLACK}, at least the server's default.
   */
  static Duration window(Duration explicit, Duration retryHorizon) {
    if (explicit != null) {
      return explicit;
    }
    Duration d = retryHorizon.plus(JetStreamTransport.DUPLICATE_WINDOW_SLACK);
    return d.compareTo(JetStreamTransport.NATS_DEFAULT_DUPLICATE_WINDOW) < 0
        ? JetStreamTransport.NATS_DEFAULT_DUPLICATE_WINDOW
        : d;
  }

  /**
   * Raises the retry horizon to {@code relayHorizon} if that is longer, and checks the window of
   * every stream resolved so far against it.
   *
   * @throws UnsafeConfigurationException for a window shorter than the horizon, unless allowed
   */
  void raiseRetryHorizon(Duration relayHorizon) {
    streamLock.lock();
    try {
      if (relayHorizon.compareTo(retryHorizon) > 0) {
        log.info(
            "nats transport: retry horizon raised from {} to the relay's {}",
            DurationText.format(retryHorizon),
            DurationText.format(relayHorizon));
        retryHorizon = relayHorizon;
      }
      for (Target known : targets.values()) {
        checkWindow(known.stream(), known.window());
      }
    } finally {
      streamLock.unlock();
    }
  }

  /** See {@link JetStreamTransport#streamName(String)}. */
  String streamName(String destination) {
    String explicit = explicitStreams.get(destination);
    return explicit != null ? explicit : streamNaming.apply(destination);
  }

  /** Forgets a destination's target, so that the next publish resolves it again. */
  void forget(String destination) {
    targets.remove(destination);
  }

  /** Refuses to resolve anything more. */
  void close() {
    closed = true;
  }

  /**
   * The target of {@code destination}, resolved on first use: its stream created if it is missing
   * (and creating is on), or validated.
   *
   * @throws UnsafeConfigurationException if the stream's duplicate window is shorter than the retry
   *     horizon and that was not allowed
   * @throws ConfigurationException if the destination cannot be used
   * @throws RetriableCourierException if the server could not be asked
   */
  Target target(String destination) {
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
              ? JetStreamTransport.NATS_DEFAULT_DUPLICATE_WINDOW
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
    Duration window =
        configured == null ? JetStreamTransport.NATS_DEFAULT_DUPLICATE_WINDOW : configured;
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
            + DurationText.format(retryHorizon.plus(JetStreamTransport.DUPLICATE_WINDOW_SLACK))
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
}
