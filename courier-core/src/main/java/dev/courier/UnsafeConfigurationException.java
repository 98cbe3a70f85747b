package dev.courier;

/**
 * A configuration that would silently weaken a delivery guarantee (for example Kafka {@code acks}
 * other than {@code all}). Courier refuses to start with it unless the caller explicitly accepts
 * the named risk through the override the message names.
 */
public class UnsafeConfigurationException extends ConfigurationException {
  private static final long serialVersionUID = 1L;

  public UnsafeConfigurationException(String setting, String risk, String override) {
    super(setting, risk + " To accept this risk explicitly, set " + override + ".");
  }
}
