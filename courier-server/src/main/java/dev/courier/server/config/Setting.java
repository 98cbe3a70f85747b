package dev.courier.server.config;

import java.util.Locale;
import java.util.Optional;

/**
 * Every configuration key the {@code courier} command understands, with its built-in default. The
 * environment variable of a key is the key upper-cased with dots and dashes turned into
 * underscores: {@code courier.relay.batch-size} is {@code COURIER_RELAY_BATCH_SIZE}.
 * CONFIGURATION.md documents each one; a test keeps the two in step.
 */
public enum Setting {
  DB_URL("courier.db.url", null, false),
  DB_USER("courier.db.user", null, false),
  DB_PASSWORD("courier.db.password", null, true),
  DB_SCHEMA("courier.db.schema", null, false),
  DB_POOL_SIZE("courier.db.pool-size", "10", false),
  DB_CONNECT_TIMEOUT("courier.db.connect-timeout", "10s", false),

  KAFKA_BOOTSTRAP_SERVERS("courier.kafka.bootstrap-servers", null, false),

  RABBITMQ_URI("courier.rabbitmq.uri", null, false),
  RABBITMQ_PASSWORD("courier.rabbitmq.password", null, true),
  RABBITMQ_PUBLISHER_CONFIRMS("courier.rabbitmq.publisher-confirms", "true", false),
  RABBITMQ_MANDATORY("courier.rabbitmq.mandatory", "true", false),
  RABBITMQ_PERSISTENT_MESSAGES("courier.rabbitmq.persistent-messages", "true", false),

  NATS_URL("courier.nats.url", null, false),
  NATS_TOKEN("courier.nats.token", null, true),
  NATS_USER("courier.nats.user", null, false),
  NATS_PASSWORD("courier.nats.password", null, true),
  NATS_CREDENTIALS_FILE("courier.nats.credentials-file", null, false),
  NATS_DUPLICATE_WINDOW("courier.nats.duplicate-window", null, false),
  NATS_REPLICAS("courier.nats.replicas", "1", false),

  TABLES_OUTBOX("courier.tables.outbox", "courier_outbox", false),
  TABLES_PROCESSED_EVENTS("courier.tables.processed-events", "courier_processed_events", false),
  TABLES_DEAD_LETTERS("courier.tables.dead-letters", "courier_dead_letters", false),
  TABLES_ARCHIVE("courier.tables.archive", "courier_outbox_archive", false),
  TABLES_REPLAYS("courier.tables.replays", "courier_replays", false),
  TABLES_AUDIT("courier.tables.audit", "courier_audit", false),

  RELAY_ID("courier.relay.id", null, false),
  RELAY_TRANSPORT("courier.relay.transport", "kafka", false),
  RELAY_DESTINATIONS("courier.relay.destinations", null, false),
  RELAY_BATCH_SIZE("courier.relay.batch-size", "256", false),
  RELAY_BATCHES_IN_FLIGHT("courier.relay.batches-in-flight", "2", false),
  RELAY_CLAIM_MODE("courier.relay.claim-mode", "lease", false),
  RELAY_DELETE_PUBLISHED("courier.relay.delete-published", "false", false),
  RELAY_MAX_ATTEMPTS("courier.relay.max-attempts", "10", false),
  RELAY_INITIAL_BACKOFF("courier.relay.initial-backoff", "1s", false),
  RELAY_MAX_BACKOFF("courier.relay.max-backoff", "5m", false),
  RELAY_PUBLISH_TIMEOUT("courier.relay.publish-timeout", "30s", false),
  RELAY_LEASE("courier.relay.lease", "60s", false),
  RELAY_MIN_POLL_INTERVAL("courier.relay.min-poll-interval", "5ms", false),
  RELAY_MAX_POLL_INTERVAL("courier.relay.max-poll-interval", "1s", false),
  RELAY_HEARTBEAT_INTERVAL("courier.relay.heartbeat-interval", null, false),
  RELAY_STALL_LIMIT("courier.relay.stall-limit", "1m", false),

  HTTP_ENABLED("courier.http.enabled", "true", false),
  HTTP_HOST("courier.http.host", "127.0.0.1", false),
  HTTP_PORT("courier.http.port", "9477", false),
  HTTP_ALLOWED_HOSTS("courier.http.allowed-hosts", null, false),
  HTTP_TLS_KEYSTORE("courier.http.tls.keystore", null, false),
  HTTP_TLS_KEYSTORE_PASSWORD("courier.http.tls.keystore-password", null, true),
  HTTP_TLS_KEYSTORE_TYPE("courier.http.tls.keystore-type", "PKCS12", false),
  HTTP_ALLOW_PLAINTEXT("courier.http.allow-plaintext", "false", false),

  ADMIN_ENABLED("courier.admin.enabled", "false", false),
  ADMIN_TOKEN("courier.admin.token", null, true),
  ADMIN_OPEN_READS("courier.admin.open-reads", "false", false),

