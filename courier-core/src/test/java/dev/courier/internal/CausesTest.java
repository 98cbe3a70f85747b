package dev.courier.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

class CausesTest {

  @Test
  void find_andAnyOf_lookThroughEveryCause() {
    IOException io = new IOException("reset");
    Throwable t = new IllegalStateException("outer", new UncheckedIOException(io));

    assertThat(Causes.find(t, IOException.class)).isSameAs(io);
    assertThat(Causes.find(t, TimeoutException.class)).isNull();
    assertThat(Causes.anyOf(t, TimeoutException.class, IOException.class)).isTrue();
    assertThat(Causes.anyOf(t, TimeoutException.class)).isFalse();
    assertThat(Causes.chain(null)).isEmpty();
  }

  @Test
  void aChainThatLoopsBack_endsAtTheRepeat() {
    RuntimeException a = new RuntimeException("a");
    RuntimeException b = new RuntimeException("b", a);
    a.initCause(b);

    assertThat(Causes.chain(a)).containsExactly(a, b);
    assertThat(Causes.anyOf(a, IOException.class)).isFalse();
  }
}
