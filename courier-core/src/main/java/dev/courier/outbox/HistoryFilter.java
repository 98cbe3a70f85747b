package dev.courier.outbox;

import dev.courier.admin.InvalidRequestException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which published events a history replay takes: a time range on when the events were created
 * ({@code from} inclusive, {@code to} exclusive), an event type, a key, a destination. Fields left
 * {@code null} do not restrict; at least one must be given unless {@code all} says otherwise.
 */
public record HistoryFilter(
    Instant from, Instant to, String type, String key, String destination, boolean all) {

  public HistoryFilter {
    type = blankToNull(type);
    key = blankToNull(key);
    destination = blankToNull(destination);
    if (from != null && to != null && !from.isBefore(to)) {
      throw new InvalidRequestException(
          "from", "the time range is empty: from (" + from + ") must be before to (" + to + ")");
    }
    if (from == null && to == null && type == null && key == null && destination == null && !all) {
      throw new InvalidRequestException(
          "filter",
          "name a time range (from, to), a type, a key or a destination; to replay all published"
              + " history say so explicitly (all)");
    }
  }

  /** The filter as plain values, for the audit trail. */
  public Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    if (from != null) {
      m.put("from", from.toString());
    }
    if (to != null) {
      m.put("to", to.toString());
    }
    if (type != null) {
      m.put("type", type);
    }
    if (key != null) {
      m.put("key", key);
    }
    if (destination != null) {
      m.put("destination", destination);
    }
    if (all) {
      m.put("all", true);
    }
    return m;
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.strip();
  }
}
