package dev.courier.deadletter;

import dev.courier.admin.InvalidRequestException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Which dead letters an operation applies to: either explicit ids, or any combination of consumer,
 * event type, key, fingerprint, status and a time range on the last failure ({@code from}
 * inclusive, {@code to} exclusive). Fields left {@code null} do not restrict.
 *
 * <p>Replay and discard always act on {@link DeadLetterStatus#DEAD} rows only, and refuse a
 * filter that selects nothing in particular unless {@link Builder#all()} says so explicitly.
 *
 * @param ids dead-letter ids, empty when selecting by fields
 */
public record DeadLetterFilter(
    List<Long> ids,
    String consumer,
    String type,
    String key,
    String fingerprint,
    Instant from,
    Instant to,
    DeadLetterStatus status,
    boolean all) {
  private static final Pattern FINGERPRINT = Pattern.compile("[0-9a-f]{16}");

  public DeadLetterFilter {
    ids = ids == null ? List.of() : List.copyOf(ids);
    if (from != null && to != null && !from.isBefore(to)) {
      throw new InvalidRequestException(
          "from", "the time range is empty: from (" + from + ") must be before to (" + to + ")");
    }
    if (fingerprint != null && !FINGERPRINT.matcher(fingerprint).matches()) {
      throw new InvalidRequestException(
          "fingerprint", "a fingerprint is 16 lowercase hex characters (see 'dlq groups')");
    }
    if (!ids.isEmpty() && (consumer != null || type != null || key != null || fingerprint != null
        || from != null || to != null)) {
      throw new InvalidRequestException("ids", "give either ids or filter fields, not both");
    }
    for (Long id : ids) {
      if (id == null || id < 1) {
        throw new InvalidRequestException("ids", "dead-letter ids are positive whole numbers, was " + id);
      }
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A filter selecting these ids. */
  public static DeadLetterFilter ids(List<Long> ids) {
    if (ids.isEmpty()) {
      throw new InvalidRequestException("ids", "at least one id is required");
    }
    return new DeadLetterFilter(ids, null, null, null, null, null, null, null, false);
  }

  /** Whether the filter names ids or at least one field, or selects everything on purpose. */
  public boolean isSpecific() {
    return !ids.isEmpty()
        || consumer != null
        || type != null
        || key != null
        || fingerprint != null
        || from != null
        || to != null;
  }

  /**
   * Checks that a mutation is not about to apply to every dead letter by accident.
   *
   * @throws InvalidRequestException if neither ids, a field nor "all" was given
   */
  public void requireSelection() {
    if (!isSpecific() && !all) {
      throw new InvalidRequestException(
          "filter",
          "name dead-letter ids or at least one filter (consumer, type, key, fingerprint, from,"
              + " to); to select every dead letter say so explicitly (all)");
    }
  }

  /** The filter as plain values, for the audit trail and replay records. */
  public Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    if (!ids.isEmpty()) {
      m.put("ids", ids);
    }
    put(m, "consumer", consumer);
    put(m, "type", type);
    put(m, "key", key);
    put(m, "fingerprint", fingerprint);
    put(m, "from", from == null ? null : from.toString());
    put(m, "to", to == null ? null : to.toString());
    put(m, "status", status == null ? null : status.name());
    if (all) {
      m.put("all", true);
    }
    return m;
  }

  private static void put(Map<String, Object> m, String k, Object v) {
    if (v != null) {
      m.put(k, v);
    }
  }

  /** Builds a filter; blank strings count as not set. */
  public static final class Builder {
    private final List<Long> ids = new ArrayList<>();
    private String consumer;
    private String type;
    private String key;
    private String fingerprint;
    private Instant from;
    private Instant to;
    private DeadLetterStatus status;
    private boolean all;

    private Builder() {}

    public Builder ids(List<Long> ids) {
      this.ids.addAll(Objects.requireNonNull(ids, "ids"));
      return this;
    }

    public Builder consumer(String consumer) {
      this.consumer = blankToNull(consumer);
      return this;
    }

    public Builder type(String type) {
      this.type = blankToNull(type);
      return this;
    }

    public Builder key(String key) {
      this.key = blankToNull(key);
      return this;
    }

    public Builder fingerprint(String fingerprint) {
      this.fingerprint = blankToNull(fingerprint);
      return this;
    }

    /** Dead letters whose last failure is at or after this instant. */
    public Builder from(Instant from) {
      this.from = from;
      return this;
    }

    /** Dead letters whose last failure is before this instant. */
    public Builder to(Instant to) {
      this.to = to;
      return this;
    }

    /** Only dead letters in this status (listing only; replay and discard act on DEAD ones). */
    public Builder status(DeadLetterStatus status) {
      this.status = status;
      return this;
    }

    /** Selects every dead letter when no other field is given, for replay and discard. */
    public Builder all() {
      this.all = true;
      return this;
    }

    public DeadLetterFilter build() {
      return new DeadLetterFilter(ids, consumer, type, key, fingerprint, from, to, status, all);
    }

    private static String blankToNull(String s) {
      return s == null || s.isBlank() ? null : s.strip();
    }
  }
}
