package dev.courier.deadletter;

import dev.courier.CourierException;
import dev.courier.Event;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.HeadersJson;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * Writes consumers' dead letters to the dead-letter table. A dead letter is written in its own
 * transaction and committed before the delivery is acknowledged, so a crash in between only
 * writes it again (recorded once, its attempts added up), never loses it.
 *
 * <p>Thread-safe.
 */
public final class DeadLetterStore {
  /**
   * The bytes kept of the payload of a message dead-lettered for being over its consumer's size
   * limit ({@link DeadLetterReason#OVERSIZED}): enough to tell what it was, with its full size and
   * SHA-256 beside it. Every other dead letter keeps its payload whole (it passed the consumer's
   * size check, so the consumer's limit bounds it).
   */
  public static final int OVERSIZED_PREFIX_BYTES = 64 * 1024;

  private static final int MAX_STACK_CHARS = 16 * 1024;
  private static final int MAX_MESSAGE_CHARS = 4 * 1024;

  private final DataSource dataSource;
  private final CourierTables tables;
  private volatile Dialect dialect;

  public DeadLetterStore(DataSource dataSource, CourierTables tables) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.tables = Objects.requireNonNull(tables, "tables");
  }

  /**
   * Records a dead letter and commits it.
   *
   * @throws CourierException if it could not be written; the delivery must then not be
   *     acknowledged
   */
  public void record(DeadLetter d) {
    write(d, false);
  }

  /**
   * Records an event parked behind an earlier dead letter of its key (status {@code PARKED}) and
   * commits it.
   *
   * @throws CourierException if it could not be written; the delivery must then not be
   *     acknowledged
   */
  public void park(DeadLetter d) {
    write(d, true);
  }

  private void write(DeadLetter d, boolean parked) {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(true);
      Dialect dl = dialect(c);
      String sql = parked ? dl.upsertParkedDeadLetter(tables) : dl.upsertDeadLetter(tables);
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        Event e = d.event();
        int i = 1;
        ps.setString(i++, d.consumer());
        ps.setString(i++, truncate(d.dedupeKey(), 255));
        ps.setObject(i++, d.eventId());
        setString(ps, i++, e != null ? e.type() : d.rawHeaders().get("courier-event-type"), 255);
        setString(ps, i++, e != null ? e.key() : null, 255);
        setString(ps, i++, e != null ? e.destination() : null, 255);
        setString(ps, i++, d.source(), 512);
        byte[] payload = e != null ? e.payload() : d.rawPayload();
        boolean keepPrefix =
            payload != null && d.reason() == DeadLetterReason.OVERSIZED && payload.length > OVERSIZED_PREFIX_BYTES;
        if (payload == null) {
          ps.setNull(i++, Types.BINARY);
        } else {
          ps.setBytes(i++, keepPrefix ? java.util.Arrays.copyOf(payload, OVERSIZED_PREFIX_BYTES) : payload);
        }
        ps.setString(i++, HeadersJson.encode(e != null ? e.headers() : d.rawHeaders()));
        setString(ps, i++, e != null ? e.correlationId() : null, 255);
        setString(ps, i++, e != null ? e.causationId() : null, 255);
        ps.setString(i++, d.reason().name());
        Throwable err = d.error();
        String errorClass = err != null ? truncate(err.getClass().getName(), 512) : null;
        String message = err != null ? truncate(String.valueOf(err.getMessage()), MAX_MESSAGE_CHARS) : null;
        String stack = err != null ? truncate(stackTrace(err), MAX_STACK_CHARS) : null;
        setString(ps, i++, errorClass, 512);
        setString(ps, i++, message, MAX_MESSAGE_CHARS);
        setString(ps, i++, stack, MAX_STACK_CHARS);
        ps.setInt(i++, d.attempts());
        ps.setTimestamp(i++, Timestamp.from(d.firstFailedAt()));
        ps.setTimestamp(i++, Timestamp.from(d.lastFailedAt()));
        ps.setString(i++, Fingerprint.of(errorClass, message, stack).id());
        if (e != null) {
          ps.setTimestamp(i++, Timestamp.from(e.createdAt()));
        } else {
          ps.setNull(i++, Types.TIMESTAMP_WITH_TIMEZONE);
        }
        if (payload == null) {
          ps.setNull(i++, Types.BIGINT);
          ps.setNull(i, Types.CHAR);
        } else {
          ps.setLong(i++, payload.length);
          ps.setString(i, sha256(payload));
        }
        ps.executeUpdate();
      }
    } catch (SQLException ex) {
      throw DatabaseFailures.of(
          "could not write dead letter for consumer " + d.consumer(),
          d.eventId(),
          d.event() != null ? d.event().destination() : null,
          ex);
    }
  }

  private static String sha256(byte[] bytes) {
    try {
      return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException impossible) {
      throw new IllegalStateException("every Java platform has SHA-256", impossible);
    }
  }

  /** Dead letters currently parked for a consumer (all consumers when {@code consumer} is null). */
  public long count(String consumer) {
    String sql =
        "SELECT count(*) FROM "
            + tables.deadLetters()
            + " WHERE status = 'DEAD'"
            + (consumer != null ? " AND consumer = ?" : "");
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      if (consumer != null) {
        ps.setString(1, consumer);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (SQLException ex) {
      throw DatabaseFailures.of("could not count dead letters", ex);
    }
  }

  private Dialect dialect(Connection c) {
    Dialect d = dialect;
    if (d == null) {
      d = Dialect.detect(c);
      dialect = d;
    }
    return d;
  }

  private static void setString(PreparedStatement ps, int i, String v, int max) throws SQLException {
    if (v == null) {
      ps.setNull(i, Types.VARCHAR);
    } else {
      ps.setString(i, truncate(v, max));
    }
  }

  private static String truncate(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max);
  }

  private static String stackTrace(Throwable t) {
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    return w.toString();
  }
}
