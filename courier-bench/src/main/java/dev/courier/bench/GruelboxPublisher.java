package dev.courier.bench;

/**
 * What the gruelbox transaction-outbox peer schedules: one record to publish. gruelbox stores the
 * call (class, method and arguments as JSON) in its outbox table and invokes it after the commit,
 * or later from {@code flush()}. The payload travels as Base64 because the arguments are JSON.
 */
public interface GruelboxPublisher {
  void publish(String topic, String key, String payloadBase64);
}
