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

  public ConfigurationException(String setting, String message) {
    super(setting + ": " + message);
    this.setting = setting;
  }

  /** The name of the offending setting. */
  public String setting() {
    return setting;
  }
}
