package dev.courier.server.config;

import dev.courier.relay.Relay;
import dev.courier.ConfigurationException;
import dev.courier.jdbc.CourierTables;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The configuration of one {@code courier} command, merged from four layers, lowest precedence
 * first: built-in defaults, an optional properties file ({@code --config FILE}), environment
 * variables ({@code COURIER_...}, see {@link Setting#envVariable()}; pass-through Kafka client
 * properties as {@code COURIER_KAFKA_PROPERTY_...}, see {@link Setting#KAFKA_PROPERTY_ENV_PREFIX}),
 * command-line options.
 *
 * <p>Every value is parsed and checked once, in {@link Loader#load()}; a malformed or out-of-range
 * value fails there with an {@link InvalidSettingException} that names the key, where the value
 * came from and the rule (further bad values are attached as suppressed exceptions). Unknown keys
 * in the file are refused too, so that a typo does not silently fall back to a default. An empty
 * value counts as not set in that layer.
 *
 * <p>Instances are immutable and thread-safe. {@link #toString()} and {@link #describe()} never
 * show a password or secret Kafka property, and hide passwords inside the JDBC URL.
 */
public final class CourierConfig {
  private static final Pattern TOPIC = Pattern.compile("[A-Za-z0-9._-]{1,249}");
  private static final Duration MAX_DURATION = Duration.ofDays(1);

  private final Map<String, Value> values;
  private final DatabaseSettings database;
  private final KafkaSettings kafka;
  private final RabbitMqSettings rabbitMq;
  private final NatsSettings nats;
  private final CourierTables tables;
  private final RelaySettings relay;
  private final HttpSettings http;
  private final HealthSettings health;
  private final DemoSettings demo;
  private final AdminSettings admin;
  private final RetentionSettings retention;

  private CourierConfig(Map<String, Value> values, Parsed p) {
    this.values = values;
    this.database = p.database;
    this.kafka = p.kafka;
    this.rabbitMq = p.rabbitMq;
    this.nats = p.nats;
    this.tables = p.tables;
    this.relay = p.relay;
    this.http = p.http;
    this.health = p.health;
    this.demo = p.demo;
    this.admin = p.admin;
    this.retention = p.retention;
  }

  /** Starts loading a configuration. */
  public static Loader loader() {
    return new Loader();
  }

  /** The built-in defaults alone. */
  public static CourierConfig defaults() {
    return loader().load();
  }

  public DatabaseSettings database() {
    return database;
  }

  public KafkaSettings kafka() {
    return kafka;
  }

  /** How to reach RabbitMQ ({@code courier.rabbitmq.*}). */
  public RabbitMqSettings rabbitMq() {
    return rabbitMq;
  }

  /** How to reach NATS JetStream ({@code courier.nats.*}). */
  public NatsSettings nats() {
    return nats;
  }

  public CourierTables tables() {
    return tables;
  }

  public RelaySettings relay() {
    return relay;
  }

  public HttpSettings http() {
    return http;
  }

  public HealthSettings health() {
    return health;
  }

  public DemoSettings demo() {
    return demo;
  }

  /** The HTTP admin API ({@code courier.admin.*}). */
  public AdminSettings admin() {
    return admin;
  }

  /** Retention of the ledger, the outbox and its archive ({@code courier.retention.*}). */
  public RetentionSettings retention() {
    return retention;
  }

  /** The value in force for a setting, with its origin, or empty if it is not set at all. */
  public Optional<Value> value(Setting setting) {
    return Optional.ofNullable(values.get(setting.key()));
  }

  /** Every value in force (defaults included), sorted by key. */
  public Collection<Value> values() {
    return values.values();
  }

  /**
   * The error for a setting that a command needs but that is not set, naming every way to set it.
   *
   * @param option the command-line option that sets it, or {@code null} if there is none
   */
  public static ConfigurationException missing(Setting setting, String needed, String option) {
    return new ConfigurationException(
        setting.key(),
        "is not set, and "
            + needed
            + "; set it in the --config file, with environment variable "
            + setting.envVariable()
            + (option == null ? "" : " or with " + option));
  }

  /**
   * A duration given to a command-line option that is not a setting, read with the settings' own
   * rules (a unit is required: {@code 6h}, {@code 1d}; see {@link dev.courier.internal.Durations}).
   *
   * @throws InvalidSettingException naming the option
   */
  public static java.time.Duration durationOption(
      String option, String text, java.time.Duration min, java.time.Duration max) {
    return ValueParser.duration(new Value(option, text, new Origin.Option(option), false), min, max);
  }

  /** One line per value in force: key, value (secrets masked), origin. */
  public String describe() {
    int width = values.keySet().stream().mapToInt(String::length).max().orElse(0);
    StringBuilder sb = new StringBuilder();
    for (Value v : values.values()) {
      String shown = v.secret() ? Masking.SECRET : Masking.url(v.text());
      String origin = v.origin().describe();
      if (v.key().equals(Setting.RELAY_BATCH_SIZE.key())
          && v.origin() instanceof Origin.Default
          && relay.claimMode() == Relay.ClaimMode.LOG) {
        // not given: the relay uses log mode's own default, not the one for claimed rows
        shown = String.valueOf(relay.batchSize());
        origin = "default in log mode";
      }
      sb.append(String.format(Locale.ROOT, "%-" + width + "s = %s  (%s)%n", v.key(), shown, origin));
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("CourierConfig[");
    boolean first = true;
    for (Value v : values.values()) {
      if (!first) {
        sb.append(", ");
      }
      first = false;
      sb.append(v.key()).append('=').append(v.secret() ? Masking.SECRET : Masking.url(v.text()));
    }
    return sb.append(']').toString();
  }

  /**
   * Collects the layers and loads them. Layers may be given in any order; precedence is fixed
   * (options over environment over file over defaults).
   */
  public static final class Loader {
    private Path file;
    private Map<String, String> environment = Map.of();
    private final List<Value> options = new ArrayList<>();

    private Loader() {}

    /** The properties file to read ({@code --config}); {@code null} for none. */
    public Loader file(Path file) {
      this.file = file;
      return this;
    }

    /**
     * The environment to read {@code COURIER_...} variables from, usually {@link System#getenv()}.
     */
    public Loader environment(Map<String, String> environment) {
      this.environment = Map.copyOf(Objects.requireNonNull(environment, "environment"));
      return this;
    }

    /**
     * A value given on the command line. A {@code null} value means the option was not given.
     *
     * @param optionName the option as the user typed it, for messages, such as {@code --rate}
     */
    public Loader option(Setting setting, String optionName, String value) {
      if (value != null) {
        options.add(
            new Value(setting.key(), value, new Origin.Option(optionName), setting.secret()));
      }
      return this;
    }

    /**
     * Merges and checks every layer.
     *
     * @throws InvalidSettingException naming the key and origin of the first bad value (later ones
     *     are suppressed exceptions)
     * @throws ConfigurationException if the file cannot be read
     */
    public CourierConfig load() {
      Map<String, Value> merged = new TreeMap<>();
      for (Setting s : Setting.values()) {
        s.defaultValue()
            .ifPresent(
                d -> merged.put(s.key(), new Value(s.key(), d, new Origin.Default(), s.secret())));
      }
      List<InvalidSettingException> errors = new ArrayList<>();
      if (file != null) {
        readFile(file, merged, errors);
      }
      for (Setting s : Setting.values()) {
        String v = environment.get(s.envVariable());
        if (v != null && !v.isBlank()) {
          merged.put(s.key(), new Value(s.key(), v, new Origin.Env(s.envVariable()), s.secret()));
        }
      }
      for (Map.Entry<String, String> e : new TreeMap<>(environment).entrySet()) {
        Optional<String> property = Setting.kafkaPropertyOfEnv(e.getKey());
        if (property.isPresent() && !e.getValue().isBlank()) {
          String key = Setting.KAFKA_PROPERTY_PREFIX + property.get();
          merged.put(
              key,
              new Value(
                  key,
                  e.getValue(),
                  new Origin.Env(e.getKey()),
                  Setting.isSecretKafkaProperty(property.get())));
        }
      }
      for (Value v : options) {
        if (!v.text().isBlank()) {
          merged.put(v.key(), v);
        }
      }
      Parsed parsed = new Parsed(merged, errors);
      if (!errors.isEmpty()) {
        InvalidSettingException first = errors.getFirst();
        for (int i = 1; i < errors.size(); i++) {
          first.addSuppressed(errors.get(i));
        }
        throw first;
      }
      return new CourierConfig(java.util.Collections.unmodifiableMap(merged), parsed);
    }

    private static void readFile(
        Path file, Map<String, Value> merged, List<InvalidSettingException> errors) {
      Properties props = new Properties();
      try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        props.load(r);
      } catch (NoSuchFileException e) {
        throw new ConfigurationException("--config", "file " + file + " does not exist");
      } catch (IOException | IllegalArgumentException e) {
        throw new ConfigurationException("--config", "cannot read " + file + ": " + e.getMessage());
      }
      Origin origin = new Origin.File(file);
      for (String key : new TreeMap<>(Map.copyOf(toMap(props))).keySet()) {
        String text = props.getProperty(key);
        if (key.startsWith(Setting.KAFKA_PROPERTY_PREFIX)
            && key.length() > Setting.KAFKA_PROPERTY_PREFIX.length()) {
          if (!text.isBlank()) {
            String name = key.substring(Setting.KAFKA_PROPERTY_PREFIX.length());
            merged.put(key, new Value(key, text, origin, Setting.isSecretKafkaProperty(name)));
          }
          continue;
        }
        Optional<Setting> setting = Setting.forKey(key);
        if (setting.isEmpty()) {
          errors.add(
              new InvalidSettingException(key, origin, "is not a known setting" + suggestion(key)));
          continue;
        }
        if (!text.isBlank()) {
          merged.put(key, new Value(key, text, origin, setting.get().secret()));
        }
      }
    }

    private static Map<String, String> toMap(Properties props) {
      Map<String, String> m = new LinkedHashMap<>();
      for (String name : props.stringPropertyNames()) {
        m.put(name, props.getProperty(name));
      }
      return m;
    }

    /**
     * "; did you mean courier.relay.batch-size?" when the key differs only in punctuation or case.
     */
    private static String suggestion(String key) {
      String wanted = squash(key);
      for (Setting s : Setting.values()) {
        if (squash(s.key()).equals(wanted)) {
          return "; did you mean " + s.key() + "?";
        }
      }
      if (!key.startsWith("courier.")) {
        return "; Courier's keys start with 'courier.' (see docs/CONFIGURATION.md)";
      }
      return " (see docs/CONFIGURATION.md for the list)";
    }

    private static String squash(String key) {
      return key.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "");
    }
  }

  /** Parses every merged value, collecting errors instead of stopping at the first. */
  private static final class Parsed {
    private final Map<String, Value> values;
    private final List<InvalidSettingException> errors;
    final DatabaseSettings database;
    final KafkaSettings kafka;
    final RabbitMqSettings rabbitMq;
    final NatsSettings nats;
    final CourierTables tables;
    final RelaySettings relay;
    final HttpSettings http;
    final HealthSettings health;
    final DemoSettings demo;
    final AdminSettings admin;
    final RetentionSettings retention;

    Parsed(Map<String, Value> values, List<InvalidSettingException> errors) {
      this.values = values;
      this.errors = errors;
      this.database =
          new DatabaseSettings(
              optional(Setting.DB_URL, ValueParser::text),
              optional(Setting.DB_USER, ValueParser::text),
              optional(Setting.DB_PASSWORD, Value::text),
              optional(Setting.DB_SCHEMA, this::identifier),
              wholeNumber(Setting.DB_POOL_SIZE, 1, 1000),
              duration(Setting.DB_CONNECT_TIMEOUT, Duration.ofMillis(250), Duration.ofMinutes(10)));
      Map<String, String> kafkaProps = new TreeMap<>();
      values.forEach(
          (k, v) -> {
            if (k.startsWith(Setting.KAFKA_PROPERTY_PREFIX)) {
              kafkaProps.put(k.substring(Setting.KAFKA_PROPERTY_PREFIX.length()), v.text().strip());
            }
          });
      this.kafka =
          new KafkaSettings(
              optional(Setting.KAFKA_BOOTSTRAP_SERVERS, ValueParser::text), kafkaProps);
      this.rabbitMq =
          new RabbitMqSettings(
              optional(Setting.RABBITMQ_URI, ValueParser::text),
              optional(Setting.RABBITMQ_PASSWORD, Value::text),
              withDefault(Setting.RABBITMQ_PUBLISHER_CONFIRMS, ValueParser::bool),
              withDefault(Setting.RABBITMQ_MANDATORY, ValueParser::bool),
              withDefault(Setting.RABBITMQ_PERSISTENT_MESSAGES, ValueParser::bool));
      this.nats = nats();
      this.tables =
          new CourierTables(
              withDefault(Setting.TABLES_OUTBOX, this::identifier),
              withDefault(Setting.TABLES_PROCESSED_EVENTS, this::identifier),
              withDefault(Setting.TABLES_DEAD_LETTERS, this::identifier),
              withDefault(Setting.TABLES_ARCHIVE, this::identifier),
              withDefault(Setting.TABLES_REPLAYS, this::identifier),
              withDefault(Setting.TABLES_AUDIT, this::identifier));
      this.relay = relay();
      this.http = http();
      this.health = health();
      this.demo = demo();
      this.admin =
          new AdminSettings(
              withDefault(Setting.ADMIN_ENABLED, ValueParser::bool),
              optional(Setting.ADMIN_TOKEN, Parsed::token),
              withDefault(Setting.ADMIN_OPEN_READS, ValueParser::bool));
      this.retention =
          new RetentionSettings(
              horizon(Setting.RETENTION_LEDGER),
              horizon(Setting.RETENTION_PUBLISHED),
              horizon(Setting.RETENTION_ARCHIVE),
              withDefault(Setting.RETENTION_ARCHIVE_PUBLISHED, ValueParser::bool),
              horizon(Setting.RETENTION_DEAD_LETTERS),
              horizon(Setting.RETENTION_AUDIT),
              withDefault(
                  Setting.RETENTION_INTERVAL,
                  v -> offOr(v, Duration.ofMinutes(1), Duration.ofDays(7))));
    }

    private HttpSettings http() {
      Path keystore = optional(Setting.HTTP_TLS_KEYSTORE, v -> Path.of(ValueParser.text(v)));
      String password = optional(Setting.HTTP_TLS_KEYSTORE_PASSWORD, Value::text);
      String type =
          withDefault(
              Setting.HTTP_TLS_KEYSTORE_TYPE,
              v -> {
                String t = ValueParser.text(v).toUpperCase(Locale.ROOT);
                if (!t.equals("PKCS12") && !t.equals("JKS")) {
                  throw ValueParser.invalid(v, "must be PKCS12 or JKS, was " + ValueParser.shown(v));
                }
                return t;
              });
      List<String> allowed =
          Objects.requireNonNullElse(
              optional(
                  Setting.HTTP_ALLOWED_HOSTS,
                  v -> {
                    List<String> names = new java.util.ArrayList<>();
                    for (String part : v.text().split(",")) {
                      String n = part.strip().toLowerCase(Locale.ROOT);
                      if (n.isEmpty()) {
                        continue;
                      }
                      if (!n.equals("*") && !n.matches("\\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?")) {
                        throw ValueParser.invalid(
                            v, "'" + n.replaceAll("\\p{Cntrl}", "?") + "' is not a host name (a name, .suffix or *)");
                      }
                      names.add(n);
                    }
                    return names;
                  }),
              List.of());
      return new HttpSettings(
          withDefault(Setting.HTTP_ENABLED, ValueParser::bool),
          withDefault(Setting.HTTP_HOST, ValueParser::text),
          wholeNumber(Setting.HTTP_PORT, 0, 65_535),
          allowed,
          keystore == null ? null : new HttpSettings.Tls(keystore, password, type),
          withDefault(Setting.HTTP_ALLOW_PLAINTEXT, ValueParser::bool));
    }

    private static AdminToken token(Value v) {
      String t = v.text().strip();
      if (t.length() < AdminToken.MIN_LENGTH) {
        // never echo the value: it is a secret
        throw ValueParser.invalid(
            v, "is too short: use at least " + AdminToken.MIN_LENGTH + " characters (for example"
                + " the output of 'openssl rand -hex 24')");
      }
      return new AdminToken(t);
    }

    private java.util.Optional<Duration> horizon(Setting s) {
      return withDefault(s, v -> offOr(v, Duration.ofMinutes(1), Duration.ofDays(36_500)));
    }

    private static java.util.Optional<Duration> offOr(Value v, Duration min, Duration max) {
      String t = v.text().strip().toLowerCase(Locale.ROOT);
      if (t.equals("off") || t.equals("never")) {
        return java.util.Optional.empty();
      }
      return java.util.Optional.of(ValueParser.duration(v, min, max));
    }

    private HealthSettings health() {
      Duration window =
          duration(Setting.HEALTH_DEAD_LETTER_WINDOW, Duration.ofSeconds(1), MAX_DURATION);
      Duration interval =
          duration(Setting.HEALTH_CHECK_INTERVAL, Duration.ofMillis(100), Duration.ofHours(1));
      atLeast(
          Setting.HEALTH_DEAD_LETTER_WINDOW,
          window,
          interval,
          Setting.HEALTH_CHECK_INTERVAL.key() + " (" + ValueParser.human(interval) + ")",
          "; a shorter window never holds two counts");
      return new HealthSettings(
          duration(Setting.HEALTH_OUTBOX_MAX_AGE, Duration.ofSeconds(1), MAX_DURATION),
          wholeNumber(Setting.HEALTH_DEAD_LETTER_GROWTH, 0, 1_000_000),
          window,
          interval,
          withDefault(
              Setting.HEALTH_HORIZON_MAX_LAG,
              v -> offOr(v, Duration.ofSeconds(1), MAX_DURATION)));
    }

    private RelaySettings relay() {
      Duration publishTimeout =
          duration(Setting.RELAY_PUBLISH_TIMEOUT, Duration.ofMillis(100), Duration.ofMinutes(10));
      Duration lease = duration(Setting.RELAY_LEASE, Duration.ofSeconds(1), MAX_DURATION);
      Duration initial =
          duration(Setting.RELAY_INITIAL_BACKOFF, Duration.ZERO, Duration.ofHours(1));
      Duration max = duration(Setting.RELAY_MAX_BACKOFF, Duration.ZERO, MAX_DURATION);
      Duration minPoll =
          duration(Setting.RELAY_MIN_POLL_INTERVAL, Duration.ofMillis(1), Duration.ofMinutes(1));
      Duration maxPoll =
          duration(Setting.RELAY_MAX_POLL_INTERVAL, Duration.ofMillis(1), Duration.ofHours(1));
      atLeast(
          Setting.RELAY_MAX_BACKOFF,
          max,
          initial,
          Setting.RELAY_INITIAL_BACKOFF.key() + " (" + ValueParser.human(initial) + ")",
          "");
      atLeast(
          Setting.RELAY_LEASE,
          lease,
          publishTimeout.multipliedBy(2),
          "twice "
              + Setting.RELAY_PUBLISH_TIMEOUT.key()
              + " ("
              + ValueParser.human(publishTimeout)
              + ")",
          "; a shorter lease lets another relay republish rows still in flight");
      atLeast(
          Setting.RELAY_MAX_POLL_INTERVAL,
          maxPoll,
          minPoll,
          Setting.RELAY_MIN_POLL_INTERVAL.key() + " (" + ValueParser.human(minPoll) + ")",
          "");
      Duration heartbeat =
          optional(Setting.RELAY_HEARTBEAT_INTERVAL, v -> ValueParser.duration(v, Duration.ofMillis(10), MAX_DURATION));
      if (heartbeat != null) {
        atLeast(
            Setting.RELAY_LEASE,
            lease,
            heartbeat.multipliedBy(3),
            "three times "
                + Setting.RELAY_HEARTBEAT_INTERVAL.key()
                + " ("
                + ValueParser.human(heartbeat)
                + ")",
            "; a log-mode relay must renew its partitions several times within a lease");
      }
      Relay.ClaimMode claimMode = withDefault(Setting.RELAY_CLAIM_MODE, ValueParser::claimMode);
      // not given: the library's default for the claim mode (larger in log mode, whose costs are
      // per batch, not per row)
      Value givenBatchSize = values.get(Setting.RELAY_BATCH_SIZE.key());
      boolean batchSizeGiven = givenBatchSize != null && !(givenBatchSize.origin() instanceof Origin.Default);
      int batchSize =
          batchSizeGiven || claimMode != Relay.ClaimMode.LOG
              ? wholeNumber(Setting.RELAY_BATCH_SIZE, 1, 10_000)
              : Relay.DEFAULT_LOG_BATCH_SIZE;
      return new RelaySettings(
          optional(
              Setting.RELAY_ID,
              v -> {
                String id = ValueParser.text(v);
                if (id.length() > 255) {
                  throw ValueParser.invalid(
                      v, "must be at most 255 characters, was " + id.length());
                }
                return id;
              }),
          batchSize,
          wholeNumber(Setting.RELAY_BATCHES_IN_FLIGHT, 1, 16),
          claimMode,
          withDefault(Setting.RELAY_DELETE_PUBLISHED, ValueParser::bool),
          wholeNumber(Setting.RELAY_MAX_ATTEMPTS, 1, 1000),
          initial,
          max,
          publishTimeout,
          lease,
          minPoll,
          maxPoll,
          heartbeat,
          duration(Setting.RELAY_STALL_LIMIT, Duration.ofSeconds(1), MAX_DURATION),
          withDefault(Setting.RELAY_TRANSPORT, ValueParser::transport),
          Objects.requireNonNullElse(
              optional(Setting.RELAY_DESTINATIONS, ValueParser::destinations), List.of()));
    }

    private NatsSettings nats() {
      String user = optional(Setting.NATS_USER, ValueParser::text);
      String password = optional(Setting.NATS_PASSWORD, Value::text);
      String token = optional(Setting.NATS_TOKEN, ValueParser::text);
      Path credentials = optional(Setting.NATS_CREDENTIALS_FILE, v -> Path.of(ValueParser.text(v)));
      if ((user == null) != (password == null)) {
        Setting given = user == null ? Setting.NATS_PASSWORD : Setting.NATS_USER;
        Setting missing = user == null ? Setting.NATS_USER : Setting.NATS_PASSWORD;
        errors.add(
            ValueParser.invalid(
                values.get(given.key()),
                "is set without " + missing.key() + "; set both or neither"));
      }
      int ways = (token != null ? 1 : 0) + (user != null ? 1 : 0) + (credentials != null ? 1 : 0);
      if (ways > 1) {
        errors.add(
            ValueParser.invalid(
                values.get(token != null ? Setting.NATS_TOKEN.key() : Setting.NATS_USER.key()),
                "set one way to authenticate to NATS: "
                    + Setting.NATS_TOKEN.key()
                    + ", "
                    + Setting.NATS_USER.key()
                    + " with "
                    + Setting.NATS_PASSWORD.key()
                    + ", or "
                    + Setting.NATS_CREDENTIALS_FILE.key()));
      }
      return new NatsSettings(
          optional(Setting.NATS_URL, ValueParser::natsUrls),
          token,
          user,
          password,
          credentials,
          optional(
              Setting.NATS_DUPLICATE_WINDOW,
              v -> ValueParser.duration(v, Duration.ofMillis(100), Duration.ofDays(365))),
          wholeNumber(Setting.NATS_REPLICAS, 1, 5));
    }

    private DemoSettings demo() {
      return new DemoSettings(
          duration(Setting.DEMO_DURATION, Duration.ofSeconds(1), MAX_DURATION),
          duration(Setting.DEMO_WARM_UP, Duration.ZERO, Duration.ofMinutes(10)),
          withDefault(Setting.DEMO_RATE, v -> ValueParser.ratePerSecond(v, 100_000)),
          withDefault(Setting.DEMO_ROLLBACK_RATE, ValueParser::fraction),
          withDefault(Setting.DEMO_DROP_CONFIRM_RATE, ValueParser::fraction),
          withDefault(Setting.DEMO_CONSUMER_CRASH_RATE, ValueParser::fraction),
          wholeNumber(Setting.DEMO_WRITERS, 1, 256),
          wholeNumber(Setting.DEMO_PARTITIONS, 1, 1000),
          withDefault(Setting.DEMO_TOPIC, Parsed::topic),
          duration(Setting.DEMO_DRAIN_TIMEOUT, Duration.ofSeconds(1), Duration.ofHours(1)),
          duration(Setting.DEMO_PROGRESS_INTERVAL, Duration.ofMillis(100), Duration.ofHours(1)),
          withDefault(Setting.DEMO_WORK_DIR, v -> Path.of(ValueParser.text(v))),
          withDefault(Setting.DEMO_KEEP, ValueParser::bool),
          withDefault(Setting.DEMO_JSON_LOGS, ValueParser::bool));
    }

    private static String topic(Value v) {
      String t = ValueParser.text(v);
      if (!TOPIC.matcher(t).matches() || t.equals(".") || t.equals("..")) {
        throw ValueParser.invalid(
            v,
            ValueParser.shown(v)
                + " is not a valid Kafka topic name (1 to 249 letters, digits, '.', '_' or '-')");
      }
      return t;
    }

    /** A table or schema name, checked against Courier's identifier allow-list. */
    private String identifier(Value v) {
      try {
        return CourierTables.validate(v.key(), v.text().strip());
      } catch (ConfigurationException e) {
        throw ValueParser.invalid(v, e.reason());
      }
    }

    private Duration duration(Setting s, Duration min, Duration max) {
      return withDefault(s, v -> ValueParser.duration(v, min, max));
    }

    private int wholeNumber(Setting s, int min, int max) {
      return withDefault(s, v -> ValueParser.wholeNumber(v, min, max));
    }

    /** The parsed value of a setting without a default, or {@code null} when it is not set. */
    private <T> T optional(Setting s, Function<Value, T> parser) {
      Value v = values.get(s.key());
      if (v == null) {
        return null;
      }
      try {
        return parser.apply(v);
      } catch (InvalidSettingException e) {
        errors.add(e);
        return null;
      }
    }

    /**
     * The parsed value of a setting with a default. When the configured value is bad the error is
     * recorded and parsing carries on with the default, so that one run reports every bad value.
     */
    private <T> T withDefault(Setting s, Function<Value, T> parser) {
      T value = optional(s, parser);
      if (value != null) {
        return value;
      }
      String d =
          s.defaultValue().orElseThrow(() -> new IllegalStateException(s + " has no default"));
      return parser.apply(new Value(s.key(), d, new Origin.Default(), s.secret()));
    }

    /** Records an error on {@code s} unless {@code value >= bound}; {@code bound} is described. */
    private void atLeast(Setting s, Duration value, Duration bound, String described, String why) {
      Value v = values.get(s.key());
      if (v != null && value.compareTo(bound) < 0) {
        errors.add(
            ValueParser.invalid(
                v, "must be at least " + described + ", was " + ValueParser.human(value) + why));
      }
    }
  }
}
