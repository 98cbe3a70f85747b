package dev.courier.testkit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A clock that tests move by hand, so that "five minutes later" takes no time. It stands still
 * until {@link #advance(Duration)} or {@link #set(Instant)} moves it. Thread-safe: the code under
 * test may read it from its own threads while the test moves it.
 */
public final class TestClock extends Clock {
    private final AtomicReference<Instant> now;
    private final ZoneId zone;

    private TestClock(AtomicReference<Instant> now, ZoneId zone) {
        this.now = now;
        this.zone = zone;
    }

    /** A clock standing at {@code start}, in UTC. */
    public static TestClock at(Instant start) {
        return new TestClock(new AtomicReference<>(Objects.requireNonNull(start, "start")), ZoneOffset.UTC);
    }

    /** A clock standing at the current time, in UTC. */
    public static TestClock now() {
        return at(Instant.now());
    }

    /** Moves the clock forward (or back, for a negative amount); returns the new time. */
    public Instant advance(Duration amount) {
        Objects.requireNonNull(amount, "amount");
        return now.updateAndGet(t -> t.plus(amount));
    }

    /** Moves the clock to {@code instant}. */
    public void set(Instant instant) {
        now.set(Objects.requireNonNull(instant, "instant"));
    }

    @Override
    public Instant instant() {
        return now.get();
    }

    @Override
    public ZoneId getZone() {
        return zone;
    }

    /** A view of the same moving time in another zone. */
    @Override
    public Clock withZone(ZoneId zone) {
        return new TestClock(now, Objects.requireNonNull(zone, "zone"));
    }

    @Override
    public String toString() {
        return "TestClock[" + now.get() + "]";
    }
}
