package dev.courier.admin;

/**
 * Who asks for an operator change and why, as recorded in the audit trail.
 *
 * @param operator the person or system (a login name, {@code http}); 1 to 255 characters
 * @param reason why, or {@code null} when the operation does not require one
 */
public record Attribution(String operator, String reason) {

  public Attribution {
    if (operator == null || operator.isBlank()) {
      throw new InvalidRequestException("operator", "an operator name is required for the audit trail");
    }
    operator = operator.strip();
    if (operator.length() > 255) {
      throw new InvalidRequestException("operator", "must be at most 255 characters");
    }
    reason = reason == null || reason.isBlank() ? null : reason.strip();
    if (reason != null && reason.length() > 2000) {
      throw new InvalidRequestException("reason", "must be at most 2000 characters");
    }
  }

  /** An attribution without a reason. */
  public static Attribution of(String operator) {
    return new Attribution(operator, null);
  }
}
