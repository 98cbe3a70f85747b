package dev.courier.deadletter;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FingerprintTest {
  private static final String STACK =
      "java.lang.IllegalStateException: order 42 not found\n"
          + "\tat app//com.shop.Billing.charge(Billing.java:88)\n"
          + "\tat com.shop.Billing.handle(Billing.java:12)\n";

  @Test
  void messageShape_normalisesNumbersUuidsAndHex() {
    assertThat(Fingerprint.shape("order 42 for 3f2504e0-4f89-11d3-9a0c-0305e82c3301 at 0x7ffde4a0 cost 12.50"))
        .isEqualTo("order <n> for <uuid> at <hex> cost <n>");
    assertThat(Fingerprint.shape("token deadbeef12345678 expired")).isEqualTo("token <hex> expired");
    assertThat(Fingerprint.shape("no such currency: XYZ")).isEqualTo("no such currency: XYZ");
    assertThat(Fingerprint.shape(null)).isEmpty();
  }

  @Test
  void sameFailureWithDifferentValuesAndLineNumbers_hasTheSameFingerprint() {
    Fingerprint a = Fingerprint.of("java.lang.IllegalStateException", "order 42 not found", STACK);
    Fingerprint b =
        Fingerprint.of(
            "java.lang.IllegalStateException",
            "order 43 not found",
            STACK.replace("Billing.java:88", "Billing.java:91"));

    assertThat(a.id()).hasSize(16).isEqualTo(b.id());
    assertThat(a.topFrame()).isEqualTo("com.shop.Billing.charge");
    assertThat(a.messageShape()).isEqualTo("order <n> not found");
  }

  @Test
  void differentTypeFrameOrShape_differ() {
    Fingerprint a = Fingerprint.of("java.lang.IllegalStateException", "order 42 not found", STACK);
    assertThat(Fingerprint.of("java.lang.IllegalArgumentException", "order 42 not found", STACK).id()).isNotEqualTo(a.id());
    assertThat(Fingerprint.of("java.lang.IllegalStateException", "order 42 was cancelled", STACK).id()).isNotEqualTo(a.id());
    assertThat(Fingerprint.of("java.lang.IllegalStateException", "order 42 not found", STACK.replace("charge", "refund")).id())
        .isNotEqualTo(a.id());
    assertThat(Fingerprint.of(null, null, null).exceptionType()).isEqualTo("none");
  }
}
