package dev.courier;

import java.security.SecureRandom;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Generates time-ordered UUIDs of version 7 (RFC 9562): 48 bits of Unix milliseconds, then random
 * bits. Ids made by one JVM are strictly increasing, also within one millisecond (a 12-bit
 * counter in {@code rand_a}, as RFC 9562 section 6.2 method 1 allows), so they index well as
 * primary keys. Thread-safe.
 */
public final class UuidV7 {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final ReentrantLock LOCK = new ReentrantLock();
  private static long lastMillis = -1;
  private static int counter;

  private UuidV7() {}

  /** A new UUIDv7 for the current time. */
  public static UUID next() {
    long millis;
    int seq;
    LOCK.lock();
    try {
      long now = System.currentTimeMillis();
      if (now > lastMillis) {
        lastMillis = now;
        counter = RANDOM.nextInt(1 << 11); // leave room to count up within the millisecond
      } else if (++counter > 0xFFF) {
        // counter exhausted: borrow the next millisecond rather than repeat or go backwards
        lastMillis++;
        counter = 0;
      }
      millis = lastMillis;
      seq = counter;
    } finally {
      LOCK.unlock();
    }
    long msb = (millis << 16) | 0x7000L | seq;
    long lsb = (RANDOM.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }

  /** The Unix millisecond timestamp embedded in a UUIDv7. */
  public static long timestampMillis(UUID uuid) {
    if (uuid.version() != 7) {
      throw new IllegalArgumentException("not a version 7 UUID: " + uuid);
    }
    return uuid.getMostSignificantBits() >>> 16;
  }
}
