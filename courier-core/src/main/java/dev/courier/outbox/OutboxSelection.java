package dev.courier.outbox;

import dev.courier.admin.InvalidRequestException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which dead outbox rows an operator acts on: explicit rows by {@code seq}, every dead row of one
 * destination, or every dead row ({@code all}, which must be asked for explicitly).
 *
 * @param seqs outbox row numbers (the {@code seq} column), or empty
 * @param destination a destination, or {@code null}
 * @param all every dead row
 */
public record OutboxSelection(List<Long> seqs, String destination, boolean all) {

  public OutboxSelection {
    seqs = seqs == null ? List.of() : List.copyOf(seqs);
    destination = destination == null || destination.isBlank() ? null : destination.strip();
    int given = (seqs.isEmpty() ? 0 : 1) + (destination == null ? 0 : 1) + (all ? 1 : 0);
    if (given == 0) {
      throw new InvalidRequestException(
          "selection", "name outbox rows (ids), a destination, or all dead rows explicitly (all)");
    }
    if (given > 1) {
      throw new InvalidRequestException("selection", "give only one of ids, destination and all");
    }
    for (Long s : seqs) {
      if (s == null || s < 1) {
        throw new InvalidRequestException("ids", "outbox ids are positive whole numbers, was " + s);
      }
    }
  }

  public static OutboxSelection ids(List<Long> seqs) {
    if (seqs.isEmpty()) {
      throw new InvalidRequestException("ids", "at least one id is required");
    }
    return new OutboxSelection(seqs, null, false);
  }

  public static OutboxSelection destination(String destination) {
    if (destination == null || destination.isBlank()) {
      throw new InvalidRequestException("destination", "a destination name is required");
    }
    return new OutboxSelection(List.of(), destination, false);
  }

  public static OutboxSelection allDead() {
    return new OutboxSelection(List.of(), null, true);
  }

  /** The selection as plain values, for the audit trail. */
  public Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    if (!seqs.isEmpty()) {
      m.put("ids", seqs);
    }
    if (destination != null) {
      m.put("destination", destination);
    }
    if (all) {
      m.put("all", true);
    }
    return m;
  }
}
