package dev.courier.inbox;

import dev.courier.Event;
import java.sql.Connection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Dispatches events to handlers by type. An event of a type with no handler fails with {@link
 * UnknownEventTypeException}, which dead-letters it instead of retrying it or dropping it
 * silently. Immutable and thread-safe once built.
 */
public final class EventHandlers implements EventHandler {
  private final Map<String, EventHandler> handlers;

  private EventHandlers(Map<String, EventHandler> handlers) {
    this.handlers = Map.copyOf(handlers);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public void handle(Event event, Connection connection) throws Exception {
    EventHandler h = handlers.get(event.type());
    if (h == null) {
      throw new UnknownEventTypeException(event.type(), event.id(), event.destination());
    }
    h.handle(event, connection);
  }

  /** Builds an {@link EventHandlers}. */
  public static final class Builder {
    private final Map<String, EventHandler> handlers = new LinkedHashMap<>();

    private Builder() {}

    /** Registers the handler for one type; registering a type twice is an error. */
    public Builder on(String type, EventHandler handler) {
      Objects.requireNonNull(type, "type");
      Objects.requireNonNull(handler, "handler");
      if (handlers.putIfAbsent(type, handler) != null) {
        throw new IllegalArgumentException("a handler for type '" + type + "' is already registered");
      }
      return this;
    }

    public EventHandlers build() {
      if (handlers.isEmpty()) {
        throw new IllegalStateException("no handler registered: call on(type, handler) at least once");
      }
      return new EventHandlers(handlers);
    }
  }
}
