package dev.courier.outbox;

import dev.courier.admin.InvalidRequestException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.internal.LedgerIds;
import dev.courier.internal.Text;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a history replay sends the events it takes: to their own destinations or to {@code
 * destination}, for every consumer of it or only for {@code consumer}.
 *
 * <p>An event replayed to another destination keeps its event id; consumers of that destination
 * deduplicate on it as on any event. An event replayed to one consumer carries the {@link
 * dev.courier.spi.ReceivedMessage#REPLAY_CONSUMER} and {@link
 * dev.courier.spi.ReceivedMessage#REPLAY_ID} headers: the other consumers of the destination
 * acknowledge it without handling it, and the named consumer handles it once for that replay even
 * if its ledger already holds the event (see {@link IdempotentProcessor}).
 *
 * @param destination the destination to publish to instead of each event's own, or {@code null}
 * @param consumer the only consumer that is to handle the events, or {@code null} for all
 */
public record ReplayTarget(String destination, String consumer) {
  /** Every event to its own destination, for every consumer of it. */
  public static final ReplayTarget ORIGINAL = new ReplayTarget(null, null);

  /**
   * @throws InvalidRequestException for a blank, over-long or unprintable destination ({@code
   *     toDestination}) or a malformed consumer name ({@code consumer})
   */
  public ReplayTarget {
    if (destination != null) {
      if (destination.isBlank()) {
        throw new InvalidRequestException("toDestination", "must not be blank");
      }
      if (destination.length() > Outbox.MAX_NAME_LENGTH) {
        throw new InvalidRequestException(
            "toDestination",
            "is "
                + destination.length()
                + " characters, over the limit of "
                + Outbox.MAX_NAME_LENGTH);
      }
      if (!destination.equals(destination.strip())
          || destination.chars().anyMatch(ch -> Character.isISOControl(ch))) {
        throw new InvalidRequestException(
            "toDestination", "must not hold control characters or leading or trailing spaces");
      }
    }
    if (consumer != null && !LedgerIds.isValidConsumerName(consumer)) {
      throw new InvalidRequestException(
          "consumer",
          "'"
              + Text.printable(consumer)
              + "' is not a valid consumer name: 1 to 128 letters, digits, '.', '_' or '-', starting with a"
              + " letter or digit");
    }
  }

  /** The target as plain values, for the audit trail (empty for {@link #ORIGINAL}). */
  public Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    if (destination != null) {
      m.put("toDestination", destination);
    }
    if (consumer != null) {
      m.put("consumer", consumer);
    }
    return m;
  }
}
