package dev.courier.outbox;

import dev.courier.ConfigurationException;
import dev.courier.DatabaseUnavailableException;
import dev.courier.Event;
import dev.courier.FatalCourierException;
import dev.courier.InvalidEventException;
import dev.courier.StatementFailedException;
import dev.courier.TransactionConflictException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.EventLog;
import dev.courier.internal.HeadersJson;
import dev.courier.tracing.Tracing;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write side of the transactional outbox: appends events on the caller's JDBC connection,
 * inside the caller's transaction.
 *
 * <p><b>Guarantee.</b> The outbox never commits, never rolls back and never opens a connection of
 * its own. The event rows become visible exactly when the caller's transaction commits, together
 * with the caller's business rows, and vanish with them on rollback: there is no dual write. The
 * relay publishes what committed.
 *
 * <p>The connection must not be in auto-commit mode: an event appended in auto-commit mode would
 * commit on its own, apart from the business change, which is the very failure an outbox exists
 * to prevent. Such a call is refused with a {@link FatalCourierException}.
 *
 * <p>When the OpenTelemetry API is present and a span is current, its W3C trace context is stored
 * with each event ({@code traceparent}, {@code tracestate} headers, unless the caller set them), so
 * the consumer's span can link back to the writer's.
 *
 * <p>Instances are immutable after {@link Builder#build()} and thread-safe; share one per
 * application.
 */
public final class Outbox {
  private static final Logger log = LoggerFactory.getLogger(Outbox.class);

  /** Longest type, destination, key, correlation or causation id accepted, in characters. */
  public static final int MAX_NAME_LENGTH = 255;

  private final CourierTables tables;
  private final int maxPayloadBytes;
  private final Clock clock;
  private final List<Consumer<List<Event>>> appendListeners;
  private volatile Dialect dialect;

  private Outbox(Builder b) {
    this.tables = b.tables;
    this.maxPayloadBytes = b.maxPayloadBytes;
    this.clock = b.clock;
    this.appendListeners = new CopyOnWriteArrayList<>(b.appendListeners);
    this.dialect = b.dialect;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The table names this outbox writes to. */
  public CourierTables tables() {
    return tables;
  }

  /** The largest payload accepted, in bytes. */
  public int maxPayloadBytes() {
    return maxPayloadBytes;
  }

  /**
   * Appends one event in the caller's transaction.
   *
   * @return the event as stored, with its id and creation time
   * @throws InvalidEventException if the event is invalid; nothing is written
   * @throws FatalCourierException if the connection is in auto-commit mode
   * @throws InvalidEventException also when an event with the same id is already in the outbox
   * @throws DatabaseUnavailableException if the database could not be reached; the caller's
   *     transaction should be rolled back and may be run again once it is back
   * @throws TransactionConflictException if the caller's transaction lost to a concurrent one;
   *     roll it back and run it again
   * @throws StatementFailedException if the database refused the insert (for example the outbox
   *     table is missing); the caller's transaction should be rolled back
   */
  public Event append(Connection connection, Event.Builder event) {
    return appendAll(connection, List.of(event)).getFirst();
  }

  /**
   * Appends several events in the caller's transaction, in one JDBC batch. Either all are
   * validated and written or, on an invalid event, none is written. Throws what {@link #append}
   * throws, in the same cases.
   *
   * @return the events as stored, in the given order
   */
  public List<Event> appendAll(Connection connection, List<Event.Builder> events) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(events, "events");
    if (events.isEmpty()) {
      return List.of();
    }
    requireTransaction(connection);
    var now = clock.instant();
    List<Event> built = new ArrayList<>(events.size());
    Map<String, String> trace = Tracing.currentContextHeaders();
    for (Event.Builder b : events) {
      trace.forEach(b::headerIfAbsent);
      built.add(validate(b.build(now)));
    }
    Dialect d = dialect(connection);
    Timestamp ts = Timestamp.from(now);
    try (PreparedStatement ps = connection.prepareStatement(d.insertOutbox(tables))) {
      for (Event e : built) {
        ps.setObject(1, e.id());
        ps.setString(2, e.type());
        ps.setString(3, e.destination());
        setNullable(ps, 4, e.key());
        ps.setBytes(5, e.payload());
        ps.setString(6, HeadersJson.encode(e.headers()));
        setNullable(ps, 7, e.correlationId());
        setNullable(ps, 8, e.causationId());
        ps.setTimestamp(9, Timestamp.from(e.createdAt()));
        ps.setTimestamp(10, ts);
        ps.addBatch();
      }
      ps.executeBatch();
    } catch (SQLException e) {
      if ("23505".equals(e.getSQLState()) || isUniqueViolation(e)) {
        throw new InvalidEventException(
            "an event with this id is already in the outbox; event ids must be unique",
            built.size() == 1 ? built.getFirst().id() : null,
            built.size() == 1 ? built.getFirst().destination() : null,
            e);
      }
      throw DatabaseFailures.of(
          "could not append " + built.size() + " event(s) to " + tables.outbox(),
          built.size() == 1 ? built.getFirst().id() : null,
          built.size() == 1 ? built.getFirst().destination() : null,
          e);
    }
    if (log.isDebugEnabled()) {
      for (Event e : built) {
        try (EventLog ignored = EventLog.of(e)) {
          log.debug("event appended (visible to relays once the transaction commits)");
        }
      }
    }
    for (Consumer<List<Event>> l : appendListeners) {
      try {
        l.accept(built);
      } catch (RuntimeException ex) {
        // a listener is a latency hint; its failure must not fail the caller's transaction
        log.warn("outbox append listener failed: {}", ex.toString());
      }
    }
    return built;
  }

  private static boolean isUniqueViolation(SQLException e) {
    for (SQLException x = e; x != null; x = x.getNextException()) {
      if ("23505".equals(x.getSQLState())) {
        return true;
      }
    }
    return false;
  }

  private Event validate(Event e) {
    checkLength("type", e.type(), e);
    checkLength("destination", e.destination(), e);
    checkLength("key", e.key(), e);
    checkLength("correlation id", e.correlationId(), e);
    checkLength("causation id", e.causationId(), e);
    if (e.id().getMostSignificantBits() == 0 && e.id().getLeastSignificantBits() == 0) {
      throw new InvalidEventException("event id is the nil UUID", e.id(), e.destination());
    }
    if (e.payloadSize() > maxPayloadBytes) {
      throw new InvalidEventException(
          "payload is "
              + e.payloadSize()
              + " bytes, over the limit of "
              + maxPayloadBytes
              + " bytes (Outbox.Builder.maxPayloadBytes)",
          e.id(),
          e.destination());
    }
    int headerBytes = 0;
    for (Map.Entry<String, String> h : e.headers().entrySet()) {
      if (h.getKey().isBlank()) {
        throw new InvalidEventException("a header name is blank", e.id(), e.destination());
      }
      headerBytes += h.getKey().getBytes(StandardCharsets.UTF_8).length;
      headerBytes += h.getValue().getBytes(StandardCharsets.UTF_8).length;
    }
    if (headerBytes > 16 * 1024) {
      throw new InvalidEventException(
          "headers are " + headerBytes + " bytes, over the limit of 16384 bytes", e.id(), e.destination());
    }
    return e;
  }

  private static void checkLength(String what, String value, Event e) {
    if (value != null && value.length() > MAX_NAME_LENGTH) {
      throw new InvalidEventException(
          what + " is " + value.length() + " characters, over the limit of " + MAX_NAME_LENGTH,
          e.id(),
          "destination".equals(what) ? null : e.destination());
    }
  }

  private static void requireTransaction(Connection connection) {
    try {
      if (connection.getAutoCommit()) {
        throw new FatalCourierException(
            "the connection is in auto-commit mode: append events inside your own transaction"
                + " (connection.setAutoCommit(false)), so they commit together with your business"
                + " change or not at all");
      }
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not inspect the connection's transaction state", e);
    }
  }

  private Dialect dialect(Connection connection) {
    Dialect d = dialect;
    if (d == null) {
      d = Dialect.detect(connection);
      dialect = d;
    }
    return d;
  }

  private static void setNullable(PreparedStatement ps, int index, String value)
      throws SQLException {
    if (value == null) {
      ps.setNull(index, Types.VARCHAR);
    } else {
      ps.setString(index, value);
    }
  }

  /** Builds an {@link Outbox}; every setting is checked at {@link #build()}. */
  public static final class Builder {
    private CourierTables tables = CourierTables.DEFAULT;
    private int maxPayloadBytes = 1024 * 1024;
    private Clock clock = Clock.systemUTC();
    private Dialect dialect;
    private final List<Consumer<List<Event>>> appendListeners = new ArrayList<>();

    private Builder() {}

    public Builder tables(CourierTables tables) {
      this.tables = Objects.requireNonNull(tables, "tables");
      return this;
    }

    /** The largest payload accepted (default 1 MiB); larger events are refused at append. */
    public Builder maxPayloadBytes(int maxPayloadBytes) {
      this.maxPayloadBytes = maxPayloadBytes;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Fixes the dialect instead of detecting it from the first connection. */
    public Builder dialect(Dialect dialect) {
      this.dialect = dialect;
      return this;
    }

    /**
     * Called after each successful append, before the caller commits, with the events appended.
     * Use it to wake a relay in the same JVM (for example {@code relay::wakeup}); the relay polls
     * again shortly, so a hint that arrives before the commit is not lost. A listener must be
     * fast and must not throw; a throw is logged and ignored.
     */
    public Builder onAppend(Consumer<List<Event>> listener) {
      appendListeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /** Shorthand for {@code onAppend(events -> wakeup.run())}. */
    public Builder onAppend(Runnable wakeup) {
      Objects.requireNonNull(wakeup, "wakeup");
      return onAppend(events -> wakeup.run());
    }

    public Outbox build() {
      if (maxPayloadBytes < 1) {
        throw new ConfigurationException(
            "maxPayloadBytes", "must be at least 1 byte, was " + maxPayloadBytes);
      }
      if (maxPayloadBytes > 64 * 1024 * 1024) {
        throw new ConfigurationException(
            "maxPayloadBytes",
            "must be at most 64 MiB (brokers reject far smaller records), was " + maxPayloadBytes);
      }
      return new Outbox(this);
    }
  }
}
