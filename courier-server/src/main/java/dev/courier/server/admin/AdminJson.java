package dev.courier.server.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.courier.admin.AuditEntry;
import dev.courier.admin.Page;
import dev.courier.admin.Retention;
import dev.courier.deadletter.DeadLetterDetail;
import dev.courier.deadletter.DeadLetterSummary;
import dev.courier.deadletter.FingerprintGroup;
import dev.courier.deadletter.ReplayResult;
import dev.courier.inbox.LedgerAdmin;
import dev.courier.outbox.DeadOutboxRow;
import dev.courier.outbox.OutboxStatus;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/**
 * The JSON shapes of the admin operations, shared by the HTTP admin API and the CLI's {@code
 * --json}, so that a script sees the same fields either way. Field names are part of the API:
 * fields may be added, never renamed.
 */
public final class AdminJson {
  /** The mapper both sides write with. */
  public static final ObjectMapper MAPPER = new ObjectMapper();

  private AdminJson() {}

  public static ObjectNode outboxStatus(OutboxStatus s) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("backlog", s.pending());
    n.put("oldestAgeSeconds", seconds(s.oldestPendingAge()));
    n.put("dead", s.dead());
    n.put("takenAt", iso(s.takenAt()));
    ArrayNode ds = n.putArray("destinations");
    for (OutboxStatus.Destination d : s.destinations()) {
      ObjectNode o = ds.addObject();
      o.put("destination", d.destination());
      o.put("pending", d.pending());
      o.put("dead", d.dead());
      Duration age =
          d.oldestPendingCreatedAt() == null
              ? Duration.ZERO
              : Duration.between(d.oldestPendingCreatedAt(), s.takenAt());
      o.put("oldestAgeSeconds", seconds(age.isNegative() ? Duration.ZERO : age));
    }
    return n;
  }

  public static ObjectNode deadOutboxRows(List<DeadOutboxRow> rows) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode items = n.putArray("items");
    for (DeadOutboxRow r : rows) {
      ObjectNode o = items.addObject();
      o.put("id", r.seq());
      o.put("eventId", str(r.eventId()));
      o.put("type", r.type());
      o.put("destination", r.destination());
      o.put("key", r.key());
      o.put("attempts", r.attempts());
      o.put("lastError", r.lastError());
      o.put("createdAt", iso(r.createdAt()));
      o.put("deadAt", iso(r.deadAt()));
    }
    return n;
  }

  /**
   * A page of dead letters.
   *
   * @param firstPage the number the caller calls the first page (0 over HTTP, 1 on the CLI)
   */
  public static ObjectNode deadLetterPage(Page<DeadLetterSummary> page, int firstPage) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode items = n.putArray("items");
    for (DeadLetterSummary s : page.items()) {
      items.add(summary(s));
    }
    n.put("page", page.page() - 1 + firstPage);
    n.put("size", page.size());
    n.put("total", page.total());
    return n;
  }

  public static ObjectNode summary(DeadLetterSummary s) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("id", s.id());
    o.put("eventId", str(s.eventId()));
    o.put("consumer", s.consumer());
    o.put("type", s.type());
    o.put("key", s.key());
    o.put("destination", s.destination());
    o.put("reason", s.reason());
    o.put("fingerprint", s.fingerprint());
    o.put("errorClass", s.errorClass());
    o.put("errorMessage", s.errorMessage());
    o.put("attempts", s.attempts());
    o.put("firstFailedAt", iso(s.firstFailedAt()));
    o.put("deadAt", iso(s.deadAt()));
    o.put("status", s.status().name());
    o.put("replayId", s.replayId());
    o.put("resolvedAt", iso(s.resolvedAt()));
    o.put("resolvedBy", s.resolvedBy());
    o.put("resolution", s.resolution());
    return o;
  }

  /** A dead letter in full: the payload as UTF-8 text when it is valid UTF-8, else base64. */
  public static ObjectNode detail(DeadLetterDetail d) {
    ObjectNode o = summary(d.summary());
    byte[] payload = d.payload();
    if (payload == null) {
      o.putNull("payload");
      o.put("payloadEncoding", "none");
    } else {
      String text = utf8(payload);
      if (text != null) {
        o.put("payload", text);
        o.put("payloadEncoding", "utf-8");
      } else {
        o.put("payload", Base64.getEncoder().encodeToString(payload));
        o.put("payloadEncoding", "base64");
      }
      o.put("payloadBytes", payload.length);
    }
    if (d.payloadSize() != null) {
      o.put("payloadSize", d.payloadSize());
    }
    o.put("payloadSha256", d.payloadSha256());
    o.put("payloadTruncated", d.payloadTruncated());
    ObjectNode h = o.putObject("headers");
    d.headers().forEach(h::put);
    o.put("stackTrace", d.stackTrace());
    o.put("source", d.source());
    o.put("correlationId", d.correlationId());
    o.put("causationId", d.causationId());
    o.put("eventCreatedAt", iso(d.eventCreatedAt()));
    return o;
  }

  /** The paused consumers. */
  public static ObjectNode pauses(List<dev.courier.inbox.ConsumerPauses.Pause> pauses) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode items = n.putArray("paused");
    for (dev.courier.inbox.ConsumerPauses.Pause p : pauses) {
      items.addObject()
          .put("consumer", p.consumer())
          .put("pausedAt", iso(p.pausedAt()))
          .put("pausedBy", p.pausedBy())
          .put("reason", p.reason())
          .put("automatic", p.automatic());
    }
    return n;
  }

  public static ObjectNode groups(List<FingerprintGroup> groups) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode gs = n.putArray("groups");
    for (FingerprintGroup g : groups) {
      ObjectNode o = gs.addObject();
      o.put("fingerprint", g.fingerprint());
      o.put("exceptionType", g.exceptionType());
      o.put("topFrame", g.topFrame());
      o.put("messageShape", g.messageShape());
      o.put("count", g.count());
      ArrayNode cs = o.putArray("consumers");
      g.consumers().forEach(cs::add);
      o.put("firstSeen", iso(g.firstSeen()));
      o.put("lastSeen", iso(g.lastSeen()));
    }
    return n;
  }

  public static ObjectNode replay(ReplayResult r) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("replayId", r.replayId());
    o.put("replayed", r.replayed());
    o.put("alreadySubmitted", r.alreadySubmitted());
    o.put("dryRun", r.dryRun());
    ArrayNode items = o.putArray("items");
    r.items().forEach(items::add);
    ArrayNode processed = o.putArray("alreadyProcessed");
    r.alreadyProcessed().forEach(processed::add);
    ArrayNode skipped = o.putArray("skipped");
    for (ReplayResult.Skipped s : r.skipped()) {
      skipped.addObject().put("id", s.id()).put("why", s.why());
    }
    return o;
  }

  public static ObjectNode historyReplay(dev.courier.outbox.HistoryReplayResult r) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("replayId", r.replayId());
    o.put("replayed", r.replayed());
    o.put("alreadySubmitted", r.alreadySubmitted());
    o.put("dryRun", r.dryRun());
    if (r.target().destination() != null) {
      o.put("toDestination", r.target().destination());
    }
    if (r.target().consumer() != null) {
      o.put("consumer", r.target().consumer());
    }
    ArrayNode ids = o.putArray("eventIds");
    r.eventIds().forEach(id -> ids.add(id.toString()));
    ArrayNode pending = o.putArray("alreadyPending");
    r.alreadyPending().forEach(id -> pending.add(id.toString()));
    return o;
  }

  /**
   * A discard's result; {@code more} is true when the call stopped at its {@code limit}, so that
   * more dead letters may match.
   */
  public static ObjectNode discarded(List<Long> ids, int limit) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("discarded", ids.size());
    o.put("more", ids.size() >= limit);
    ArrayNode items = o.putArray("items");
    ids.forEach(items::add);
    return o;
  }

  public static ObjectNode processed(UUID eventId, List<LedgerAdmin.Processed> rows) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("eventId", eventId.toString());
    ArrayNode cs = o.putArray("consumers");
    rows.forEach(r -> cs.add(r.consumer()));
    ArrayNode details = o.putArray("processed");
    rows.forEach(r -> details.addObject().put("consumer", r.consumer()).put("processedAt", iso(r.processedAt())));
    return o;
  }

  public static ObjectNode prune(Retention.Result r) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("dryRun", r.dryRun());
    o.put("ledgerRows", r.ledgerRows());
    o.put("outboxRows", r.outboxRows());
    o.put("archivedRows", r.archivedRows());
    o.put("archiveRows", r.archiveRows());
    o.put("deadLetterRows", r.deadLetterRows());
    o.put("auditRows", r.auditRows());
    return o;
  }

  public static ObjectNode audit(List<AuditEntry> entries) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode items = n.putArray("items");
    for (AuditEntry e : entries) {
      ObjectNode o = items.addObject();
      o.put("id", e.id());
      o.put("at", iso(e.at()));
      o.put("operator", e.operator());
      o.put("action", e.action());
      o.put("reason", e.reason());
      o.put("target", e.target());
      o.put("affected", e.affected());
      o.put("replayId", e.replayId());
    }
    return n;
  }

  public static ObjectNode error(String message) {
    return MAPPER.createObjectNode().put("error", message);
  }

  static String iso(Instant t) {
    return t == null ? null : t.toString();
  }

  private static String str(UUID id) {
    return id == null ? null : id.toString();
  }

  private static double seconds(Duration d) {
    return d.toMillis() / 1000.0;
  }

  /** The bytes as text if they are valid UTF-8 without control characters other than whitespace. */
  static String utf8(byte[] bytes) {
    try {
      String s =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (Character.isISOControl(c) && c != '\n' && c != '\r' && c != '\t') {
          return null;
        }
      }
      return s;
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