  RETENTION_LEDGER("courier.retention.ledger", "30d", false),
  RETENTION_PUBLISHED("courier.retention.published", "7d", false),
  RETENTION_ARCHIVE("courier.retention.archive", "90d", false),
  RETENTION_ARCHIVE_PUBLISHED("courier.retention.archive-published", "true", false),
  RETENTION_DEAD_LETTERS("courier.retention.dead-letters", "30d", false),
  RETENTION_AUDIT("courier.retention.audit", "off", false),
  RETENTION_INTERVAL("courier.retention.interval", "off", false),

  HEALTH_OUTBOX_MAX_AGE("courier.health.outbox-max-age", "5m", false),
  HEALTH_DEAD_LETTER_GROWTH("courier.health.dead-letter-growth", "10", false),
  HEALTH_DEAD_LETTER_WINDOW("courier.health.dead-letter-window", "5m", false),
  HEALTH_CHECK_INTERVAL("courier.health.check-interval", "15s", false),
  HEALTH_HORIZON_MAX_LAG("courier.health.horizon-max-lag", "5m", false),

  DEMO_DURATION("courier.demo.duration", "60s", false),
  DEMO_WARM_UP("courier.demo.warm-up", "5s", false),
  DEMO_RATE("courier.demo.rate", "10000/min", false),
  DEMO_ROLLBACK_RATE("courier.demo.rollback-rate", "2%", false),
  DEMO_DROP_CONFIRM_RATE("courier.demo.drop-confirm-rate", "0.1%", false),
  DEMO_CONSUMER_CRASH_RATE("courier.demo.consumer-crash-rate", "1/2000", false),
  DEMO_WRITERS("courier.demo.writers", "8", false),
  DEMO_PARTITIONS("courier.demo.partitions", "3", false),
  DEMO_TOPIC("courier.demo.topic", "orders", false),
  DEMO_DRAIN_TIMEOUT("courier.demo.drain-timeout", "120s", false),
  DEMO_PROGRESS_INTERVAL("courier.demo.progress-interval", "5s", false),
  DEMO_WORK_DIR("courier.demo.work-dir", ".courier", false),
  DEMO_KEEP("courier.demo.keep", "false", false),
  DEMO_JSON_LOGS("courier.demo.json-logs", "false", false);

  /**
   * Prefix of pass-through Kafka client properties: {@code
   * courier.kafka.property.security.protocol=SSL} in the properties file sets the client's {@code
   * security.protocol}, and so does the environment variable {@code
   * COURIER_KAFKA_PROPERTY_SECURITY_PROTOCOL} (see {@link #KAFKA_PROPERTY_ENV_PREFIX}).
   */
  public static final String KAFKA_PROPERTY_PREFIX = "courier.kafka.property.";

  /**
   * Prefix of environment variables holding pass-through Kafka client properties. The rest of the
   * name, lower-cased with every {@code _} turned into {@code .}, is the property: {@code
   * COURIER_KAFKA_PROPERTY_SASL_JAAS_CONFIG} sets {@code sasl.jaas.config}. (Kafka's client
   * property names are lower case with dots, so the mapping is unambiguous.)
   */
  public static final String KAFKA_PROPERTY_ENV_PREFIX = "COURIER_KAFKA_PROPERTY_";

  private final String key;
  private final String defaultValue;
  private final boolean secret;

  Setting(String key, String defaultValue, boolean secret) {
    this.key = key;
    this.defaultValue = defaultValue;
    this.secret = secret;
  }

  /** The key, as written in a properties file. */
  public String key() {
    return key;
  }

  /** The environment variable that sets this key. */
  public String envVariable() {
    return envVariable(key);
  }

  /**
   * The pass-through Kafka property an environment variable sets, or empty when the variable is
   * not one ({@link #KAFKA_PROPERTY_ENV_PREFIX}).
   */
  static Optional<String> kafkaPropertyOfEnv(String variable) {
    if (!variable.startsWith(KAFKA_PROPERTY_ENV_PREFIX)
        || variable.length() == KAFKA_PROPERTY_ENV_PREFIX.length()) {
      return Optional.empty();
    }
    return Optional.of(
        variable
            .substring(KAFKA_PROPERTY_ENV_PREFIX.length())
            .toLowerCase(Locale.ROOT)
            .replace('_', '.'));
  }

  /** The environment variable for any key (dots and dashes become underscores, upper case). */
  static String envVariable(String key) {
    return key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  /** The built-in default, or empty when the key has none. */
  public Optional<String> defaultValue() {
    return Optional.ofNullable(defaultValue);
  }

  /** Whether the value is a secret, never printed or put in a message. */
  public boolean secret() {
    return secret;
  }

  /** The setting with this key, if there is one. */
  public static Optional<Setting> forKey(String key) {
    for (Setting s : values()) {
      if (s.key.equals(key)) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }

  /**
   * Whether a pass-through Kafka property holds a secret: {@link Masking#isSecretName}, the one
   * rule for every name.
   */
  static boolean isSecretKafkaProperty(String name) {
    return Masking.isSecretName(name);
  }
}
