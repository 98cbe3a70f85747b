package dev.courier.relay;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DefaultRelayIdTest {

  @Test
  void defaultId_isTheHostName_soARestartedRelayKeepsItsSeries() {
    assertThat(DefaultRelayId.of("relay-7f9c", 1)).isEqualTo("relay-7f9c");
    assertThat(DefaultRelayId.of("Worker-1.example.com", 1)).isEqualTo("worker-1.example.com");
  }

  @Test
  void furtherRelaysOfOneProcess_areNumbered_soTheyNeverShareAnId() {
    assertThat(DefaultRelayId.of("relay-7f9c", 2)).isEqualTo("relay-7f9c-2");
    assertThat(DefaultRelayId.of("relay-7f9c", 3)).isEqualTo("relay-7f9c-3");
  }

  @Test
  void noHostName_fallsBackToLocalhost_andALongOneIsCutTo255Characters() {
    assertThat(DefaultRelayId.of(null, 1)).isEqualTo("localhost");
    assertThat(DefaultRelayId.of(" ", 2)).isEqualTo("localhost-2");
    assertThat(DefaultRelayId.of("h".repeat(300), 2)).hasSize(255).endsWith("-2");
  }

  @Test
  void next_isThisHostsName_withNoProcessIdOrRandomPart() throws Exception {
    String host = DefaultRelayId.of(java.net.InetAddress.getLocalHost().getHostName(), 1);
    String first = DefaultRelayId.next();
    String second = DefaultRelayId.next();
    assertThat(first).matches(java.util.regex.Pattern.quote(host) + "(-\\d+)?");
    assertThat(second).matches(java.util.regex.Pattern.quote(host) + "-\\d+").isNotEqualTo(first);
  }
}
