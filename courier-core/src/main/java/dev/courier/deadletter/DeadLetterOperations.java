package dev.courier.deadletter;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.UuidV7;
import dev.courier.admin.Attribution;
import dev.courier.admin.AuditLog;
import dev.courier.admin.InvalidRequestException;
import dev.courier.admin.NotFoundException;
import dev.courier.admin.Page;
import dev.courier.internal.DatabaseFailures;
import dev.courier.internal.HeadersJson;
import dev.courier.internal.LedgerIds;
import dev.courier.internal.Transactions;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Dialect;
import dev.courier.spi.ReceivedMessage;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import javax.sql.DataSource;

/** The SQL behind {@link DeadLetterAdmin}'s operator actions. */
final class DeadLetterOperations {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SUMMARY_COLUMNS =
      "d.id, d.event_id, d.consumer, d.event_type, d.event_key, d.destination, d.reason,"
          + " d.fingerprint, d.error_class, d.error_message, d.attempts, d.first_failed_at,"
          + " d.last_failed_at, d.status, d.replay_id, d.resolved_at, d.resolved_by, d.resolution";

  private final DataSource dataSource;
  private final CourierTables tables;
  private final Clock clock;
  private final AuditLog audit;

  DeadLetterOperations(DataSource dataSource, CourierTables tables, Clock clock) {
    this.dataSource = dataSource;
    this.tables = tables;
    this.clock = clock;
    this.audit = new AuditLog(tables);
  }

