package dev.courier.server.config;

import java.util.regex.Pattern;

/** Hides secrets in text that is about to be shown. */
public final class Masking {
  /** What a secret is shown as. */
  public static final String SECRET = "****";

  private static final Pattern URL_PASSWORD_PARAM =
      Pattern.compile("(?i)((?:password|passwd|pwd|sslpassword)=)[^&;]*");
  private static final Pattern URL_USER_INFO = Pattern.compile("//([^/:@]+):([^@/]*)@");

  private Masking() {}

  /**
   * A JDBC (or any) URL with passwords hidden: both {@code password=...} parameters and {@code
   * user:password@} user information.
   */
  public static String url(String url) {
    if (url == null) {
      return null;
    }
    String masked = URL_PASSWORD_PARAM.matcher(url).replaceAll("$1" + SECRET);
    return URL_USER_INFO.matcher(masked).replaceAll("//$1:" + SECRET + "@");
  }
}
