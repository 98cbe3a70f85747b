package dev.courier.server.admin;

import dev.courier.ConfigurationException;
import dev.courier.admin.InvalidRequestException;
import dev.courier.internal.Durations;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/**
 * Parses the time bounds operators type: an ISO-8601 instant ({@code 2026-11-27T09:30:00Z}), a
 * date-time with an offset ({@code 2026-11-27T10:30:00+01:00}), a date ({@code 2026-11-27},
 * midnight UTC), or an age ({@code 90m}, {@code 2h}, {@code 3d}: that long before now), written as
 * every Courier duration is ({@link Durations}).
 */
public final class TimeArgument {
  private TimeArgument() {}

  /**
   * @param field the option or field name, for the error
   * @return the instant, or {@code null} for a blank value
   * @throws InvalidRequestException naming the field and the accepted forms
   */
  public static Instant parse(String field, String text, Clock clock) {
    if (text == null || text.isBlank()) {
      return null;
    }
    String t = text.strip();
    try {
      return clock.instant().minus(Durations.parse(field, t));
    } catch (ConfigurationException | DateTimeException | ArithmeticException ignored) {
      // not an age (or one reaching before the first instant): try the next form
    }
    try {
      return Instant.parse(t);
    } catch (DateTimeParseException ignored) {
      // try the next form
    }
    try {
      return OffsetDateTime.parse(t).toInstant();
    } catch (DateTimeParseException ignored) {
      // try the next form
    }
    try {
      return LocalDate.parse(t).atStartOfDay().toInstant(ZoneOffset.UTC);
    } catch (DateTimeParseException ignored) {
      // fall through to the error
    }
    String shown = t.length() > 40 ? t.substring(0, 40) + "..." : t;
    throw new InvalidRequestException(
        field,
        "'" + shown.replaceAll("\\p{Cntrl}", "?") + "' is not a time; write an ISO-8601 instant"
            + " (2026-11-27T09:30:00Z), a date (2026-11-27) or an age (90m, 2h, 3d)");
  }
}
