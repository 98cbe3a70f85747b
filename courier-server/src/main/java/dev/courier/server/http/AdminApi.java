package dev.courier.server.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.courier.ConfigurationException;
import dev.courier.Event;
import dev.courier.InvalidEventException;
import dev.courier.admin.Attribution;
import dev.courier.admin.AuditLog;
import dev.courier.admin.InvalidRequestException;
import dev.courier.deadletter.DeadLetterAdmin;
import dev.courier.deadletter.DeadLetterFilter;
import dev.courier.deadletter.DeadLetterStatus;
import dev.courier.deadletter.ReplayRequest;
import dev.courier.inbox.ConsumerPauses;
import dev.courier.inbox.LedgerAdmin;
import dev.courier.jdbc.CourierTables;
import dev.courier.outbox.HistoryFilter;
import dev.courier.outbox.HistoryReplay;
import dev.courier.outbox.ReplayTarget;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.outbox.OutboxSelection;
import dev.courier.server.admin.AdminJson;
import dev.courier.server.admin.Outcome;
import dev.courier.server.admin.TimeArgument;
import dev.courier.server.config.AdminToken;
import dev.courier.server.config.Masking;
import dev.courier.server.config.Setting;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP admin API: JSON under {@code /api/}, the same operations as the CLI's {@code outbox},
 * {@code dlq} verbs. It is an {@link HttpHandler} for the {@value #PREFIX} prefix: mount it with
 * {@link CourierHttpServer#mount}, or {@code Observability.serveAdminApi}, which also checks {@link
 * #requireSafeExposure}.
 *
 * <pre>
 * GET  /api/outbox/status      backlog, oldest age, dead rows, per destination
 * GET  /api/outbox/dead        dead outbox rows (?destination=&amp;limit=)
 * POST /api/outbox/retry       {"ids":[..]} | {"destination":".."} | {"all":true}, "reason"
 * GET  /api/dlq                ?consumer=&amp;type=&amp;key=&amp;fingerprint=&amp;from=&amp;to=&amp;status=&amp;page=&amp;size=
 * GET  /api/dlq/groups         failure fingerprints of the parked dead letters (?limit=, 1-1000, default 100)
 * GET  /api/dlq/{id}           one dead letter with payload, headers and stack trace
 * POST /api/dlq/replay         {"ids":[..]} or filter fields, "dryRun", "replayId", "rate" (0, no limit,
 *                              or at least 1 per second), "limit", "reason"
 * POST /api/dlq/discard        {"ids":[..]} or filter fields, "reason" (required), "limit" (1-10,000,
 *                              the default; "more": true in the answer when it was reached)
 * POST /api/history/replay    published history: "from", "to", "type", "key", "destination" or "all";
 *                              "toDestination", "consumer", "dryRun", "replayId", "rate", "limit",
 *                              "reason"
 * GET  /api/processed?eventId= the consumers whose ledger holds the event
 * GET  /api/audit?limit=       the latest audit entries (1-1000, default 100)
 * GET  /api/consumers/paused   the paused consumers
 * POST /api/consumers/pause    {"consumer":"..","reason":".."}: stop it taking deliveries
 * POST /api/consumers/resume   {"consumer":"..","reason":".."}: let it go on
 * </pre>
 *
 * <p>Pages of {@code /api/dlq} start at 0; {@code size} is 1 to 500 (default 50). Times are ISO-8601
 * instants (a date, or an age like {@code 2h}, is accepted too). Errors are {@code {"error": ".."}}
 * with 400 for bad input (unknown parameter or field, bad time range), 404 for an unknown id or
 * path, 401 for a call without a bearer token, 403 for a wrong token, 500 or 503 (database
 * unreachable) with {@code "reference"} for a failure on the server's side.
 *
 * <p><b>Security.</b> Every call needs {@code Authorization: Bearer <token>}, compared in constant
 * time against {@code courier.admin.token}; without a configured token every call is refused. Dead
 * letters can hold personal data, so reads need the token too, unless the server is on a loopback
 * address and its operator opened them ({@code courier.admin.open-reads=true}; see {@code
 * Observability.serveAdminApi}). {@link CourierHttpServer} checks the {@code Host} header of every
 * request before it gets here. A failure of the database or the server is answered with a generic
 * message and a reference; the detail is logged under that reference only. The audit trail names the operator
 * from the {@code X-Courier-Operator} header, else {@code http}. The token never appears in a log
 * line, a response or {@link #toString()}.
 *
 * <p>Request bodies are limited to 64 KiB. Thread-safe.
 */
public final class AdminApi implements HttpHandler {
  /** The path prefix the API answers under. */
  public static final String PREFIX = "/api/";

  private static final Logger log = LoggerFactory.getLogger(AdminApi.class);
  private static final String JSON = "application/json; charset=utf-8";
  private static final int MAX_BODY = 64 * 1024;
  private static final int DEFAULT_PAGE_SIZE = 50;
  private static final Pattern ID = Pattern.compile("\\d{1,18}");
  private static final Pattern OPERATOR = Pattern.compile("[\\p{L}\\p{N} ._@:+-]{1,255}");
  private static final Set<String> LIST_PARAMS =
      Set.of("consumer", "type", "key", "fingerprint", "from", "to", "status", "page", "size");
  private static final Set<String> FILTER_FIELDS =
      Set.of("ids", "consumer", "type", "key", "fingerprint", "from", "to", "all", "reason");
  private static final ObjectMapper READER =
      new ObjectMapper(
          JsonFactory.builder()
              .streamReadConstraints(
                  StreamReadConstraints.builder()
                      .maxNestingDepth(8)
                      .maxStringLength(MAX_BODY)
                      .maxDocumentLength(MAX_BODY)
                      .build())
              .build());

  private final DeadLetterAdmin deadLetters;
  private final OutboxAdmin outbox;
  private final LedgerAdmin ledger;
  private final HistoryReplay history;
  private final AuditLog audit;
  private final ConsumerPauses pauses;
  private final DataSource dataSource;
  private final Clock clock;
  private final AdminToken token;
  private final boolean readsNeedToken;

  /**
   * An API whose reads need the token as its changes do.
   *
   * @param token the bearer token every call must present, or {@code null} to refuse them all
   */
  public AdminApi(DataSource dataSource, CourierTables tables, Clock clock, AdminToken token) {
    this(dataSource, tables, clock, token, true);
  }

  /**
   * @param token the bearer token calls must present, or {@code null} to refuse every call that
   *     needs it
   * @param readsNeedToken whether {@code GET}s need the token too (the default); false only for a
   *     server on a loopback address whose operator opened reads ({@code courier.admin.open-reads}):
   *     dead letters may hold personal data
   */
  public AdminApi(
      DataSource dataSource, CourierTables tables, Clock clock, AdminToken token, boolean readsNeedToken) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.deadLetters = DeadLetterAdmin.builder(dataSource).tables(tables).clock(clock).build();
    this.outbox = new OutboxAdmin(dataSource, tables, clock, Duration.ZERO);
    this.ledger = new LedgerAdmin(dataSource, tables);
    this.history = new HistoryReplay(dataSource, tables, clock);
    this.audit = new AuditLog(tables);
    this.pauses = new ConsumerPauses(dataSource, tables, clock);
    this.token = token;
    this.readsNeedToken = readsNeedToken;
  }

  /**
   * Refuses to expose the API beyond this machine without a token: mutations would then be
   * impossible to authorise, and the open {@code GET}s would show dead letters to the network.
   *
   * @param host the address the HTTP server binds
   * @throws ConfigurationException naming {@code courier.admin.token} when {@code host} is not a
   *     loopback address and no token is configured
   */
  public static void requireSafeExposure(String host, boolean hasToken) {
    requireSafeExposure(host, hasToken, false);
  }

  /**
   * As {@link #requireSafeExposure(String, boolean)}, and refuses open reads ({@code
   * courier.admin.open-reads}) on an address that is not loopback.
   *
   * @throws ConfigurationException naming the setting at fault
   */
  public static void requireSafeExposure(String host, boolean hasToken, boolean openReads) {
    if (openReads && !isLoopback(host)) {
      throw new ConfigurationException(
          Setting.ADMIN_OPEN_READS.key(),
          "is true, and the admin API would be served on "
              + host
              + ", which is not a loopback address: open reads would show dead letters to the"
              + " network; remove it (reads then need "
              + Setting.ADMIN_TOKEN.key()
              + ") or bind "
              + Setting.HTTP_HOST.key()
              + " to 127.0.0.1");
    }
    if (hasToken || isLoopback(host)) {
      return;
    }
    throw new ConfigurationException(
        Setting.ADMIN_TOKEN.key(),
        "is not set, and the admin API would be served on "
            + host
            + ", which is not a loopback address; set a token ("
            + Setting.ADMIN_TOKEN.envVariable()
            + ", at least 16 characters) or bind "
            + Setting.HTTP_HOST.key()
            + " to 127.0.0.1");
  }

  /** Whether every address {@code host} resolves to is a loopback address. */
  public static boolean isLoopback(String host) {
    try {
      java.net.InetAddress[] all = java.net.InetAddress.getAllByName(host);
      for (java.net.InetAddress a : all) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return all.length > 0;
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  /** Whether mutating calls can be authorised at all. */
  public boolean hasToken() {
    return token != null;
  }

  @Override
  public String toString() {
    return "AdminApi[token=" + (token == null ? "none" : "****") + "]";
  }

  @Override
  public void handle(HttpExchange ex) throws IOException {
    try {
      String method = ex.getRequestMethod().toUpperCase(Locale.ROOT);
      String path = ex.getRequestURI().getRawPath();
      if (path.length() > 1 && path.endsWith("/")) {
        path = path.substring(0, path.length() - 1);
      }
      boolean post = method.equals("POST");
      if (!post && !method.equals("GET") && !method.equals("HEAD")) {
        ex.getResponseHeaders().set("Allow", "GET, HEAD, POST");
        send(ex, 405, AdminJson.error("method not allowed; use GET, or POST for changes"));
        return;
      }
      if ((post || readsNeedToken) && !authorised(ex)) {
        return;
      }
      route(ex, post, path);
    } catch (IOException e) {
      ex.close();
    } catch (RuntimeException e) {
      fail(ex, e);
    }
  }

  private void route(HttpExchange ex, boolean post, String path) throws IOException {
    Map<String, String> q = query(ex);
    switch (path) {
      case "/api/outbox/status" -> get(ex, post, () -> AdminJson.outboxStatus(outbox.status()), q, Set.of());
      case "/api/outbox/dead" ->
          get(ex, post, () -> AdminJson.deadOutboxRows(
              outbox.dead(blankToNull(q.get("destination")), intParam(q, "limit", 100))), q, Set.of("destination", "limit"));
      case "/api/outbox/retry" -> post(ex, post, this::retry);
      case "/api/dlq" -> get(ex, post, () -> list(q), q, LIST_PARAMS);
      case "/api/dlq/groups" ->
          get(ex, post, () -> AdminJson.groups(deadLetters.groups(intParam(q, "limit", 100))), q, Set.of("limit"));
      case "/api/dlq/replay" -> post(ex, post, this::replay);
      case "/api/dlq/discard" -> post(ex, post, this::discard);
      case "/api/history/replay" -> post(ex, post, this::historyReplay);
      case "/api/processed" -> get(ex, post, () -> processed(q), q, Set.of("eventId"));
      case "/api/consumers/paused" -> get(ex, post, () -> AdminJson.pauses(pauses.list()), q, Set.of());
      case "/api/consumers/pause" -> post(ex, post, this::pauseConsumer);
      case "/api/consumers/resume" -> post(ex, post, this::resumeConsumer);
      case "/api/audit" -> get(ex, post, () -> AdminJson.audit(audit.latest(dataSource, intParam(q, "limit", 100))), q, Set.of("limit"));
      default -> {
        if (path.startsWith("/api/dlq/")) {
          String id = path.substring("/api/dlq/".length());
          if (!ID.matcher(id).matches()) {
            send(ex, 404, AdminJson.error("no dead letter with id '" + printable(id) + "': ids are whole numbers"));
            return;
          }
          get(ex, post, () -> AdminJson.detail(deadLetters.show(Long.parseLong(id))), q, Set.of());
          return;
        }
        send(ex, 404, AdminJson.error("no such admin endpoint: " + printable(path)));
      }
    }
  }

  @FunctionalInterface
  private interface Read {
    ObjectNode get();
  }

  @FunctionalInterface
  private interface Write {
    ObjectNode apply(JsonNode body, Attribution who);
  }

  private void get(HttpExchange ex, boolean post, Read read, Map<String, String> q, Set<String> allowed)
      throws IOException {
    if (post) {
      ex.getResponseHeaders().set("Allow", "GET, HEAD");
      send(ex, 405, AdminJson.error("method not allowed; use GET"));
      return;
    }
    for (String k : q.keySet()) {
      if (!allowed.contains(k)) {
        throw new InvalidRequestException(
            k, "unknown parameter" + (allowed.isEmpty() ? "; this endpoint takes none" : "; known: " + new java.util.TreeSet<>(allowed)));
      }
    }
    send(ex, 200, read.get());
  }

  private void post(HttpExchange ex, boolean post, Write write) throws IOException {
    if (!post) {
      ex.getResponseHeaders().set("Allow", "POST");
      send(ex, 405, AdminJson.error("method not allowed; use POST"));
      return;
    }
    JsonNode body = body(ex);
    Attribution who = new Attribution(operator(ex), text(body, "reason"));
    ObjectNode result = write.apply(body, who);
    log.info(
        "admin {} by {}: {}",
        ex.getRequestURI().getPath(),
        who.operator(),
        result.has("replayed") ? result.get("replayed") + " replayed"
            : result.has("discarded") ? result.get("discarded") + " discarded"
                  : result.has("retried") ? result.get("retried") + " retried" : "done");
    send(ex, 200, result);
  }

  private ObjectNode list(Map<String, String> q) {
    DeadLetterFilter.Builder b = DeadLetterFilter.builder()
        .consumer(q.get("consumer"))
        .type(q.get("type"))
        .key(q.get("key"))
        .fingerprint(q.get("fingerprint"))
        .from(TimeArgument.parse("from", q.get("from"), clock))
        .to(TimeArgument.parse("to", q.get("to"), clock));
    String status = blankToNull(q.get("status"));
    if (status != null && !status.equalsIgnoreCase("ALL")) {
      b.status(status(status));
    }
    int page = intParam(q, "page", 0);
    int size = intParam(q, "size", DEFAULT_PAGE_SIZE);
    if (page < 0) {
      throw new InvalidRequestException("page", "pages start at 0, was " + page);
    }
    return AdminJson.deadLetterPage(deadLetters.list(b.build(), page + 1, size), 0);
  }

  private ObjectNode processed(Map<String, String> q) {
    String id = q.get("eventId");
    UUID eventId;
    try {
      eventId = Event.parseId(id);
    } catch (InvalidEventException e) {
      throw new InvalidRequestException("eventId", e.getMessage());
    }
    return AdminJson.processed(eventId, ledger.processedBy(eventId));
  }

  private ObjectNode retry(JsonNode body, Attribution who) {
    allowOnly(body, Set.of("ids", "destination", "all", "reason"));
    List<Long> ids = ids(body);
    boolean all = bool(body, "all");
    String destination = text(body, "destination");
    OutboxSelection selection = new OutboxSelection(ids, destination, all);
    int n = outbox.retryDead(selection, who);
    return AdminJson.MAPPER.createObjectNode().put("retried", n);
  }

  private ObjectNode replay(JsonNode body, Attribution who) {
    Set<String> allowed = new java.util.HashSet<>(FILTER_FIELDS);
    allowed.addAll(Set.of("dryRun", "replayId", "rate", "limit"));
    allowOnly(body, allowed);
    double rate = body.has("rate") ? number(body, "rate") : 0;
    int limit = body.has("limit") ? wholeNumber(body, "limit") : 10_000;
    ReplayRequest request =
        new ReplayRequest(filter(body), text(body, "replayId"), bool(body, "dryRun"), rate, limit, who);
    return AdminJson.replay(deadLetters.replay(request));
  }

  private ObjectNode historyReplay(JsonNode body, Attribution who) {
    allowOnly(
        body,
        Set.of(
            "from", "to", "type", "key", "destination", "all", "toDestination", "consumer", "dryRun",
            "replayId", "rate", "limit", "reason"));
    HistoryFilter filter =
        new HistoryFilter(
            TimeArgument.parse("from", text(body, "from"), clock),
            TimeArgument.parse("to", text(body, "to"), clock),
            text(body, "type"),
            text(body, "key"),
            text(body, "destination"),
            bool(body, "all"));
    double rate = body.has("rate") ? number(body, "rate") : 0;
    int limit = body.has("limit") ? wholeNumber(body, "limit") : 10_000;
    ReplayTarget target = new ReplayTarget(name(body, "toDestination"), name(body, "consumer"));
    return AdminJson.historyReplay(
        history.replay(filter, target, text(body, "replayId"), bool(body, "dryRun"), rate, limit, who));
  }

  private ObjectNode pauseConsumer(JsonNode body, Attribution who) {
    allowOnly(body, Set.of("consumer", "reason"));
    String consumer = name(body, "consumer");
    boolean done = pauses.pause(consumer, who, false);
    return AdminJson.MAPPER.createObjectNode().put("consumer", consumer).put("paused", done);
  }

  private ObjectNode resumeConsumer(JsonNode body, Attribution who) {
    allowOnly(body, Set.of("consumer", "reason"));
    String consumer = name(body, "consumer");
    boolean done = pauses.resume(consumer, who);
    return AdminJson.MAPPER.createObjectNode().put("consumer", consumer).put("resumed", done);
  }

  private ObjectNode discard(JsonNode body, Attribution who) {
    Set<String> allowed = new java.util.HashSet<>(FILTER_FIELDS);
    allowed.add("limit");
    allowOnly(body, allowed);
    int limit = body.has("limit") ? wholeNumber(body, "limit") : DeadLetterAdmin.MAX_DISCARD;
    return AdminJson.discarded(deadLetters.discard(filter(body), who, limit), limit);
  }

  private DeadLetterFilter filter(JsonNode body) {
    DeadLetterFilter.Builder b =
        DeadLetterFilter.builder()
            .ids(ids(body))
            .consumer(text(body, "consumer"))
            .type(text(body, "type"))
            .key(text(body, "key"))
            .fingerprint(text(body, "fingerprint"))
            .from(TimeArgument.parse("from", text(body, "from"), clock))
            .to(TimeArgument.parse("to", text(body, "to"), clock));
    if (bool(body, "all")) {
      b.all();
    }
    return b.build();
  }

  // --- authorisation ------------------------------------------------------------------------

  private boolean authorised(HttpExchange ex) throws IOException {
    String header = ex.getRequestHeaders().getFirst("Authorization");
    if (header == null || header.isBlank()) {
      ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"courier\"");
      boolean read = !ex.getRequestMethod().equalsIgnoreCase("POST");
      send(ex, 401, AdminJson.error(
          token == null
              ? (read
                  ? "reads need the admin token, and none is configured: set " + Setting.ADMIN_TOKEN.key()
                      + " (" + Setting.ADMIN_TOKEN.envVariable() + "), or " + Setting.ADMIN_OPEN_READS.key()
                      + "=true to let anyone who can reach this loopback address read"
                  : "changes are disabled: no admin token is configured (set " + Setting.ADMIN_TOKEN.key()
                      + " or " + Setting.ADMIN_TOKEN.envVariable() + ")")
              : "this call needs 'Authorization: Bearer <token>'"));
      return false;
    }
    String presented = header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).strip() : null;
    if (presented == null) {
      ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"courier\"");
      send(ex, 401, AdminJson.error("only bearer tokens are accepted: 'Authorization: Bearer <token>'"));
      return false;
    }
    if (token == null || !token.matches(presented)) {
      log.warn("admin {} refused: wrong bearer token", ex.getRequestURI().getPath());
      send(ex, 403, AdminJson.error("the bearer token is not the configured admin token"));
      return false;
    }
    return true;
  }

  private static String operator(HttpExchange ex) {
    String op = ex.getRequestHeaders().getFirst("X-Courier-Operator");
    if (op == null || op.isBlank()) {
      return "http";
    }
    op = op.strip();
    if (!OPERATOR.matcher(op).matches()) {
      throw new InvalidRequestException(
          "X-Courier-Operator", "1 to 255 letters, digits, spaces and . _ @ : + -");
    }
    return op;
  }

  // --- parsing ------------------------------------------------------------------------------

  private static JsonNode body(HttpExchange ex) throws IOException {
    byte[] bytes;
    try (InputStream in = ex.getRequestBody()) {
      bytes = in.readNBytes(MAX_BODY + 1);
    }
    if (bytes.length > MAX_BODY) {
      throw new InvalidRequestException("body", "larger than " + MAX_BODY + " bytes");
    }
    if (bytes.length == 0) {
      throw new InvalidRequestException("body", "a JSON object is required");
    }
    JsonNode n;
    try {
      n = READER.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new InvalidRequestException("body", "not valid JSON: " + e.getOriginalMessage());
    }
    if (n == null || !n.isObject()) {
      throw new InvalidRequestException("body", "a JSON object is required");
    }
    return n;
  }

  private static void allowOnly(JsonNode body, Set<String> allowed) {
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!allowed.contains(f)) {
        throw new InvalidRequestException(
            printable(f), "unknown field; known: " + new java.util.TreeSet<>(allowed));
      }
    }
  }

  private static List<Long> ids(JsonNode body) {
    JsonNode n = body.get("ids");
    if (n == null || n.isNull()) {
      return List.of();
    }
    if (!n.isArray() || n.isEmpty()) {
      throw new InvalidRequestException("ids", "must be a non-empty array of ids");
    }
    List<Long> ids = new ArrayList<>();
    for (JsonNode e : n) {
      if (e.isIntegralNumber() && e.canConvertToLong()) {
        ids.add(e.asLong());
      } else if (e.isTextual() && ID.matcher(e.asText()).matches()) {
        ids.add(Long.parseLong(e.asText()));
      } else {
        throw new InvalidRequestException("ids", "ids are whole numbers, got " + printable(e.toString()));
      }
    }
    return ids;
  }

  private static String text(JsonNode body, String field) {
    JsonNode n = body.get(field);
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isTextual()) {
      throw new InvalidRequestException(field, "must be a string");
    }
    return blankToNull(n.asText());
  }

  /** A name as given (a blank one is refused by its checks, not taken as absent), or null. */
  private static String name(JsonNode body, String field) {
    JsonNode n = body.get(field);
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isTextual()) {
      throw new InvalidRequestException(field, "must be a string");
    }
    return n.asText();
  }

  private static boolean bool(JsonNode body, String field) {
    JsonNode n = body.get(field);
    if (n == null || n.isNull()) {
      return false;
    }
    if (!n.isBoolean()) {
      throw new InvalidRequestException(field, "must be true or false");
    }
    return n.asBoolean();
  }

  private static double number(JsonNode body, String field) {
    JsonNode n = body.get(field);
    if (!n.isNumber()) {
      throw new InvalidRequestException(field, "must be a number");
    }
    return n.asDouble();
  }

  private static int wholeNumber(JsonNode body, String field) {
    JsonNode n = body.get(field);
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      throw new InvalidRequestException(field, "must be a whole number");
    }
    return n.asInt();
  }

  private static int intParam(Map<String, String> q, String name, int dflt) {
    String v = blankToNull(q.get(name));
    if (v == null) {
      return dflt;
    }
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new InvalidRequestException(name, "must be a whole number, was '" + printable(v) + "'");
    }
  }

  private static DeadLetterStatus status(String s) {
    try {
      return DeadLetterStatus.valueOf(s.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new InvalidRequestException("status", "must be DEAD, PARKED, REPLAYED, DISCARDED or ALL");
    }
  }

  private static Map<String, String> query(HttpExchange ex) {
    String raw = ex.getRequestURI().getRawQuery();
    Map<String, String> q = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return q;
    }
    for (String part : raw.split("&")) {
      if (part.isEmpty()) {
        continue;
      }
      int eq = part.indexOf('=');
      String k = decode(eq < 0 ? part : part.substring(0, eq));
      String v = eq < 0 ? "" : decode(part.substring(eq + 1));
      if (q.put(k, v) != null) {
        throw new InvalidRequestException(printable(k), "given more than once");
      }
    }
    return q;
  }

  private static String decode(String s) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new InvalidRequestException("query", "malformed URL encoding");
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.strip();
  }

  private static String printable(String s) {
    String shown = s.length() > 60 ? s.substring(0, 60) + "..." : s;
    return shown.replaceAll("\\p{Cntrl}", "?");
  }

  // --- responses ----------------------------------------------------------------------------

  /**
   * Answers a failed call. Bad input and unknown ids get their own message (Courier's words about
   * the request). A failure of the database or of the server gets a generic message with a
   * reference, and the detail, which may hold SQL, table names or a driver's message, goes to the
   * log under the same reference only.
   */
  private void fail(HttpExchange ex, RuntimeException e) {
    Outcome o = Outcome.of(e);
    ObjectNode body;
    if (o == Outcome.FAILED || o == Outcome.UNREACHABLE) {
      String reference = reference();
      log.warn(
          "admin {} {} failed (reference {}): {}",
          ex.getRequestMethod(),
          ex.getRequestURI().getPath(),
          reference,
          // the causes' messages, masked; not the stack trace, whose messages a driver may fill with
          // a URL and its password
          causes(e));
      body =
          AdminJson.error(
              (o == Outcome.UNREACHABLE ? "the database is unreachable" : "the operation failed")
                  + " (reference "
                  + reference
                  + "; the server's log has the detail)");
      body.put("reference", reference);
    } else {
      body = AdminJson.error(e.getMessage());
    }
    try {
      send(ex, o.httpStatus(), body);
    } catch (IOException | RuntimeException ignored) {
      ex.close();
    }
  }

  private static String causes(Throwable e) {
    StringBuilder b = new StringBuilder(Masking.text(e.toString()));
    int depth = 0;
    for (Throwable c = e.getCause(); c != null && c != e && depth < 5; c = c.getCause(), depth++) {
      b.append("; caused by ").append(Masking.text(c.toString()));
    }
    return b.toString();
  }

  private static String reference() {
    return String.format("%08x", java.util.concurrent.ThreadLocalRandom.current().nextInt());
  }

  private static void send(HttpExchange ex, int status, ObjectNode body) throws IOException {
    byte[] bytes = AdminJson.MAPPER.writeValueAsBytes(body);
    ex.getResponseHeaders().set("Content-Type", JSON);
    ex.getResponseHeaders().set("Cache-Control", "no-store");
    ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    boolean head = ex.getRequestMethod().equalsIgnoreCase("HEAD");
    ex.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(bytes);
      }
    }
    ex.close();
  }
}
