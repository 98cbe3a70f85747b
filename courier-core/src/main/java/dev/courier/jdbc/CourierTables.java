package dev.courier.jdbc;

import dev.courier.ConfigurationException;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The names of Courier's tables. Names are interpolated into SQL, so each is checked against an
 * identifier allow-list when this record is built: letters, digits and underscores, starting with
 * a letter or underscore, at most 63 characters, optionally qualified by one schema name of the
 * same form, and not a reserved word. Message data never reaches a table name.
 *
 * @param outbox the outbox table
 * @param processedEvents the consumers' processed-events ledger
 * @param deadLetters the consumers' dead-letter table
 * @param outboxArchive published events kept for history replay after they leave the outbox
 * @param replays one row per submitted replay, keyed by its replay id
 * @param audit the operators' audit trail
 */
public record CourierTables(
    String outbox,
    String processedEvents,
    String deadLetters,
    String outboxArchive,
    String replays,
    String audit) {

  private static final Pattern PART = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");
  private static final Set<String> RESERVED =
      Set.of(
          "select", "insert", "update", "delete", "table", "from", "where", "drop", "create",
          "alter", "grant", "user", "order", "group", "union", "join", "into", "values", "index",
          "null", "and", "or", "not", "limit", "offset", "all", "any", "case", "check", "column",
          "constraint", "default", "distinct", "else", "end", "for", "foreign", "having", "in",
          "is", "key", "like", "primary", "references", "set", "then", "to", "unique", "with");

  /**
   * The default names: {@code courier_outbox}, {@code courier_processed_events}, {@code
   * courier_dead_letters}, {@code courier_outbox_archive}, {@code courier_replays}, {@code
   * courier_audit}.
   */
  public static final CourierTables DEFAULT =
      new CourierTables("courier_outbox", "courier_processed_events", "courier_dead_letters");

  public CourierTables {
    outbox = validate("tables.outbox", outbox);
    processedEvents = validate("tables.processed-events", processedEvents);
    deadLetters = validate("tables.dead-letters", deadLetters);
    outboxArchive = validate("tables.archive", outboxArchive);
    replays = validate("tables.replays", replays);
    audit = validate("tables.audit", audit);
  }

  /**
   * The three core tables by name, and the operator tables by their default names in the outbox's
   * schema ({@code courier_outbox_archive}, {@code courier_replays}, {@code courier_audit}).
   */
  public CourierTables(String outbox, String processedEvents, String deadLetters) {
    this(
        outbox,
        processedEvents,
        deadLetters,
        schemaPrefix(outbox) + "courier_outbox_archive",
        schemaPrefix(outbox) + "courier_replays",
        schemaPrefix(outbox) + "courier_audit");
  }

  /**
   * The partitions of a log-mode outbox: the outbox's name with {@code _partitions} appended, in its
   * schema.
   */
  public String outboxPartitions() {
    return derived("_partitions");
  }

  /** The relays sharing a log-mode outbox: the outbox's name with {@code _relays} appended. */
  public String outboxRelays() {
    return derived("_relays");
  }

  /**
   * The versions of Courier's schema applied by {@link Schema#migrate}: the outbox's name with
   * {@code _schema_version} appended, in its schema.
   */
  public String schemaVersion() {
    return derived("_schema_version");
  }

  /**
   * The paused consumers: {@code courier_consumer_pauses} in the processed-events table's schema
   * (the consumers' database), like the archive, replay and audit tables beside the outbox.
   */
  public String consumerPauses() {
    return validate("tables.processed-events", schemaPrefix(processedEvents) + "courier_consumer_pauses");
  }

  private String derived(String suffix) {
    return validate("tables.outbox", schemaPrefix(outbox) + unqualified(outbox) + suffix);
  }

  /** The same names with every table placed in {@code schema}. */
  public CourierTables inSchema(String schema) {
    validate("tables.schema", schema);
    return new CourierTables(
        schema + "." + unqualified(outbox),
        schema + "." + unqualified(processedEvents),
        schema + "." + unqualified(deadLetters),
        schema + "." + unqualified(outboxArchive),
        schema + "." + unqualified(replays),
        schema + "." + unqualified(audit));
  }

  private static String schemaPrefix(String name) {
    if (name == null) {
      return "";
    }
    int dot = name.indexOf('.');
    return dot < 0 ? "" : name.substring(0, dot + 1);
  }

  private static String unqualified(String name) {
    int dot = name.indexOf('.');
    return dot < 0 ? name : name.substring(dot + 1);
  }

  /**
   * Checks one table name against the allow-list.
   *
   * @param setting the setting name to report in the error
   * @return the name, unchanged
   * @throws ConfigurationException naming the setting and the rule when the name is not allowed
   */
  public static String validate(String setting, String name) {
    if (name == null || name.isBlank()) {
      throw new ConfigurationException(setting, "a table name is required");
    }
    String[] parts = name.split("\\.", -1);
    if (parts.length > 2) {
      throw new ConfigurationException(
          setting, "'" + printable(name) + "' has more than one dot; use table or schema.table");
    }
    for (String part : parts) {
      if (!PART.matcher(part).matches()) {
        throw new ConfigurationException(
            setting,
            "'"
                + printable(name)
                + "' is not an allowed identifier: use letters, digits and underscores, start with"
                + " a letter or underscore, at most 63 characters per part");
      }
      if (RESERVED.contains(part.toLowerCase(Locale.ROOT))) {
        throw new ConfigurationException(
            setting, "'" + part + "' is an SQL reserved word and cannot be a table name");
      }
    }
    return name;
  }

  private static String printable(String s) {
    String shown = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return shown.replaceAll("\\p{Cntrl}", "?");
  }
}
