package dev.courier.relay;

import dev.courier.jdbc.CourierTables;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cross-process wake-up hints over PostgreSQL {@code LISTEN/NOTIFY}, so a relay in another process
 * publishes a new event within milliseconds instead of at its next poll.
 *
 * <p>Why not a NOTIFY in the writer's transaction: PostgreSQL takes a cluster-wide lock from a
 * notifying transaction's pre-commit until its commit is flushed, so one NOTIFY per outbox insert
 * serialises every notifying writer at roughly the fsync rate. Instead, the {@link Notifier} sends
 * at most one NOTIFY per interval, on its own connection and in its own tiny transaction, after the
 * writer's append. A hint may arrive before the writer commits; the relay then keeps polling at
 * short, doubling intervals, so the commit is still seen promptly. Hints are an optimisation only:
 * a relay that misses one finds the rows at its next poll.
 */
public final class PgWakeups {
  private static final Logger log = LoggerFactory.getLogger(PgWakeups.class);

  /** The default channel name. */
  public static final String DEFAULT_CHANNEL = "courier_outbox";

  private PgWakeups() {}

  /**
   * A writer-side, rate-limited notifier. Register it with {@code Outbox.Builder.onAppend(notifier)};
   * close it on shutdown.
   */
  public static Notifier notifier(DataSource dataSource, String channel, Duration minInterval) {
    return new Notifier(dataSource, CourierTables.validate("channel", channel), minInterval);
  }

  /** A relay-side listener that calls {@link Relay#wakeup()} on every hint; close it on shutdown. */
  public static Listener listen(DataSource dataSource, String channel, Relay relay) {
    return new Listener(dataSource, CourierTables.validate("channel", channel), relay);
  }

  /** Sends at most one NOTIFY per interval after appends; thread-safe. */
  public static final class Notifier implements Runnable, AutoCloseable {
    private final DataSource dataSource;
    private final String channel;
    private final Duration minInterval;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition pendingChanged = lock.newCondition();
    private boolean pending;
    private volatile boolean closed;
    private final Thread sender;

    private Notifier(DataSource dataSource, String channel, Duration minInterval) {
      this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
      this.channel = channel;
      this.minInterval = Objects.requireNonNull(minInterval, "minInterval");
      this.sender = Thread.ofVirtual().name("courier-notify-" + channel).start(this::sendLoop);
    }

    /** Records that something was appended; returns at once. */
    @Override
    public void run() {
      lock.lock();
      try {
        pending = true;
        pendingChanged.signalAll();
      } finally {
        lock.unlock();
      }
    }

    private void sendLoop() {
      while (!closed) {
        lock.lock();
        try {
          while (!pending && !closed) {
            pendingChanged.awaitUninterruptibly();
          }
          pending = false;
        } finally {
          lock.unlock();
        }
        if (closed) {
          return;
        }
        try (Connection c = dataSource.getConnection();
            PreparedStatement ps = c.prepareStatement("SELECT pg_notify(?, '')")) {
          c.setAutoCommit(true);
          ps.setString(1, channel);
          ps.execute();
        } catch (SQLException e) {
          log.debug("wake-up notification not sent (relays will poll): {}", e.toString());
        }
        try {
          Thread.sleep(minInterval);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    @Override
    public void close() {
      closed = true;
      run();
      sender.interrupt();
    }
  }

  /** Listens on its own connection and wakes the relay; reconnects with backoff. */
  public static final class Listener implements AutoCloseable {
    private final DataSource dataSource;
    private final String channel;
    private final Relay relay;
    private volatile boolean closed;
    private final Thread thread;

    private Listener(DataSource dataSource, String channel, Relay relay) {
      this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
      this.channel = channel;
      this.relay = Objects.requireNonNull(relay, "relay");
      this.thread = Thread.ofPlatform().daemon(true).name("courier-listen-" + channel).start(this::listenLoop);
    }

    private void listenLoop() {
      long backoffMs = 100;
      while (!closed) {
        try (Connection c = dataSource.getConnection()) {
          c.setAutoCommit(true);
          PGConnection pg = c.unwrap(PGConnection.class);
          try (Statement s = c.createStatement()) {
            s.execute("LISTEN " + channel);
          }
          backoffMs = 100;
          // After (re)connecting, a hint may have been missed: look once.
          relay.wakeup();
          while (!closed) {
            PGNotification[] notes = pg.getNotifications(500);
            if (notes != null && notes.length > 0) {
              relay.wakeup();
            }
          }
        } catch (SQLException e) {
          if (closed) {
            return;
          }
          log.warn("wake-up listener lost its connection, reconnecting in {} ms: {}", backoffMs, e.toString());
          try {
            Thread.sleep(backoffMs);
          } catch (InterruptedException ie) {
            return;
          }
          backoffMs = Math.min(backoffMs * 2, 10_000);
        }
      }
    }

    @Override
    public void close() {
      closed = true;
      thread.interrupt();
      try {
        thread.join(2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
