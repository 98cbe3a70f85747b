package dev.courier.server.config;

import java.time.Duration;
import java.util.Optional;

/**
 * How to reach the database.
 *
 * @param url the JDBC URL, or {@code null} when none is configured (the demo then starts its own)
 * @param user the user, or {@code null} to let the driver decide
 * @param password the password, or {@code null}; never shown by {@link #toString()}
 * @param schema the schema to work in (the connection's search path), or {@code null} for the
 *     server's default
 * @param poolSize the largest number of pooled connections
 * @param connectTimeout how long to wait for a connection
 */
public record DatabaseSettings(
    String url,
    String user,
    String password,
    String schema,
    int poolSize,
    Duration connectTimeout) {

  /** The URL, if one is configured. */
  public Optional<String> configuredUrl() {
    return Optional.ofNullable(url);
  }

  /** The URL with any password in it hidden, for messages. */
  public String displayUrl() {
    return url == null ? "(none)" : Masking.url(url);
  }

  @Override
  public String toString() {
    return "DatabaseSettings[url="
        + displayUrl()
        + ", user="
        + user
        + ", password="
        + (password == null ? "(none)" : Masking.SECRET)
        + ", schema="
        + schema
        + ", poolSize="
        + poolSize
        + ", connectTimeout="
        + connectTimeout
        + "]";
  }
}
