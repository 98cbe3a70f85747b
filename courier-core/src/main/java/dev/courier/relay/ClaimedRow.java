package dev.courier.relay;

import dev.courier.Event;

/** An outbox row leased to this relay: its event, its position and the attempt this is. */
record ClaimedRow(long seq, Event event, int attempt) {}
