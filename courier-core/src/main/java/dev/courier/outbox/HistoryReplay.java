package dev.courier.outbox;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.CourierException;
import dev.courier.UuidV7;
import dev.courier.admin.Attribution;
import dev.courier.admin.AuditLog;
import dev.courier.admin.InvalidRequestException;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.HeadersJson;
import dev.courier.internal.Transactions;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.LogSql;
import dev.courier.jdbc.Dialect;
import dev.courier.spi.ReceivedMessage;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * Replays published history: events already published (still in the outbox as {@code PUBLISHED},
 * or moved to the archive by retention) are put back in the outbox, with their own event ids, for
 * the relay to publish again to their destinations.
 *
 * <p><b>Who processes them.</b> Every consumer of the destination receives them again. A consumer
 * whose ledger still holds an event skips it as a duplicate; a new consumer, or one whose ledger
 * row was pruned (see {@link dev.courier.admin.Retention}), applies it. This is how a new consumer
 * catches up or a consumer rebuilds after its ledger and state were reset.
 *
 * <p><b>Another destination, one consumer.</b> A {@link ReplayTarget} can send the events to
 * another destination than their own (they keep their event ids) and address them to one
 * consumer: the replayed rows carry the {@link ReceivedMessage#REPLAY_CONSUMER} and {@link
 * ReceivedMessage#REPLAY_ID} headers, the other consumers acknowledge them unhandled, and the
 * named one applies each event once more for this replay, even though its ledger holds the event
 * (its handler was fixed, its state rebuilt). Redeliveries of the replay are duplicates to it.
 *
 * <p><b>Order.</b> The events are enqueued in creation order with fresh outbox positions (a
 * published row still in the outbox is moved to the archive first), so the relay publishes them in
 * that order, key by key. An event still waiting in the outbox is left alone.
 *
 * <p><b>Safety.</b> As for dead-letter replays: a replay id submitted twice enqueues once (the
 * replays table's primary key), the replay and its audit row commit together, and a rate spreads
 * the events' publish times. Thread-safe.
 */
public final class HistoryReplay {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern REPLAY_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");
  private static final String COLUMNS =
      "event_id, event_type, destination, event_key, payload, headers, correlation_id, causation_id,"
          + " created_at";

  private final DataSource dataSource;
  private final CourierTables tables;
  private final Clock clock;
  private final AuditLog audit;

  public HistoryReplay(DataSource dataSource, CourierTables tables, Clock clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.tables = Objects.requireNonNull(tables, "tables");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.audit = new AuditLog(tables);
  }

  /**
   * Replays the published events {@code filter} selects, oldest first, to their own destinations
   * for every consumer; see {@link #replay(HistoryFilter, ReplayTarget, String, boolean, double,
   * int, Attribution)}.
   */
  public HistoryReplayResult replay(
      HistoryFilter filter, String replayId, boolean dryRun, double ratePerSecond, int limit, Attribution who) {
    return replay(filter, ReplayTarget.ORIGINAL, replayId, dryRun, ratePerSecond, limit, who);
  }

  /**
   * Refuses a replay addressed to a consumer this database has never seen: every consumer would
   * acknowledge it unhandled, and a misspelt name would make the replay a silent no-op. A consumer
   * is known once its ledger or the dead letters hold a row of it.
   */
  private void requireKnownConsumer(String consumer) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT EXISTS (SELECT 1 FROM " + tables.processedEvents() + " WHERE consumer = ?)"
                    + " OR EXISTS (SELECT 1 FROM " + tables.deadLetters() + " WHERE consumer = ?)")) {
      ps.setString(1, consumer);
      ps.setString(2, consumer);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next() && rs.getBoolean(1)) {
          return;
        }
      }
    }
    throw new InvalidRequestException(
        "consumer",
        "no consumer named '" + consumer + "' has processed or dead-lettered an event in this database;"
            + " every consumer would skip a replay addressed to it (is the name right?)");
  }

  /**
   * Replays the published events {@code filter} selects, oldest first, to {@code target}.
   *
   * @param target where the events go and which consumer handles them
   * @param replayId the replay's id, or {@code null} for a new one
   * @param ratePerSecond at most this many events become publishable per second; 0 for no
   *     limit, else at least {@value dev.courier.admin.ReplayRate#MIN_PER_SECOND}
   * @param limit at most this many events, 1 to 100,000
   * @throws InvalidRequestException for a bad replay id, rate or limit, or a target consumer that
   *     has neither a ledger row nor a dead letter in this database
   * @throws CourierException if the database fails; nothing is changed
   */
  public HistoryReplayResult replay(
      HistoryFilter filter,
      ReplayTarget target,
      String replayId,
      boolean dryRun,
      double ratePerSecond,
      int limit,
      Attribution who) {
    Objects.requireNonNull(filter, "filter");
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(who, "who");
    if (replayId != null && !REPLAY_ID.matcher(replayId).matches()) {
      throw new InvalidRequestException(
          "replayId", "1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
    }
    dev.courier.admin.ReplayRate.check(ratePerSecond);
    if (limit < 1 || limit > 100_000) {
      throw new InvalidRequestException("limit", "must be between 1 and 100000, was " + limit);
    }
    try {
      if (target.consumer() != null) {
        requireKnownConsumer(target.consumer());
      }
      if (dryRun) {
        try (Connection c = dataSource.getConnection()) {
          List<Row> rows = select(c, filter, limit);
          return new HistoryReplayResult(
              replayId, rows.size(), false, true, rows.stream().map(Row::eventId).toList(), List.of(), target);
        }
      }
      String id = replayId != null ? replayId : "history-" + UuidV7.next();
      return Transactions.inTransaction(dataSource, c -> {
        Instant now = clock.instant();
        Map<String, Object> request = new LinkedHashMap<>(filter.describe());
        request.putAll(target.describe());
        request.put("limit", limit);
        String requestJson = json(request);
        try (PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO " + tables.replays()
                    + " (replay_id, kind, operator, reason, request, submitted_at)"
                    + " VALUES (?, 'HISTORY', ?, ?, ?, ?) ON CONFLICT (replay_id) DO NOTHING")) {
          ps.setString(1, id);
          ps.setString(2, who.operator());
          ps.setString(3, who.reason());
          ps.setString(4, requestJson);
          ps.setTimestamp(5, Timestamp.from(now));
          if (ps.executeUpdate() == 0) {
            return submittedBefore(c, id);
          }
        }
        List<Row> rows = select(c, filter, limit);
        List<UUID> ids = rows.stream().map(Row::eventId).toList();
        if (ids.isEmpty()) {
          // nothing matched: leave no trace, not even the replay id
          c.rollback();
          return new HistoryReplayResult(id, 0, false, false, List.of(), List.of(), target);
        }
        {
          // keep the published rows' history in the archive, then give every replayed event a
          // fresh outbox position in creation order
          try (PreparedStatement ps =
              c.prepareStatement(
                  "WITH moved AS (DELETE FROM " + tables.outbox()
                      // the selection took only published rows (in log mode, LOG rows its relays
                      // have published, which carry no publish time: their creation stands in)
                      + " WHERE status IN ('PUBLISHED', 'LOG') AND event_id = ANY(?) RETURNING " + COLUMNS
                      + ", COALESCE(published_at, created_at) AS published_at) INSERT INTO " + tables.outboxArchive() + " (" + COLUMNS
                      + ", published_at, archived_at) SELECT " + COLUMNS + ", published_at, ? FROM moved"
                      + " ON CONFLICT (event_id) DO UPDATE SET published_at = EXCLUDED.published_at")) {
            ps.setArray(1, c.createArrayOf("uuid", ids.toArray()));
            ps.setTimestamp(2, Timestamp.from(now));
            ps.executeUpdate();
          }
        }
        List<UUID> replayed = new ArrayList<>();
        List<UUID> pending = new ArrayList<>();
        String insert =
            Dialect.detect(c).insertOutbox(tables) + " ON CONFLICT DO NOTHING";
        try (PreparedStatement ps = c.prepareStatement(insert)) {
          for (Row r : rows) {
            Instant availableAt =
                ratePerSecond > 0
                    ? now.plus(Duration.ofNanos((long) (replayed.size() * 1_000_000_000L / ratePerSecond)))
                    : now;
            int i = 1;
            ps.setObject(i++, r.eventId);
            ps.setString(i++, r.type);
            ps.setString(i++, target.destination() != null ? target.destination() : r.destination);
            ps.setString(i++, r.key);
            ps.setBytes(i++, r.payload);
            ps.setString(i++, headersFor(r, target, id));
            ps.setString(i++, r.correlationId);
            ps.setString(i++, r.causationId);
            ps.setTimestamp(i++, Timestamp.from(r.createdAt));
            ps.setTimestamp(i, Timestamp.from(availableAt));
            if (ps.executeUpdate() == 1) {
              replayed.add(r.eventId);
            } else {
              pending.add(r.eventId);
            }
          }
        }
        try (PreparedStatement ps =
            c.prepareStatement("UPDATE " + tables.replays() + " SET enqueued = ?, items = ? WHERE replay_id = ?")) {
          ps.setInt(1, replayed.size());
          ps.setString(2, json(replayed.stream().map(UUID::toString).toList()));
          ps.setString(3, id);
          ps.executeUpdate();
        }
        audit.record(c, now, who, "history.replay", requestJson, replayed.size(), id);
        return new HistoryReplayResult(id, replayed.size(), false, false, replayed, pending, target);
      });
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not replay published history", e);
    }
  }

  /**
   * The replayed row's headers: the event's own, without the replay headers an earlier replay
   * added, and for a replay to one consumer with this replay's.
   */
  private static String headersFor(Row r, ReplayTarget target, String replayId) {
    Map<String, String> headers = new LinkedHashMap<>(HeadersJson.decode(r.headers));
    headers.remove(ReceivedMessage.REPLAY_CONSUMER);
    // every replay says which replay it is: a broker that drops a message id it stored a moment ago
    // (JetStream's duplicate window) must not take the replay for a republish of the original
    headers.put(ReceivedMessage.REPLAY_ID, replayId);
    if (target.consumer() != null) {
      headers.put(ReceivedMessage.REPLAY_CONSUMER, target.consumer());
    }
    return HeadersJson.encode(headers);
  }

  private record Row(
      UUID eventId,
      String type,
      String destination,
      String key,
      byte[] payload,
      String headers,
      String correlationId,
      String causationId,
      Instant createdAt) {}

  /** Published outbox rows of alias {@code o}: marked so, or, in log mode, published by a log relay. */
  private String publishedCondition(Connection c) throws SQLException {
    int partitions = LogSql.partitions(c, tables);
    return partitions == 0
        ? "o.status = 'PUBLISHED'"
        : "(o.status = 'PUBLISHED' OR " + LogSql.published(tables, partitions, "o") + ")";
  }

  private List<Row> select(Connection c, HistoryFilter f, int limit) throws SQLException {
    StringBuilder where = new StringBuilder();
    List<Object> params = new ArrayList<>();
    if (f.from() != null) {
      where.append(" AND created_at >= ?");
      params.add(Timestamp.from(f.from()));
    }
    if (f.to() != null) {
      where.append(" AND created_at < ?");
      params.add(Timestamp.from(f.to()));
    }
    if (f.type() != null) {
      where.append(" AND event_type = ?");
      params.add(f.type());
    }
    if (f.key() != null) {
      where.append(" AND event_key = ?");
      params.add(f.key());
    }
    if (f.destination() != null) {
      where.append(" AND destination = ?");
      params.add(f.destination());
    }
    // an event in both (a replay of it published since) is taken from the archive, which holds it
    // as it was first published, to its own destination
    String sql =
        "SELECT DISTINCT ON (created_at, event_id) " + COLUMNS + " FROM (SELECT " + COLUMNS
            + ", 0 AS copy FROM " + tables.outboxArchive() + " WHERE 1 = 1" + where
            + " UNION ALL SELECT " + COLUMNS + ", 1 AS copy FROM " + tables.outbox()
            + " o WHERE " + publishedCondition(c) + where + ") h ORDER BY created_at, event_id, copy LIMIT ?";
    List<Row> rows = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      int i = 1;
      for (int round = 0; round < 2; round++) {
        for (Object p : params) {
          ps.setObject(i++, p);
        }
      }
      ps.setInt(i, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          rows.add(
              new Row(
                  rs.getObject("event_id", UUID.class),
                  rs.getString("event_type"),
                  rs.getString("destination"),
                  rs.getString("event_key"),
                  rs.getBytes("payload"),
                  rs.getString("headers"),
                  rs.getString("correlation_id"),
                  rs.getString("causation_id"),
                  rs.getTimestamp("created_at").toInstant()));
        }
      }
    }
    return rows;
  }

  private HistoryReplayResult submittedBefore(Connection c, String id) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT enqueued, items, kind, request FROM " + tables.replays() + " WHERE replay_id = ?")) {
      ps.setString(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        List<UUID> ids = new ArrayList<>();
        ReplayTarget first = ReplayTarget.ORIGINAL;
        if (rs.getString("kind").equals("HISTORY")) {
          try {
            Map<String, Object> request =
                JSON.readValue(rs.getString("request"), new TypeReference<Map<String, Object>>() {});
            first =
                new ReplayTarget(
                    (String) request.get("toDestination"), (String) request.get("consumer"));
          } catch (JsonProcessingException | RuntimeException e) {
            // an unreadable record of a past replay: report it as one to the original destinations
          }
          try {
            for (String s : JSON.readValue(rs.getString("items"), new TypeReference<List<String>>() {})) {
              ids.add(UUID.fromString(s));
            }
          } catch (JsonProcessingException | IllegalArgumentException e) {
            // an unreadable record of a past replay: report the count alone
          }
        }
        return new HistoryReplayResult(id, rs.getInt("enqueued"), true, false, ids, List.of(), first);
      }
    }
  }

  private static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("could not encode the request", e);
    }
  }
}
