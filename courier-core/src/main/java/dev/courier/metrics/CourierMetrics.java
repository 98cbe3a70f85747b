package dev.courier.metrics;

/**
 * The names of Courier's meters: lowercase, dotted, each registered with a description and a base
 * unit. Tags hold bounded values only (destination, transport, consumer, reason, relay); an event
 * id never appears in a tag.
 *
 * <p>Exported to Prometheus, a name becomes snake case with the base unit appended, and counters
 * end in {@code _total}: {@value #RELAY_PUBLISHED} is scraped as {@code
 * courier_relay_published_events_total}, {@value #OUTBOX_OLDEST_AGE} as {@code
 * courier_outbox_oldest_age_seconds}. docs/OPERATIONS.md lists every exported name.
 */
public final class CourierMetrics {
  private CourierMetrics() {}

  /** Pending outbox rows (gauge). */
  public static final String OUTBOX_BACKLOG = "courier.outbox.backlog";
  /** Age of the oldest pending outbox row, in seconds (gauge). */
  public static final String OUTBOX_OLDEST_AGE = "courier.outbox.oldest.age";
  /** Outbox rows parked as dead (gauge). */
  public static final String OUTBOX_DEAD = "courier.outbox.dead";
  /**
   * How long the oldest running transaction of the PostgreSQL cluster has held the transaction
   * horizon back, in seconds (gauge). Read by {@code HorizonMonitor}.
   */
  public static final String OUTBOX_HORIZON_LAG = "courier.outbox.horizon.lag";
  /**
   * Transaction ids assigned since the one holding the horizon back: {@code xmax - xmin} of {@code
   * pg_current_snapshot()} (gauge, in transactions). Read by {@code HorizonMonitor}.
   */
  public static final String OUTBOX_HORIZON_XID_DISTANCE = "courier.outbox.horizon.distance";

  /** Events the broker confirmed. Tags: destination, transport. */
  public static final String RELAY_PUBLISHED = "courier.relay.published";
  /** Failed publishes scheduled for another attempt. Tags: destination, transport. */
  public static final String RELAY_RETRIES = "courier.relay.retries";
  /** Failed publishes (each attempt). Tags: destination, transport. */
  public static final String RELAY_FAILURES = "courier.relay.failures";
  /** Rows parked as dead by the relay. Tags: destination, transport. */
  public static final String RELAY_DEAD = "courier.relay.dead";
  /**
   * Publishes the broker recognised as duplicates of events it already stores (JetStream's
   * {@code Nats-Msg-Id} window). Tags: destination, transport.
   */
  public static final String RELAY_BROKER_DEDUPE_HITS = "courier.relay.broker.dedupe.hits";
  /** Time from sending a batch to the broker's last confirmation. Tags: transport. */
  public static final String RELAY_PUBLISH_LATENCY = "courier.relay.publish.latency";
  /** Time from an event's creation to the broker's confirmation. Tags: transport. */
  public static final String RELAY_LAG = "courier.relay.lag";
  /**
   * Relays whose loop is running (gauge): 1 while the relay runs, 0 before its start and after its
   * stop. Tags: relay, transport.
   */
  public static final String RELAY_RUNNING = "courier.relay.running";
  /**
   * When the relay last completed a pass over the outbox, in seconds since the epoch (gauge); a pass
   * that failed (database unreachable) does not count. Tags: relay, transport.
   */
  public static final String RELAY_LAST_PASS = "courier.relay.last.pass.timestamp";

  /**
   * Log partitions a relay lost to another relay while it owned them (its lease ended, for
   * example after a long pause): it stopped publishing them at once. Tags: relay, transport.
   */
  public static final String RELAY_FENCED = "courier.relay.fenced";

  /** Events whose effect committed. Tags: consumer. */
  public static final String CONSUMER_PROCESSED = "courier.consumer.processed";
  /** Deliveries recognised as duplicates through the ledger. Tags: consumer. */
  public static final String CONSUMER_DEDUPE_HITS = "courier.consumer.dedupe.hits";
  /**
   * Replayed deliveries addressed to another consumer (a history replay to one consumer), skipped
   * without a ledger row or a handler call. Tags: consumer.
   */
  public static final String CONSUMER_REPLAY_SKIPPED = "courier.consumer.replay.skipped";
  /** Failed handler attempts scheduled for retry. Tags: consumer. */
  public static final String CONSUMER_RETRIES = "courier.consumer.retries";
  /** Events written to the dead-letter table. Tags: consumer, reason. */
  public static final String CONSUMER_DEAD_LETTERS = "courier.consumer.dead.letters";

  /**
   * Gauge: 1 while a consumer is paused ({@code ConsumerPauses}: by an operator, or by itself after
   * too many dead letters), else 0; reported by each of its processors. Tag: consumer.
   */
  public static final String CONSUMER_PAUSED = "courier.consumer.paused";
  /** Consumer dead letters parked with status {@code DEAD} (gauge). Tags: consumer. */
  public static final String CONSUMER_DEAD_LETTER_BACKLOG = "courier.consumer.dead.letters.backlog";
  /** Time from an event's creation to its committed effect. Tags: consumer. */
  public static final String END_TO_END_LATENCY = "courier.consumer.end.to.end.latency";
}
