package dev.courier.rabbitmq;

import com.rabbitmq.client.BlockedListener;
import com.rabbitmq.client.Connection;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publishing side of a {@link RabbitMqTransport}: one connection and one confirm channel,
 * opened on first use and opened again after either closed, the exchanges declared on that
 * connection, and whether the broker blocks publishers on it (a memory or disk alarm).
 *
 * <p>Thread-safe. One lock guards the connection and the channel: a batch holds it while it sends
 * (so that batches do not interleave on the channel), and declarations take it too. Confirms are
 * awaited without it.
 */
final class PublishConnection {
  private static final Logger log = LoggerFactory.getLogger(PublishConnection.class);

  private final ConnectionSettings settings;
  private final boolean confirms;
  private final boolean declareExchanges;
  private final ReentrantLock lock = new ReentrantLock();
  private final Set<String> declaredExchanges = ConcurrentHashMap.newKeySet();
  private Connection connection; // guarded by lock
  private ConfirmChannel channel; // guarded by lock
  private volatile String blockedReason;
  private volatile boolean closed;

  /**
   * @param confirms whether the channel is in confirm mode
   * @param declareExchanges whether {@link #ensureExchange} declares a destination's exchange
   */
  PublishConnection(ConnectionSettings settings, boolean confirms, boolean declareExchanges) {
    this.settings = settings;
    this.confirms = confirms;
    this.declareExchanges = declareExchanges;
  }

  void lock() {
    lock.lock();
  }

  void unlock() {
    lock.unlock();
  }

  /** Why the broker blocks publishers on this connection, or {@code null} when it does not. */
  String blockedReason() {
    return blockedReason;
  }

  /** The open confirm channel, opening a connection and a channel when needed. Hold the lock. */
  ConfirmChannel channel() throws IOException, TimeoutException {
    ConfirmChannel ch = channel;
    if (ch != null && ch.isOpen()) {
      return ch;
    }
    if (ch != null) {
      log.warn(
          "the publishing channel closed ({}); opening a new one. Events it had not confirmed were"
              + " reported as retriable failures",
          AmqpErrors.describe(ch.closeReason()));
      channel = null;
    }
    ch = new ConfirmChannel(connection(), confirms);
    channel = ch;
    return ch;
  }

  /** The open publishing connection, opened when needed. Hold the lock. */
  private Connection connection() throws IOException, TimeoutException {
    Connection c = connection;
    if (c != null && c.isOpen()) {
      return c;
    }
    if (c != null) {
      log.warn(
          "the publishing connection to {} closed ({}); reconnecting",
          settings.describe(),
          AmqpErrors.describe(c.getCloseReason()));
      connection = null;
    }
    c = settings.open("publisher");
    declaredExchanges.clear();
    blockedReason = null;
    c.addBlockedListener(
        new BlockedListener() {
          @Override
          public void handleBlocked(String reason) {
            blockedReason = reason;
            log.warn("RabbitMQ blocks publishing on {}: {}", settings.describe(), reason);
          }

          @Override
          public void handleUnblocked() {
            blockedReason = null;
            log.info("RabbitMQ unblocked publishing on {}", settings.describe());
          }
        });
    connection = c;
    log.info("connected to RabbitMQ at {} for publishing", settings.describe());
    return c;
  }

  /**
   * Declares a destination's exchange once per connection, when declaring is on. Hold the lock.
   *
   * @return why it could not, or {@code null}
   */
  String ensureExchange(String destination) {
    if (!declareExchanges
        || destination.startsWith("amq.")
        || declaredExchanges.contains(destination)) {
      return null;
    }
    try {
      Topology.declareOn(connection(), ch -> Topology.declareExchange(ch, destination));
      declaredExchanges.add(destination);
      return null;
    } catch (IOException | TimeoutException | RuntimeException e) {
      if (AmqpErrors.replyCode(e) == AmqpErrors.PRECONDITION_FAILED) {
        // It exists with other settings (another type, not durable): publish to it as it is.
        log.warn(
            "exchange '{}' exists with settings other than Courier declares ({}); publishing to it"
                + " as it is",
            destination,
            AmqpErrors.describe(e));
        declaredExchanges.add(destination);
        return null;
      }
      return "cannot declare exchange '" + destination + "': " + AmqpErrors.describe(e);
    }
  }

  /**
   * Runs a declaration on a short-lived channel of the publishing connection (a refused declaration
   * closes its channel, never the confirm channel), then counts {@code exchange} as declared.
   *
   * @param what what is declared, for messages
   * @throws dev.courier.ConfigurationException if the broker refuses it
   * @throws dev.courier.RetriableCourierException if the broker cannot be reached
   * @throws IllegalStateException if the transport is closed
   */
  void declare(String exchange, Topology.Declaration declaration, String what) {
    lock.lock();
    try {
      if (closed) {
        throw new IllegalStateException("the rabbitmq transport is closed");
      }
      Topology.declareOn(connection(), declaration);
    } catch (IOException | TimeoutException | RuntimeException e) {
      throw Topology.declarationFailure(what, e);
    } finally {
      lock.unlock();
    }
    declaredExchanges.add(exchange);
  }

  /** Closes the channel and the connection; publishes still waiting fail as retriable. */
  void close() {
    lock.lock();
    try {
      closed = true;
      if (channel != null) {
        channel.close();
        channel = null;
      }
      if (connection != null) {
        try {
          connection.close(5_000);
        } catch (IOException | RuntimeException e) {
          connection.abort(1_000);
        }
        connection = null;
      }
    } finally {
      lock.unlock();
    }
  }
}
