package dev.courier.server.demo;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.courier.Event;
import dev.courier.PoisonEventException;
import java.io.IOException;
import java.util.UUID;

/**
 * The payload of the demo's {@code OrderConfirmed} event. The customer's e-mail address is personal
 * data: it travels in the payload and is never logged (Courier logs ids, not payloads).
 */
record OrderConfirmed(
    UUID orderId, String customerEmail, String sku, int quantity, long amountCents) {
  static final String TYPE = "OrderConfirmed";

  /** Payloads are a few hundred bytes; anything much larger is not ours and is refused unread. */
  private static final int MAX_PAYLOAD_BYTES = 4096;

  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
          .build();

  static {
    JSON.getFactory()
        .setStreamReadConstraints(
            StreamReadConstraints.builder()
                .maxStringLength(1024)
                .maxNestingDepth(4)
                .maxNumberLength(32)
                .build());
  }

  byte[] toJson() {
    try {
      return JSON.writeValueAsBytes(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize an OrderConfirmed payload", e);
    }
  }

  /**
   * Reads the payload of an event.
   *
   * @throws PoisonEventException if the payload is too large or not a valid order (retrying cannot
   *     help; the event is dead-lettered)
   */
  static OrderConfirmed from(Event event) {
    if (event.payloadSize() > MAX_PAYLOAD_BYTES) {
      throw new PoisonEventException(
          "OrderConfirmed payload is " + event.payloadSize() + " bytes, over " + MAX_PAYLOAD_BYTES);
    }
    OrderConfirmed order;
    try {
      order = JSON.readValue(event.payload(), OrderConfirmed.class);
    } catch (IOException e) {
      // the parser's message may quote the payload: say only what kind of failure it was
      throw new PoisonEventException(
          "OrderConfirmed payload is not valid JSON for an order ("
              + e.getClass().getSimpleName()
              + ")");
    }
    if (order.orderId() == null
        || order.sku() == null
        || order.customerEmail() == null
        || order.quantity() < 1) {
      throw new PoisonEventException("OrderConfirmed payload lacks a required field");
    }
    return order;
  }
}
