package dev.courier.deadletter;

import java.time.Instant;
import java.util.Map;

/**
 * Everything stored about one dead letter. The payload may hold personal data: show it to
 * operators, never log it. {@link #toString()} leaves it and the header values out.
 *
 * @param summary the listing fields
 * @param payload the payload bytes as received, or {@code null}
 * @param headers the headers as received
 * @param stackTrace the printed stack trace of the last failure, if any
 * @param source where the record came from, for example {@code orders-1@1042}
 * @param correlationId the correlation id, if any
 * @param causationId the causation id, if any
 * @param eventCreatedAt when the event was created, if known
 */
public record DeadLetterDetail(
    DeadLetterSummary summary,
    byte[] payload,
    Map<String, String> headers,
    String stackTrace,
    String source,
    String correlationId,
    String causationId,
    Instant eventCreatedAt,
    Long payloadSize,
    String payloadSha256) {

  public DeadLetterDetail {
    headers = headers == null ? Map.of() : Map.copyOf(headers);
    if (payloadSize == null && payload != null) {
      payloadSize = (long) payload.length;
    }
  }

  /** A dead letter written before sizes and hashes were recorded: its payload is whole. */
  public DeadLetterDetail(
      DeadLetterSummary summary,
      byte[] payload,
      Map<String, String> headers,
      String stackTrace,
      String source,
      String correlationId,
      String causationId,
      Instant eventCreatedAt) {
    this(summary, payload, headers, stackTrace, source, correlationId, causationId, eventCreatedAt, null, null);
  }

  /**
   * Whether {@link #payload()} is only the first bytes of the message's payload: a message over
   * its consumer's size limit keeps a prefix ({@link DeadLetterStore#OVERSIZED_PREFIX_BYTES});
   * {@link #payloadSize()} and {@link #payloadSha256()} describe the whole.
   */
  public boolean payloadTruncated() {
    return payload != null && payloadSize != null && payloadSize > payload.length;
  }

  @Override
  public String toString() {
    return "DeadLetterDetail[id=" + summary.id() + ", eventId=" + summary.eventId() + ", consumer="
        + summary.consumer() + ", payloadBytes=" + (payload == null ? 0 : payload.length)
        + (payloadTruncated() ? " of " + payloadSize : "")
        + ", headers=" + headers.keySet() + "]";
  }
}
