package dev.courier.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * A throwable's chain of causes, as adapters read a broker client's errors. Public only so adapters
 * can share it; not part of the API.
 */
public final class Causes {
  /** Chains longer than this are cut: a cause that leads back into the chain would never end. */
  private static final int MAX_DEPTH = 64;

  private Causes() {}

  /** {@code t} and its causes, outermost first; empty for {@code null}. */
  public static List<Throwable> chain(Throwable t) {
    List<Throwable> out = new ArrayList<>();
    for (Throwable c = t;
        c != null && out.size() < MAX_DEPTH && !out.contains(c);
        c = c.getCause()) {
      out.add(c);
    }
    return out;
  }

  /** The first of {@code t} and its causes that is a {@code type}, or {@code null}. */
  public static <T extends Throwable> T find(Throwable t, Class<T> type) {
    for (Throwable c : chain(t)) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }

  /** Whether {@code t} or one of its causes is an instance of one of {@code types}. */
  public static boolean anyOf(Throwable t, Class<?>... types) {
    for (Throwable c : chain(t)) {
      for (Class<?> type : types) {
        if (type.isInstance(c)) {
          return true;
        }
      }
    }
    return false;
  }
}
