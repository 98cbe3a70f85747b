package dev.courier.server.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.encoder.EncoderBase;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes each log event as one line of flat JSON, for log shippers:
 *
 * <pre>{@code
 * {"ts":"2025-01-01T12:00:00.123Z","level":"WARN","logger":"dev.courier.relay.Relay","thread":"courier-relay-1",
 *  "msg":"publish attempt 1 of 10 failed, retrying in 420 ms: ...","event_id":"0194...","correlation_id":"...",
 *  "destination":"orders","attempt":"1"}
 * }</pre>
 *
 * <p>MDC entries become top-level fields: the event fields Courier sets ({@code event_id}, {@code
 * event_type}, {@code correlation_id}, {@code causation_id}, {@code destination}, {@code consumer},
 * {@code attempt}) first in that order, then any others sorted by name. A throwable adds {@code
 * error} (class and message) and, unless {@link #setStackTraces(boolean)} is off, {@code stack}.
 * Field names in the MDC that clash with the fixed fields are prefixed with {@code mdc_}.
 *
 * <p>Logback's own {@code JsonEncoder} nests the MDC in an object and adds context, sequence and
 * argument fields on every line; this encoder keeps lines short and greppable by event id.
 */
public final class JsonLineEncoder extends EncoderBase<ILoggingEvent> {
  private static final List<String> EVENT_FIELDS =
      List.of(
          "event_id",
          "event_type",
          "correlation_id",
          "causation_id",
          "destination",
          "consumer",
          "attempt");
  private static final List<String> FIXED =
      List.of("ts", "level", "logger", "thread", "msg", "error", "stack");
  private static final byte[] EMPTY = new byte[0];

  private boolean stackTraces = true;

  /** Whether to include the stack trace of a logged throwable (default true). */
  public void setStackTraces(boolean stackTraces) {
    this.stackTraces = stackTraces;
  }

  @Override
  public byte[] headerBytes() {
    return EMPTY;
  }

  @Override
  public byte[] footerBytes() {
    return EMPTY;
  }

  @Override
  public byte[] encode(ILoggingEvent event) {
    StringBuilder sb = new StringBuilder(256);
    sb.append('{');
    field(
        sb,
        "ts",
        DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochMilli(event.getTimeStamp())),
        true);
    field(sb, "level", event.getLevel().toString(), false);
    field(sb, "logger", event.getLoggerName(), false);
    field(sb, "thread", event.getThreadName(), false);
    field(sb, "msg", event.getFormattedMessage(), false);
    Map<String, String> mdc = event.getMDCPropertyMap();
    if (mdc != null && !mdc.isEmpty()) {
      for (String k : EVENT_FIELDS) {
        String v = mdc.get(k);
        if (v != null) {
          field(sb, k, v, false);
        }
      }
      for (Map.Entry<String, String> e : new TreeMap<>(mdc).entrySet()) {
        if (!EVENT_FIELDS.contains(e.getKey())) {
          String name = FIXED.contains(e.getKey()) ? "mdc_" + e.getKey() : e.getKey();
          field(sb, name, e.getValue(), false);
        }
      }
    }
    IThrowableProxy t = event.getThrowableProxy();
    if (t != null) {
      field(
          sb,
          "error",
          t.getClassName() + (t.getMessage() == null ? "" : ": " + t.getMessage()),
          false);
      if (stackTraces) {
        field(sb, "stack", ThrowableProxyUtil.asString(t), false);
      }
    }
    sb.append('}').append('\n');
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static void field(StringBuilder sb, String name, String value, boolean first) {
    if (!first) {
      sb.append(',');
    }
    quote(sb, name);
    sb.append(':');
    if (value == null) {
      sb.append("null");
    } else {
      quote(sb, value);
    }
  }

  /** Appends a JSON string literal (RFC 8259 escaping; control characters as \\u escapes). */
  static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
