package dev.courier.internal;

import dev.courier.Event;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.MDC;

/**
 * Puts an event's identifiers into the SLF4J MDC for the duration of a block, so every log line
 * written inside it carries {@code event_id}, {@code correlation_id}, {@code causation_id} and the
 * stage's own fields (destination or consumer, attempt). The JSON encoder turns them into fields.
 * Payloads and header values are never put in the MDC.
 *
 * <p>{@code event_id} and {@code correlation_id} are always present, so that one filter finds
 * every line of a flow: an event written without a correlation id starts its own flow, and its
 * event id is logged as the correlation id; a record that could not be decoded is logged with
 * {@value #UNKNOWN} for whichever of the two it did not carry.
 */
public final class EventLog implements AutoCloseable {
  public static final String EVENT_ID = "event_id";
  public static final String EVENT_TYPE = "event_type";
  public static final String CORRELATION_ID = "correlation_id";
  public static final String CAUSATION_ID = "causation_id";
  public static final String DESTINATION = "destination";
  public static final String CONSUMER = "consumer";
  public static final String ATTEMPT = "attempt";

  /** What is logged for an identifier a malformed record did not carry. */
  public static final String UNKNOWN = "unknown";

  // what each key held before this scope, so nested scopes restore their parent's fields
  private final List<String> keys = new ArrayList<>(8);
  private final List<String> previous = new ArrayList<>(8);

  private EventLog() {}

  /** Opens a scope for an event; close it (try-with-resources) to remove the fields again. */
  public static EventLog of(Event event) {
    EventLog log = new EventLog();
    log.put(EVENT_ID, event.id().toString());
    log.put(EVENT_TYPE, event.type());
    log.put(
        CORRELATION_ID,
        event.correlationId() != null ? event.correlationId() : event.id().toString());
    log.put(CAUSATION_ID, event.causationId());
    log.put(DESTINATION, event.destination());
    return log;
  }

  /** Opens a scope for a record whose event could not be decoded. */
  public static EventLog ofUnknown(UUID eventIdOrNull, String destination) {
    EventLog log = new EventLog();
    log.put(EVENT_ID, eventIdOrNull == null ? UNKNOWN : eventIdOrNull.toString());
    log.put(CORRELATION_ID, UNKNOWN);
    log.put(DESTINATION, destination);
    return log;
  }

  public EventLog with(String key, Object value) {
    put(key, value == null ? null : value.toString());
    return this;
  }

  private void put(String key, String value) {
    if (value != null) {
      keys.add(key);
      previous.add(MDC.get(key));
      MDC.put(key, value);
    }
  }

  @Override
  public void close() {
    for (int i = keys.size() - 1; i >= 0; i--) {
      String old = previous.get(i);
      if (old == null) {
        MDC.remove(keys.get(i));
      } else {
        MDC.put(keys.get(i), old);
      }
    }
  }
}
