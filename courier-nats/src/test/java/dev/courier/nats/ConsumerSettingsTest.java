package dev.courier.nats;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import dev.courier.inbox.IdempotentProcessor;
import dev.courier.spi.SubscriptionSpec;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** The subscription options' durations, read without a server or a database. */
class ConsumerSettingsTest {
  // never connected: reading the options only asks the processor for its name and retry policy
  private final IdempotentProcessor processor =
      IdempotentProcessor.builder("billing", new PGSimpleDataSource(), (event, connection) -> {})
          .build();

  private ConsumerSettings read(String option, String value) {
    return ConsumerSettings.from(
        SubscriptionSpec.of("orders").withOption(option, value), processor, true);
  }

  @Test
  void ackWaitAndBackoff_areReadInCouriersDurationSyntax() {
    assertThat(read("ackWait", "1m30s").ackWait()).isEqualTo(Duration.ofSeconds(90));
    assertThat(read("ackWait", "PT2M").ackWait()).isEqualTo(Duration.ofMinutes(2));
    assertThat(read("backoff", "30s,1m,5m").backoff())
        .containsExactly(Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(5));
  }

  @Test
  void aBareNumber_isRefused_namingTheOption() {
    assertThatThrownBy(() -> read("ackWait", "30"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("ackWait: '30' has no unit; write it like 30s or 30ms (units: ms, s, m, h, d)");
    assertThatThrownBy(() -> read("backoff", "30s,60"))
        .hasMessageStartingWith("backoff: '60' has no unit");
  }

  @Test
  void ackWaitOutsideItsRange_isRefused() {
    assertThatThrownBy(() -> read("ackWait", "500ms"))
        .isInstanceOf(ConfigurationException.class)
        .hasMessage("ackWait: must be between 1s and 12h, was 500ms");
    assertThatThrownBy(() -> read("ackWait", "-5s"))
        .hasMessage("ackWait: '-5s' is negative; write zero or more");
  }
}
