package dev.courier.retry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.courier.ConfigurationException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {

  private final RetryPolicy policy =
      RetryPolicy.builder()
          .maxAttempts(6)
          .initialDelay(Duration.ofMillis(100))
          .maxDelay(Duration.ofSeconds(1))
          .multiplier(2)
          .build();

  @Test
  void ceiling_growsExponentiallyAndIsCappedAtMaxDelay() {
    assertThat(policy.ceiling(1)).isEqualTo(Duration.ofMillis(100));
    assertThat(policy.ceiling(2)).isEqualTo(Duration.ofMillis(200));
    assertThat(policy.ceiling(3)).isEqualTo(Duration.ofMillis(400));
    assertThat(policy.ceiling(4)).isEqualTo(Duration.ofMillis(800));
    assertThat(policy.ceiling(5)).isEqualTo(Duration.ofSeconds(1));
    assertThat(policy.ceiling(50)).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void delay_withFullJitter_isDrawnBetweenZeroAndTheCeiling() {
    assertThat(policy.delay(3, () -> 0.0)).isEqualTo(Duration.ZERO);
    assertThat(policy.delay(3, () -> 0.5)).isEqualTo(Duration.ofMillis(200));
    assertThat(policy.delay(3, () -> 0.999)).isLessThan(Duration.ofMillis(400));
    for (int i = 0; i < 1_000; i++) {
      assertThat(policy.delay(4)).isBetween(Duration.ZERO, Duration.ofMillis(800));
    }
  }

  @Test
  void delay_withoutJitter_isExactlyTheCeiling() {
    RetryPolicy exact = RetryPolicy.builder().initialDelay(Duration.ofMillis(10)).maxDelay(Duration.ofMillis(40)).jitter(false).build();
    assertThat(exact.delay(1)).isEqualTo(Duration.ofMillis(10));
    assertThat(exact.delay(3)).isEqualTo(Duration.ofMillis(40));
  }

  @Test
  void canRetry_isFalseOnceMaxAttemptsHaveFailed() {
    assertThat(policy.canRetry(5)).isTrue();
    assertThat(policy.canRetry(6)).isFalse();
  }

  @Test
  void horizon_isTheSumOfTheCeilingsBetweenAttempts() {
    // 100 + 200 + 400 + 800 + 1000 between 6 attempts
    assertThat(policy.horizon()).isEqualTo(Duration.ofMillis(2500));
  }

  @Test
  void build_whenMaxDelayBelowInitialDelay_namesTheParameterAndRule() {
    assertThatThrownBy(
            () -> RetryPolicy.builder().initialDelay(Duration.ofSeconds(2)).maxDelay(Duration.ofSeconds(1)).build())
        .isInstanceOf(ConfigurationException.class)
        .hasMessageContaining("maxDelay")
        .hasMessageContaining(">= initialDelay");
  }

  @Test
  void build_rejectsZeroAttemptsAndShrinkingMultiplier() {
    assertThatThrownBy(() -> RetryPolicy.builder().maxAttempts(0).build())
        .hasMessageContaining("maxAttempts");
    assertThatThrownBy(() -> RetryPolicy.builder().multiplier(0.5).build())
        .hasMessageContaining("multiplier");
    assertThatThrownBy(() -> RetryPolicy.builder().multiplier(Double.NaN).build())
        .hasMessageContaining("multiplier");
  }
}
