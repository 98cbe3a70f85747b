package dev.courier.server.config;

/**
 * The HTTP admin API.
 *
 * @param enabled whether {@code courier relay} serves {@code /api/*} next to its metrics ({@code
 *     courier serve} always does)
 * @param token the bearer token mutating calls must present, or {@code null}: then every mutating
 *     call is refused, and the API may only be served on a loopback address
 * @param openReads whether reads need no token ({@code courier.admin.open-reads}); only on a
 *     loopback address
 */
public record AdminSettings(boolean enabled, AdminToken token, boolean openReads) {
  /** Reads need the token. */
  public AdminSettings(boolean enabled, AdminToken token) {
    this(enabled, token, false);
  }

  @Override
  public String toString() {
    return "AdminSettings[enabled=" + enabled + ", token=" + (token == null ? "none" : Masking.SECRET)
        + ", openReads=" + openReads + "]";
  }
}
