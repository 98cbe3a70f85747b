package dev.courier.metrics;

/**
 * The names of Courier's meters: lowercase, dotted, each registered with a description and a base
 * unit. Tags hold bounded values only (destination, transport, consumer, reason, outcome); an
 * event id never appears in a tag.
 */
public final class CourierMetrics {
  private CourierMetrics() {}

  /** Events appended to the outbox. Tags: destination. */
  public static final String OUTBOX_APPENDED = "courier.outbox.appended";
  /** Pending outbox rows (gauge). */
  public static final String OUTBOX_BACKLOG = "courier.outbox.backlog";
  /** Age of the oldest pending outbox row, in seconds (gauge). */
  public static final String OUTBOX_OLDEST_AGE = "courier.outbox.oldest.age";
  /** Outbox rows parked as dead (gauge). */
  public static final String OUTBOX_DEAD = "courier.outbox.dead";

  /** Events the broker confirmed. Tags: destination, transport. */
  public static final String RELAY_PUBLISHED = "courier.relay.published";
  /** Failed publishes scheduled for another attempt. Tags: destination, transport. */
  public static final String RELAY_RETRIES = "courier.relay.retries";
  /** Failed publishes (each attempt). Tags: destination, transport. */
  public static final String RELAY_FAILURES = "courier.relay.failures";
  /** Rows parked as dead by the relay. Tags: destination, transport. */
  public static final String RELAY_DEAD = "courier.relay.dead";
  /** Time from sending a batch to the broker's last confirmation. Tags: transport. */
  public static final String RELAY_PUBLISH_LATENCY = "courier.relay.publish.latency";
  /** Time from an event's creation to the broker's confirmation. Tags: transport. */
  public static final String RELAY_LAG = "courier.relay.lag";

  /** Events whose effect committed. Tags: consumer. */
  public static final String CONSUMER_PROCESSED = "courier.consumer.processed";
  /** Deliveries recognised as duplicates through the ledger. Tags: consumer. */
  public static final String CONSUMER_DEDUPE_HITS = "courier.consumer.dedupe.hits";
  /** Failed handler attempts scheduled for retry. Tags: consumer. */
  public static final String CONSUMER_RETRIES = "courier.consumer.retries";
  /** Events written to the dead-letter table. Tags: consumer, reason. */
  public static final String CONSUMER_DEAD_LETTERS = "courier.consumer.dead.letters";
  /** Time from an event's creation to its committed effect. Tags: consumer. */
  public static final String END_TO_END_LATENCY = "courier.consumer.end.to.end.latency";
}
