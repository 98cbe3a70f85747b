package dev.courier.server.config;

import dev.courier.ConfigurationException;
import java.util.Objects;

/**
 * A configuration value is malformed, out of range or unknown. The message reads {@code <key> (from
 * <origin>): <what is wrong>}, for example {@code courier.relay.batch-size (from env
 * COURIER_RELAY_BATCH_SIZE): 'abc' is not a whole number}. Values of secret settings are never part
 * of the message.
 */
public final class InvalidSettingException extends ConfigurationException {
  private static final long serialVersionUID = 1L;

  private final String key;
  private final transient Origin origin;

  public InvalidSettingException(String key, Origin origin, String message) {
    super(key + " (from " + Objects.requireNonNull(origin, "origin").describe() + ")", message);
    this.key = key;
    this.origin = origin;
  }

  /** The setting's key, for example {@code courier.relay.batch-size}. */
  @Override
  public String setting() {
    return key;
  }

  /** Where the offending value came from. */
  public Origin origin() {
    return origin;
  }
}
