package dev.courier.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.ThreadFactory;
import org.junit.jupiter.api.Test;

class ThreadsTest {
  private static final Runnable NOTHING = () -> {};

  @Test
  void aThreadFromTheCallersFactory_keepsItsKind_andGetsCouriersName() {
    Thread t = Threads.unstarted(Thread.ofVirtual().name("the-callers-name").factory(), "courier-relay-r1", NOTHING);

    assertThat(t.isVirtual()).isTrue();
    assertThat(t.getName()).isEqualTo("courier-relay-r1");
    assertThat(t.getState()).isEqualTo(Thread.State.NEW);
  }

  @Test
  void theDefault_makesDaemonPlatformThreads() {
    Thread t = Threads.unstarted(Threads.DAEMON_PLATFORM, "courier-x", NOTHING);

    assertThat(t.isVirtual()).isFalse();
    assertThat(t.isDaemon()).isTrue();
  }

  @Test
  void aFactoryThatReturnsNoThread_failsNamingWhatItWasFor() {
    assertThatThrownBy(() -> Threads.unstarted(task -> null, "courier-relay-r1", NOTHING))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the thread factory returned no thread for courier-relay-r1");
  }

  @Test
  void executorFactories_nameOrNumberTheirThreads_andPassARefusalOn() {
    ThreadFactory numbered = Threads.numbered(Threads.DAEMON_PLATFORM, "courier-relay-r1-publish-");
    ThreadFactory named = Threads.named(Threads.DAEMON_PLATFORM, "courier-rabbitmq-retry-q");

    assertThat(numbered.newThread(NOTHING).getName()).isEqualTo("courier-relay-r1-publish-1");
    assertThat(numbered.newThread(NOTHING).getName()).isEqualTo("courier-relay-r1-publish-2");
    assertThat(named.newThread(NOTHING).getName()).isEqualTo("courier-rabbitmq-retry-q");
    assertThat(Threads.named(task -> null, "x").newThread(NOTHING)).isNull();
    assertThat(Threads.numbered(task -> null, "x-").newThread(NOTHING)).isNull();
  }
}
