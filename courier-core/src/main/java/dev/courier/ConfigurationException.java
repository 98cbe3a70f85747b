package dev.courier;

/**
 * A configuration value is missing, malformed or unsafe. The message names the setting (its key
 * in a file or environment variable where it came from one), the rule it breaks and, for unsafe
 * settings, the risk and the override that accepts it. Values that may be secret are never
 * echoed.
 */
public class ConfigurationException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  private final String setting;
  private final String reason;

  /**
   * @param setting the setting's name
   * @param message what is wrong with it; the exception's message is {@code setting: message}
   */
  public ConfigurationException(String setting, String message) {
    super(setting + ": " + message);
    this.setting = setting;
    this.reason = message;
  }

  /** The name of the offending setting. */
  public String setting() {
    return setting;
  }

  /**
   * What is wrong with the setting, without its name: the message as given to the constructor.
   * A caller that names the setting its own way (with where the value came from, say) builds its
   * message from this.
   */
  public String reason() {
    return reason;
  }
}