  Page<DeadLetterSummary> list(DeadLetterFilter filter, int page, int size) {
    Page.check(page, size);
    return run("list dead letters", () -> {
      fillMissingFingerprints();
      Where w = where(filter, filter.status());
      try (Connection c = dataSource.getConnection()) {
        long total;
        try (PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM " + tables.deadLetters() + " d" + w.sql)) {
          w.bind(c, ps, 1);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            total = rs.getLong(1);
          }
        }
        List<DeadLetterSummary> items = new ArrayList<>();
        try (PreparedStatement ps =
            c.prepareStatement(
                "SELECT " + SUMMARY_COLUMNS + " FROM " + tables.deadLetters() + " d" + w.sql
                    + " ORDER BY d.id DESC LIMIT ? OFFSET ?")) {
          int i = w.bind(c, ps, 1);
          ps.setInt(i++, size);
          ps.setLong(i, (long) (page - 1) * size);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              items.add(summary(rs));
            }
          }
        }
        return new Page<>(items, page, size, total);
      }
    });
  }

  DeadLetterDetail show(long id) {
    DeadLetterDetail d =
        run("read dead letter " + id, () -> {
          fillMissingFingerprints();
          try (Connection c = dataSource.getConnection();
              PreparedStatement ps =
                  c.prepareStatement(
                      "SELECT " + SUMMARY_COLUMNS + ", d.payload, d.headers, d.stack_trace, d.source,"
                          + " d.correlation_id, d.causation_id, d.event_created_at, d.payload_size,"
                          + " d.payload_sha256 FROM "
                          + tables.deadLetters() + " d WHERE d.id = ?")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
              if (!rs.next()) {
                return null;
              }
              Map<String, String> headers;
              try {
                headers = HeadersJson.decode(rs.getString("headers"));
              } catch (RuntimeException e) {
                headers = Map.of();
              }
              return new DeadLetterDetail(
                  summary(rs),
                  rs.getBytes("payload"),
                  headers,
                  rs.getString("stack_trace"),
                  rs.getString("source"),
                  rs.getString("correlation_id"),
                  rs.getString("causation_id"),
                  instant(rs, "event_created_at"),
                  rs.getObject("payload_size", Long.class),
                  rs.getString("payload_sha256"));
            }
          }
        });
    if (d == null) {
      throw new NotFoundException("dead letter", List.of(id));
    }
    return d;
  }

  List<FingerprintGroup> groups(int limit) {
    return run("group dead letters by fingerprint", () -> {
      fillMissingFingerprints();
      String sql =
          "SELECT g.fingerprint, g.n, g.first_seen, g.last_seen, g.consumers, s.error_class,"
              + " s.error_message, s.stack_trace FROM (SELECT fingerprint, count(*) AS n,"
              + " min(first_failed_at) AS first_seen, max(last_failed_at) AS last_seen,"
              + " string_agg(DISTINCT consumer, ',') AS consumers, min(id) AS sample FROM "
              + tables.deadLetters()
              + " WHERE status = 'DEAD' GROUP BY fingerprint) g JOIN "
              + tables.deadLetters()
              + " s ON s.id = g.sample ORDER BY g.n DESC, g.last_seen DESC, g.fingerprint LIMIT ?";
      List<FingerprintGroup> out = new ArrayList<>();
      try (Connection c = dataSource.getConnection();
          PreparedStatement ps = c.prepareStatement(sql)) {
        ps.setInt(1, limit);
        try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Fingerprint f =
              Fingerprint.of(rs.getString("error_class"), rs.getString("error_message"), rs.getString("stack_trace"));
          out.add(
              new FingerprintGroup(
                  rs.getString("fingerprint"),
                  f.exceptionType(),
                  f.topFrame(),
                  f.messageShape(),
                  rs.getLong("n"),
                  List.copyOf(new TreeSet<>(Arrays.asList(rs.getString("consumers").split(",")))),
                  instant(rs, "first_seen"),
                  instant(rs, "last_seen")));
        }
        }
      }
      return out;
    });
  }

  ReplayResult replay(ReplayRequest r) {
    DeadLetterFilter filter = r.filter();
    filter.requireSelection();
    return run("replay dead letters", () -> {
      fillMissingFingerprints();
      requireIdsExist(filter.ids());
      if (r.dryRun()) {
        try (Connection c = dataSource.getConnection()) {
          Plan plan = plan(c, filter, r.limit(), false);
          return new ReplayResult(
              r.replayId(), plan.enqueue.size(), false, true, ids(plan.enqueue), plan.processed, plan.skipped);
        }
      }
      String replayId = r.replayId() != null ? r.replayId() : "replay-" + UuidV7.next();
      return Transactions.inTransaction(dataSource, c -> {
        Instant now = clock.instant();
        Map<String, Object> request = new LinkedHashMap<>(filter.describe());
        request.put("limit", r.limit());
        if (r.ratePerSecond() > 0) {
          request.put("ratePerSecond", r.ratePerSecond());
        }
        String requestJson = json(request);
        try (PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO " + tables.replays()
                    + " (replay_id, kind, operator, reason, request, submitted_at)"
                    + " VALUES (?, 'DEAD_LETTERS', ?, ?, ?, ?) ON CONFLICT (replay_id) DO NOTHING")) {
          ps.setString(1, replayId);
          ps.setString(2, r.who().operator());
          ps.setString(3, r.who().reason());
          ps.setString(4, requestJson);
          ps.setTimestamp(5, Timestamp.from(now));
          if (ps.executeUpdate() == 0) {
            return submittedBefore(c, replayId);
          }
        }
        Plan plan = plan(c, filter, r.limit(), true);
        if (plan.enqueue.isEmpty() && plan.processed.isEmpty()) {
          // nothing matched: leave no trace, not even the replay id
          c.rollback();
          return new ReplayResult(replayId, 0, false, false, List.of(), List.of(), plan.skipped);
        }
        enqueue(c, plan.enqueue, now, r.ratePerSecond(), replayId);
        List<Long> replayed = ids(plan.enqueue);
        List<Long> resolved = new ArrayList<>(replayed);
        resolved.addAll(plan.processed);
        if (!resolved.isEmpty()) {
          try (PreparedStatement ps =
              c.prepareStatement(
                  "UPDATE " + tables.deadLetters()
                      + " SET status = 'REPLAYED', replay_id = ?, resolved_at = ?, resolved_by = ?,"
                      + " resolution = ? WHERE id = ANY(?) AND status IN ('DEAD', 'PARKED')")) {
            ps.setString(1, replayId);
            ps.setTimestamp(2, Timestamp.from(now));
            ps.setString(3, r.who().operator());
            ps.setString(4, r.who().reason());
            ps.setArray(5, longs(c, resolved));
            ps.executeUpdate();
          }
        }
        try (PreparedStatement ps =
            c.prepareStatement(
                "UPDATE " + tables.replays() + " SET enqueued = ?, items = ? WHERE replay_id = ?")) {
          ps.setInt(1, replayed.size());
          ps.setString(2, json(replayed));
          ps.setString(3, replayId);
          ps.executeUpdate();
        }
        audit.record(c, now, r.who(), "dlq.replay", requestJson, replayed.size(), replayId);
        return new ReplayResult(replayId, replayed.size(), false, false, replayed, plan.processed, plan.skipped);
      });
    });
  }

  List<Long> discard(DeadLetterFilter filter, Attribution who, int limit) {
    filter.requireSelection();
    if (who.reason() == null) {
      throw new InvalidRequestException("reason", "a reason is required to discard dead letters");
    }
    return run("discard dead letters", () -> {
      fillMissingFingerprints();
      requireIdsExist(filter.ids());
      return Transactions.inTransaction(dataSource, c -> {
        Instant now = clock.instant();
        Where w = where(filter, null);
        w.sql.append(" AND d.status IN ('DEAD', 'PARKED')");
        List<Long> ids = new ArrayList<>();
        try (PreparedStatement ps =
            c.prepareStatement(
                "UPDATE " + tables.deadLetters() + " u SET status = 'DISCARDED', resolved_at = ?,"
                    + " resolved_by = ?, resolution = ? WHERE u.id IN (SELECT d.id FROM "
                    + tables.deadLetters() + " d" + w.sql + " ORDER BY d.id LIMIT ?) AND u.status IN ('DEAD', 'PARKED') RETURNING u.id")) {
          ps.setTimestamp(1, Timestamp.from(now));
          ps.setString(2, who.operator());
          ps.setString(3, who.reason());
          int next = w.bind(c, ps, 4);
          ps.setInt(next, limit);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              ids.add(rs.getLong(1));
            }
          }
        }
        ids.sort(null);
        audit.record(c, now, who, "dlq.discard", json(filter.describe()), ids.size(), null);
        return ids;
      });
    });
  }

  // --- plans ----------------------------------------------------------------------------------

  private record Candidate(
      long id,
      String status,
      String consumer,
      UUID eventId,
      String type,
      String destination,
      String key,
      byte[] payload,
      String headers,
      String correlationId,
      String causationId,
      Instant createdAt,
      boolean processed,
      boolean hasParked,
      Long payloadSize) {

    /** Whether only a prefix of the payload was stored (an oversized message). */
    boolean truncated() {
      return payloadSize != null && payload != null && payloadSize > payload.length;
    }
  }

  private record Plan(List<Candidate> enqueue, List<Long> processed, List<ReplayResult.Skipped> skipped) {}

  private static final String CANDIDATE_COLUMNS =
      "d.id, d.status, d.consumer, d.event_id, d.event_type, d.destination, d.event_key, d.payload,"
          + " d.headers, d.correlation_id, d.causation_id, d.payload_size,"
          + " COALESCE(d.event_created_at, d.first_failed_at) AS created";

  /**
   * Which dead letters a replay releases, in the order they must be published (their ids). Rows
   * of an ordered key that has parked events are released as a sequence: from its first row, every
   * parked row and every selected dead one, up to the first dead one the replay did not select,
   * which keeps blocking the rest.
   */
  private Plan plan(Connection c, DeadLetterFilter filter, int limit, boolean lock) throws SQLException {
    Where w = where(filter, null);
    w.sql.append(" AND d.status IN ('DEAD', 'PARKED')");
    String sql =
        "SELECT " + CANDIDATE_COLUMNS + ", " + processedColumn() + " FROM " + tables.deadLetters() + " d"
            + w.sql + " ORDER BY d.id LIMIT ?" + (lock ? " FOR UPDATE OF d" : "");
    java.util.TreeMap<Long, Candidate> selected = new java.util.TreeMap<>();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      int i = w.bind(c, ps, 1);
      ps.setInt(i, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          Candidate d = candidate(rs);
          selected.put(d.id, d);
        }
      }
    }
    java.util.TreeMap<Long, Candidate> released = new java.util.TreeMap<>();
    List<ReplayResult.Skipped> skipped = new ArrayList<>();
    java.util.Set<String> groupsDone = new java.util.HashSet<>();
    for (Candidate d : selected.values()) {
      if (released.containsKey(d.id)) {
        continue;
      }
      // only keys with parked events are sequences; other dead letters replay on their own
      List<Candidate> group = d.key == null || !d.hasParked ? List.of() : sequence(c, d, lock);
      boolean ordered = group.stream().anyMatch(g -> g.status.equals("PARKED"));
      if (!ordered) {
        if (d.status.equals("DEAD")) {
          released.put(d.id, d);
        }
        continue;
      }
      String groupKey = d.consumer + '\u0000' + d.destination + '\u0000' + d.key;
      if (!groupsDone.add(groupKey)) {
        continue;
      }
      Candidate blocker = null;
      for (Candidate g : group) {
        if (blocker == null && (g.status.equals("PARKED") || selected.containsKey(g.id))) {
          released.put(g.id, g);
        } else if (blocker == null) {
          blocker = g;
        } else if (selected.containsKey(g.id)) {
          skipped.add(new ReplayResult.Skipped(g.id, "parked behind dead letter " + blocker.id + " of the same key; replay or discard that one first"));
        }
      }
    }
    List<Candidate> enqueue = new ArrayList<>();
    List<Long> processed = new ArrayList<>();
    for (Candidate d : released.values()) {
      if (d.eventId == null) {
        skipped.add(new ReplayResult.Skipped(d.id, "the record carried no valid event id"));
      } else if (d.truncated()) {
        skipped.add(
            new ReplayResult.Skipped(
                d.id,
                "only the first " + d.payload.length + " of its " + d.payloadSize
                    + " payload bytes were kept (it was over the consumer's size limit); it cannot be replayed"));
      } else if (d.type == null || d.destination == null) {
        skipped.add(new ReplayResult.Skipped(d.id, "the record could not be decoded into an event (no type or destination)"));
      } else if (appliedAlready(c, d)) {
        processed.add(d.id);
      } else {
        enqueue.add(d);
      }
    }
    return new Plan(enqueue, processed, skipped);
  }

  /**
   * Whether the consumer's ledger already holds the delivery this dead letter records. For a
   * delivery of a replay addressed to this consumer that is the replay's own ledger id, not the
   * event id: the consumer may well have applied the event before, and the replay must still reach
   * it.
   */
  private boolean appliedAlready(Connection c, Candidate d) throws SQLException {
    UUID ledgerId = LedgerIds.ledgerId(d.consumer, d.eventId, headersOf(d));
    if (ledgerId.equals(d.eventId)) {
      return d.processed;
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT 1 FROM " + tables.processedEvents() + " WHERE consumer = ? AND event_id = ?")) {
      ps.setString(1, d.consumer);
      ps.setObject(2, ledgerId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  private static Map<String, String> headersOf(Candidate d) {
    if (d.headers == null || d.headers.isBlank()) {
      return Map.of();
    }
    try {
      return HeadersJson.decode(d.headers);
    } catch (RuntimeException e) {
      return Map.of(); // a dead letter with unreadable headers replays as a plain event
    }
  }

  /**
   * The dead letter's headers with this replay's id: a broker that drops a message id it stored a
   * moment ago (JetStream's duplicate window) must not take the replay for a republish of the
   * delivery that failed. A replay addressed to one consumer stays addressed to it, and that
   * consumer applies it under this replay's ledger id.
   */
  private static String replayHeaders(Candidate d, String replayId) {
    Map<String, String> headers = new LinkedHashMap<>(headersOf(d));
    headers.put(ReceivedMessage.REPLAY_ID, replayId);
    return HeadersJson.encode(headers);
  }

  /** The dead and parked rows of {@code d}'s key, in order. */
  private List<Candidate> sequence(Connection c, Candidate d, boolean lock) throws SQLException {
    String sql =
        "SELECT " + CANDIDATE_COLUMNS + ", " + processedColumn() + " FROM " + tables.deadLetters() + " d"
            + " WHERE d.consumer = ? AND d.destination = ? AND d.event_key = ?"
            + " AND d.status IN ('DEAD', 'PARKED') ORDER BY d.id" + (lock ? " FOR UPDATE OF d" : "");
    List<Candidate> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, d.consumer);
      ps.setString(2, d.destination);
      ps.setString(3, d.key);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(candidate(rs));
        }
      }
    }
    return out;
  }

  private String processedColumn() {
    return "EXISTS (SELECT 1 FROM " + tables.processedEvents()
        + " p WHERE p.consumer = d.consumer AND p.event_id = d.event_id) AS processed,"
        + " EXISTS (SELECT 1 FROM " + tables.deadLetters() + " q WHERE q.consumer = d.consumer"
        + " AND q.destination = d.destination AND q.event_key = d.event_key AND q.status = 'PARKED')"
        + " AS has_parked";
  }

  private static Candidate candidate(ResultSet rs) throws SQLException {
    return new Candidate(
        rs.getLong("id"),
        rs.getString("status"),
        rs.getString("consumer"),
        rs.getObject("event_id", UUID.class),
        rs.getString("event_type"),
        rs.getString("destination"),
        rs.getString("event_key"),
        rs.getBytes("payload"),
        rs.getString("headers"),
        rs.getString("correlation_id"),
        rs.getString("causation_id"),
        instant(rs, "created"),
        rs.getBoolean("processed"),
        rs.getBoolean("has_parked"),
        rs.getObject("payload_size", Long.class));
  }

  /**
   * Puts the events back in the outbox with fresh positions in the given order, so that the relay
   * publishes them in that order key by key: a published row of the same event still in the
   * outbox is copied to the archive and removed first; an event still pending is left as it is.
   */
  private void enqueue(Connection c, List<Candidate> events, Instant now, double ratePerSecond, String replayId)
      throws SQLException {
    if (events.isEmpty()) {
      return;
    }
    String columns =
        "event_id, event_type, destination, event_key, payload, headers, correlation_id, causation_id, created_at";
    try (PreparedStatement ps =
        c.prepareStatement(
            "WITH moved AS (DELETE FROM " + tables.outbox()
                + " WHERE status = 'PUBLISHED' AND event_id = ANY(?) RETURNING " + columns + ", published_at)"
                + " INSERT INTO " + tables.outboxArchive() + " (" + columns + ", published_at, archived_at)"
                + " SELECT " + columns + ", published_at, ? FROM moved"
                + " ON CONFLICT (event_id) DO UPDATE SET published_at = EXCLUDED.published_at")) {
      ps.setArray(1, c.createArrayOf("uuid", events.stream().map(Candidate::eventId).toArray()));
      ps.setTimestamp(2, Timestamp.from(now));
      ps.executeUpdate();
    }
    try (PreparedStatement ps =
        c.prepareStatement(Dialect.detect(c).insertOutbox(tables) + " ON CONFLICT DO NOTHING")) {
      int n = 0;
      for (Candidate d : events) {
        Instant availableAt =
            ratePerSecond > 0
                ? now.plus(Duration.ofNanos((long) (n * 1_000_000_000L / ratePerSecond)))
                : now;
        int i = 1;
        ps.setObject(i++, d.eventId);
        ps.setString(i++, d.type);
        ps.setString(i++, d.destination);
        ps.setString(i++, d.key);
        ps.setBytes(i++, d.payload == null ? new byte[0] : d.payload);
        ps.setString(i++, replayHeaders(d, replayId));
        ps.setString(i++, d.correlationId);
        ps.setString(i++, d.causationId);
        ps.setTimestamp(i++, Timestamp.from(d.createdAt));
        ps.setTimestamp(i, Timestamp.from(availableAt));
        ps.addBatch();
        n++;
      }
      ps.executeBatch();
    }
  }

  private ReplayResult submittedBefore(Connection c, String replayId) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT enqueued, items FROM " + tables.replays() + " WHERE replay_id = ?")) {
      ps.setString(1, replayId);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new SQLException("replay " + replayId + " vanished while being read");
        }
        List<Long> items;
        try {
          items = JSON.readValue(rs.getString("items"), new TypeReference<List<Long>>() {});
        } catch (JsonProcessingException e) {
          items = List.of();
        }
        return new ReplayResult(replayId, rs.getInt("enqueued"), true, false, items, List.of(), List.of());
      }
    }
  }

  private void requireIdsExist(List<Long> ids) throws SQLException {
    if (ids.isEmpty()) {
      return;
    }
    TreeSet<Long> missing = new TreeSet<>(ids);
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT id FROM " + tables.deadLetters() + " WHERE id = ANY(?)")) {
      ps.setArray(1, longs(c, ids));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          missing.remove(rs.getLong(1));
        }
      }
    }
    if (!missing.isEmpty()) {
      throw new NotFoundException("dead letter", List.copyOf(missing));
    }
  }

  /**
   * Computes the fingerprint of rows written before fingerprints were stored, in small
   * transactions, so that every listing and group sees one.
   */
  private void fillMissingFingerprints() throws SQLException {
    String select =
        "SELECT id, error_class, error_message, stack_trace FROM " + tables.deadLetters()
            + " WHERE fingerprint IS NULL ORDER BY id LIMIT 500";
    String update = "UPDATE " + tables.deadLetters() + " SET fingerprint = ? WHERE id = ? AND fingerprint IS NULL";
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(true);
      while (true) {
        Map<Long, String> found = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement(select);
            ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            found.put(
                rs.getLong(1),
                Fingerprint.of(rs.getString(2), rs.getString(3), rs.getString(4)).id());
          }
        }
        if (found.isEmpty()) {
          return;
        }
        try (PreparedStatement ps = c.prepareStatement(update)) {
          for (var e : found.entrySet()) {
            ps.setString(1, e.getValue());
            ps.setLong(2, e.getKey());
            ps.addBatch();
          }
          ps.executeBatch();
        }
        if (found.size() < 500) {
          return;
        }
      }
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  /** A WHERE clause with its parameters; only fixed column names appear in the SQL. */
  private static final class Where {
    final StringBuilder sql = new StringBuilder(" WHERE 1 = 1");
    final List<Object> params = new ArrayList<>();

    void add(String condition, Object value) {
      sql.append(" AND ").append(condition);
      params.add(value);
    }

    int bind(Connection c, PreparedStatement ps, int first) throws SQLException {
      int i = first;
      for (Object p : params) {
        switch (p) {
          case Long[] ids -> ps.setArray(i++, c.createArrayOf("bigint", ids));
          case Instant t -> ps.setTimestamp(i++, Timestamp.from(t));
          case String s -> ps.setString(i++, s);
          default -> ps.setObject(i++, p);
        }
      }
      return i;
    }
  }

  private static Where where(DeadLetterFilter f, DeadLetterStatus status) {
    Where w = new Where();
    if (!f.ids().isEmpty()) {
      w.add("d.id = ANY(?)", f.ids().toArray(Long[]::new));
    }
    if (f.consumer() != null) {
      w.add("d.consumer = ?", f.consumer());
    }
    if (f.type() != null) {
      w.add("d.event_type = ?", f.type());
    }
    if (f.key() != null) {
      w.add("d.event_key = ?", f.key());
    }
    if (f.fingerprint() != null) {
      w.add("d.fingerprint = ?", f.fingerprint());
    }
    if (f.from() != null) {
      w.add("d.last_failed_at >= ?", f.from());
    }
    if (f.to() != null) {
      w.add("d.last_failed_at < ?", f.to());
    }
    if (status != null) {
      w.add("d.status = ?", status.name());
    }
    return w;
  }

  private static DeadLetterSummary summary(ResultSet rs) throws SQLException {
    return new DeadLetterSummary(
        rs.getLong("id"),
        rs.getObject("event_id", UUID.class),
        rs.getString("consumer"),
        rs.getString("event_type"),
        rs.getString("event_key"),
        rs.getString("destination"),
        rs.getString("reason"),
        rs.getString("fingerprint"),
        rs.getString("error_class"),
        rs.getString("error_message"),
        rs.getInt("attempts"),
        instant(rs, "first_failed_at"),
        instant(rs, "last_failed_at"),
        status(rs.getString("status")),
        rs.getString("replay_id"),
        instant(rs, "resolved_at"),
        rs.getString("resolved_by"),
        rs.getString("resolution"));
  }

  private static DeadLetterStatus status(String s) {
    try {
      return DeadLetterStatus.valueOf(s);
    } catch (IllegalArgumentException | NullPointerException e) {
      return DeadLetterStatus.DEAD;
    }
  }

  private static Instant instant(ResultSet rs, String column) throws SQLException {
    Timestamp t = rs.getTimestamp(column);
    return t == null ? null : t.toInstant();
  }

  private static Array longs(Connection c, List<Long> ids) throws SQLException {
    return c.createArrayOf("bigint", ids.toArray(Long[]::new));
  }

  private static List<Long> ids(List<Candidate> cs) {
    return cs.stream().map(Candidate::id).toList();
  }

  private static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("could not encode " + value.getClass().getSimpleName(), e);
    }
  }

  @FunctionalInterface
  private interface SqlWork<T> {
    T run() throws SQLException;
  }

  private <T> T run(String what, SqlWork<T> work) {
    try {
      return work.run();
    } catch (SQLException e) {
      throw DatabaseFailures.of("could not " + what + " in " + tables.deadLetters(), e);
    }
  }
}
