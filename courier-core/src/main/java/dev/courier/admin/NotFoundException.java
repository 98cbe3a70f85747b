package dev.courier.admin;

import dev.courier.FatalCourierException;
import java.util.List;

/**
 * An operator named rows that do not exist (an unknown dead-letter id or outbox seq). Thrown
 * before anything is changed: a request naming one unknown id changes none of the others.
 */
public class NotFoundException extends FatalCourierException {
  private static final long serialVersionUID = 1L;

  private final List<Long> ids;

  public NotFoundException(String what, List<Long> ids) {
    super("no " + what + " with id" + (ids.size() == 1 ? " " + ids.getFirst() : "s " + ids));
    this.ids = List.copyOf(ids);
  }

  /** The ids that were not found. */
  public List<Long> ids() {
    return ids;
  }
}
