package dev.courier;

import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * One event: what happened ({@link #type()}), where it goes ({@link #destination()}), the ordering
 * key, the opaque payload bytes, and the identifiers that let every copy of it be recognised.
 *
 * <p>The {@link #id()} is stable and globally unique: it is assigned once, when the event is
 * written (a UUIDv7 unless the caller supplies one), and it travels unchanged through the outbox,
 * the broker, retries, dead letters and replays. Consumers deduplicate on it.
 *
 * <p>Instances are immutable and thread-safe. {@link #payload()} returns a copy. {@link
 * #toString()} never renders the payload or header values, which may hold personal data.
 *
 * @param id the event id
 * @param type the event type, for example {@code OrderConfirmed}
 * @param destination the logical destination (a Kafka topic, a RabbitMQ exchange, a NATS subject)
 * @param key the ordering key, or {@code null} for an event with no ordering requirement
 * @param payload the payload bytes (never {@code null}; may be empty)
 * @param headers application headers (never {@code null})
 * @param correlationId the id shared by every event of one business flow, or {@code null}
 * @param causationId the id of the event or command that caused this one, or {@code null}
 * @param createdAt when the event was written
 */
public record Event(
    UUID id,
    String type,
    String destination,
    String key,
    byte[] payload,
    Map<String, String> headers,
    String correlationId,
    String causationId,
    Instant createdAt) {

  /** Header carrying the W3C trace context captured when the event was written. */
  public static final String TRACEPARENT = "traceparent";

  /** Header carrying the W3C vendor trace state captured with {@link #TRACEPARENT}. */
  public static final String TRACESTATE = "tracestate";

  public Event {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(destination, "destination");
    Objects.requireNonNull(createdAt, "createdAt");
    payload = payload == null ? new byte[0] : payload.clone();
    headers = headers == null ? Map.of() : Map.copyOf(headers);
  }

  /** Starts a new event of the given type; see {@link Builder}. */
  public static Builder builder(String type) {
    return new Builder().type(type);
  }

  /** A copy of the payload bytes. */
  @Override
  public byte[] payload() {
    return payload.clone();
  }

  /** The payload size in bytes, without copying it. */
  public int payloadSize() {
    return payload.length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Event e
        && id.equals(e.id)
        && type.equals(e.type)
        && destination.equals(e.destination)
        && Objects.equals(key, e.key)
        && Arrays.equals(payload, e.payload)
        && headers.equals(e.headers)
        && Objects.equals(correlationId, e.correlationId)
        && Objects.equals(causationId, e.causationId)
        && createdAt.equals(e.createdAt);
  }

  @Override
  public int hashCode() {
    return id.hashCode();
  }

  @Override
  public String toString() {
    return "Event[id="
        + id
        + ", type="
        + type
        + ", destination="
        + destination
        + ", key="
        + key
        + ", payloadBytes="
        + payload.length
        + ", headers="
        + headers.keySet()
        + ", correlationId="
        + correlationId
        + ", causationId="
        + causationId
        + ", createdAt="
        + createdAt
        + "]";
  }

  /**
   * Builds an event to append to the outbox. Only the type and destination are required; the id
   * defaults to a fresh UUIDv7 and the creation time to the outbox's clock when the event is
   * appended. Validation of sizes and names happens in the outbox, which knows its limits.
   */
  public static final class Builder {
    private UUID id;
    private String type;
    private String destination;
    private String key;
    private byte[] payload = new byte[0];
    private final Map<String, String> headers = new LinkedHashMap<>();
    private String correlationId;
    private String causationId;
    private Instant createdAt;

    private Builder() {}

    /** Supplies the event id instead of a generated UUIDv7, for example to make writes retryable. */
    public Builder id(UUID id) {
      this.id = id;
      return this;
    }

    /**
     * Supplies the event id as text. It must be a UUID in its canonical 36-character form.
     *
     * @throws InvalidEventException if it is not
     */
    public Builder id(String id) {
      this.id = parseId(id);
      return this;
    }

    public Builder type(String type) {
      this.type = type;
      return this;
    }

    public Builder destination(String destination) {
      this.destination = destination;
      return this;
    }

    public Builder key(String key) {
      this.key = key;
      return this;
    }

    public Builder payload(byte[] payload) {
      this.payload = payload == null ? new byte[0] : payload.clone();
      return this;
    }

    public Builder payload(String utf8) {
      return payload(utf8 == null ? null : utf8.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    public Builder header(String name, String value) {
      headers.put(Objects.requireNonNull(name, "header name"), value == null ? "" : value);
      return this;
    }

    /** Sets a header only if the builder does not hold one of that name yet. */
    public Builder headerIfAbsent(String name, String value) {
      if (!headers.containsKey(name)) {
        header(name, value);
      }
      return this;
    }

    public Builder headers(Map<String, String> headers) {
      headers.forEach(this::header);
      return this;
    }

    public Builder correlationId(String correlationId) {
      this.correlationId = correlationId;
      return this;
    }

    public Builder causationId(String causationId) {
      this.causationId = causationId;
      return this;
    }

    public Builder createdAt(Instant createdAt) {
      this.createdAt = createdAt;
      return this;
    }

    /** The id set so far, or {@code null} if one is to be generated. */
    UUID id() {
      return id;
    }

    /**
     * Builds the event, generating what was left out.
     *
     * @param now the creation time to use when none was set
     * @throws InvalidEventException if the type or destination is missing or blank
     */
    public Event build(Instant now) {
      if (type == null || type.isBlank()) {
        throw new InvalidEventException("event type is missing: every event needs a type", id, destination);
      }
      if (destination == null || destination.isBlank()) {
        throw new InvalidEventException("event destination is missing for type " + type, id, null);
      }
      return new Event(
          id != null ? id : UuidV7.next(),
          type,
          destination,
          key,
          payload,
          headers,
          correlationId,
          causationId,
          createdAt != null ? createdAt : now);
    }

    /** Builds the event with the current time as its creation time when none was set. */
    public Event build() {
      return build(Instant.now());
    }
  }

  /**
   * Parses an event id from text.
   *
   * @throws InvalidEventException if it is null, blank, or not a canonical UUID
   */
  public static UUID parseId(String text) {
    if (text == null || text.isBlank()) {
      throw new InvalidEventException("event id is missing");
    }
    // UUID.fromString accepts non-canonical shapes such as "1-1-1-1-1"; ids must be exact.
    if (!isCanonicalUuid(text)) {
      throw new InvalidEventException(
          "event id is not a canonical UUID (36 characters, 8-4-4-4-12 hex): '" + abbreviate(text) + "'");
    }
    UUID id = UUID.fromString(text);
    if (id.getMostSignificantBits() == 0 && id.getLeastSignificantBits() == 0) {
      throw new InvalidEventException("event id is the nil UUID, which cannot identify an event");
    }
    return id;
  }

  /** 8-4-4-4-12 hex digits; checked by hand because it runs for every record a consumer reads. */
  private static boolean isCanonicalUuid(String text) {
    if (text.length() != 36) {
      return false;
    }
    for (int i = 0; i < 36; i++) {
      char c = text.charAt(i);
      boolean ok =
          (i == 8 || i == 13 || i == 18 || i == 23)
              ? c == '-'
              : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static String abbreviate(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }
}
