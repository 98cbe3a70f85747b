package dev.courier.rabbitmq;

import dev.courier.ConfigurationException;
import dev.courier.UnsafeConfigurationException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The settings of a {@link RabbitMqTransport.Builder} that weaken delivery, each with the risk it
 * brings: refused unless accepted with {@link RabbitMqTransport.Builder#allowUnsafe(String)}.
 */
final class UnsafeSettings {
  /** The settings {@code allowUnsafe} can name. */
  static final Set<String> NAMES =
      Set.of("publisherConfirms", "mandatory", "persistentMessages", "durableQueues", "autoAck");

  private UnsafeSettings() {}

  /**
   * The unsafe settings of {@code b}, each with its risk, once every one is known to be accepted.
   *
   * @throws ConfigurationException if {@code allowUnsafe} names a setting that is not one of these
   * @throws UnsafeConfigurationException for an unsafe setting that was not accepted
   */
  static Map<String, String> accepted(RabbitMqTransport.Builder b) {
    for (String a : b.allowedUnsafe) {
      if (!NAMES.contains(a)) {
        throw new ConfigurationException(
            "allowUnsafe",
            "'"
                + a
                + "' is not a setting the rabbitmq transport refuses; the ones that can be allowed"
                + " are "
                + NAMES);
      }
    }
    Map<String, String> found = found(b);
    for (Map.Entry<String, String> u : found.entrySet()) {
      if (!b.allowedUnsafe.contains(u.getKey())) {
        throw new UnsafeConfigurationException(
            u.getKey(),
            u.getValue(),
            "RabbitMqTransport.Builder.allowUnsafe(\"" + u.getKey() + "\")");
      }
    }
    return found;
  }

  /** Every unsafe setting of {@code b} with its risk, in a stable order. */
  private static Map<String, String> found(RabbitMqTransport.Builder b) {
    Map<String, String> found = new LinkedHashMap<>();
    if (!b.publisherConfirms) {
      found.put(
          "publisherConfirms",
          "publisherConfirms=false: the broker never confirms a publish, so an event counts as"
              + " published once it is written to the socket; an event the broker loses or refuses"
              + " is lost silently.");
    }
    if (!b.mandatory) {
      found.put(
          "mandatory",
          "mandatory=false: RabbitMQ confirms a message that no queue receives (no binding for its"
              + " routing key, a deleted queue) and drops it, so the relay would mark such events"
              + " published.");
    }
    if (!b.persistentMessages) {
      found.put(
          "persistentMessages",
          "persistentMessages=false: messages are kept in memory only (delivery mode 1), so"
              + " confirmed events are lost when the broker restarts.");
    }
    if (!b.durableQueues) {
      found.put(
          "durableQueues",
          "durableQueues=false: a classic non-durable queue and every message in it disappear when"
              + " the broker restarts.");
    }
    if (b.autoAck) {
      found.put(
          "autoAck",
          "autoAck=true: the broker forgets each message as soon as it sends it, before its effect"
              + " is committed, so a consumer crash or a failed handler loses the event.");
    }
    return found;
  }
}
