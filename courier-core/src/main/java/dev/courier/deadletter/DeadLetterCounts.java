package dev.courier.deadletter;

import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * How many dead letters each consumer has parked ({@code DEAD}), at one moment.
 *
 * @param byConsumer parked dead letters per consumer, sorted by consumer name
 * @param takenAt when they were counted
 */
public record DeadLetterCounts(Map<String, Long> byConsumer, Instant takenAt) {

  public DeadLetterCounts {
    byConsumer = Collections.unmodifiableMap(new TreeMap<>(byConsumer));
  }

  /** Parked dead letters of all consumers together. */
  public long total() {
    return byConsumer.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Parked dead letters of one consumer (0 if it has none). */
  public long of(String consumer) {
    return byConsumer.getOrDefault(consumer, 0L);
  }
}
