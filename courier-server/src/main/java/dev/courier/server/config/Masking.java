package dev.courier.server.config;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Hides secrets in text that is about to be shown: the one place that decides what a secret looks
 * like, for settings, client properties, URLs and messages alike.
 */
public final class Masking {
  /** What a secret is shown as. */
  public static final String SECRET = "****";

  private static final Pattern URL_PASSWORD_PARAM =
      Pattern.compile("(?i)((?:password|passwd|pwd|sslpassword|sslkey|token|secret)=)[^&;\\s]*");
  /**
   * {@code scheme://user:password@}: the password runs to the last {@code @} before the authority
   * ends (the first {@code /}, {@code ?}, {@code #} or white space), so that one containing {@code @}
   * is hidden whole.
   */
  private static final Pattern URL_USER_INFO =
      Pattern.compile("(//[^/?#:@\\s]+):[^/?#\\s]*@(?=[^@/?#\\s]*(?:[/?#\\s]|$))");
  /** NATS's token form, {@code nats://token@host}: the user information is the secret. */
  private static final Pattern NATS_TOKEN = Pattern.compile("(?i)\\b((?:nats|tls|wss?)://)[^/?#:@\\s]+@");

  private Masking() {}

  /**
   * A JDBC (or any) URL with passwords hidden: {@code password=...} (and token, secret, key)
   * parameters, {@code user:password@} user information, and NATS's {@code nats://token@}.
   */
  public static String url(String url) {
    if (url == null) {
      return null;
    }
    String masked = URL_PASSWORD_PARAM.matcher(url).replaceAll("$1" + SECRET);
    masked = URL_USER_INFO.matcher(masked).replaceAll("$1:" + SECRET + "@");
    return NATS_TOKEN.matcher(masked).replaceAll("$1" + SECRET + "@");
  }

  /**
   * Free text, such as an exception's message, with every URL in it masked as {@link #url} masks
   * one.
   */
  public static String text(String text) {
    return url(text);
  }

  /**
   * Whether a setting or client property of this name holds a secret (a password, a JAAS
   * configuration, a token, a private key such as {@code ssl.keystore.key}, a credential other
   * than a file's path), so that
   * its value is shown as {@link #SECRET} wherever configuration is shown.
   */
  public static boolean isSecretName(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return n.contains("password")
        || n.endsWith(".key")
        || n.endsWith("-key")
        || n.contains("jaas")
        || n.contains("secret")
        || n.contains("token")
        || (n.contains("credential") && !n.endsWith("file"));
  }
}
