package dev.courier.internal;

import dev.courier.spi.ReceivedMessage;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Consumer names and the ids a consumer's processed-events ledger records deliveries under, shared
 * by the inbox that writes the ledger and by the dead-letter and replay operations that read it.
 * Public for technical reasons; the API is {@link dev.courier.inbox.IdempotentProcessor}'s.
 */
public final class LedgerIds {
  private static final Pattern CONSUMER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  private LedgerIds() {}

  /**
   * Whether {@code name} is a valid consumer name: 1 to 128 letters, digits, '.', '_' or '-',
   * starting with a letter or digit.
   */
  public static boolean isValidConsumerName(String name) {
    return name != null && CONSUMER_NAME.matcher(name).matches();
  }

  /**
   * The id under which a consumer's ledger records its delivery of a replay addressed to it: a
   * name-based (version 3) UUID of the replay id and the event id.
   */
  public static UUID replayLedgerId(UUID eventId, String replayId) {
    Objects.requireNonNull(eventId, "eventId");
    Objects.requireNonNull(replayId, "replayId");
    return UUID.nameUUIDFromBytes(
        ("courier-replay:" + replayId + ":" + eventId).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The id under which {@code consumer}'s ledger records a delivery of event {@code eventId} with
   * these headers: the replay's ledger id for a replay addressed to that consumer, else the event
   * id.
   */
  public static UUID ledgerId(String consumer, UUID eventId, Map<String, String> headers) {
    String replayId = headers.get(ReceivedMessage.REPLAY_ID);
    if (replayId != null && consumer.equals(headers.get(ReceivedMessage.REPLAY_CONSUMER))) {
      return replayLedgerId(eventId, replayId);
    }
    return eventId;
  }
}
