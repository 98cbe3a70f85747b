package dev.courier.server.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonLineEncoderTest {
  private final LoggerContext context = (LoggerContext) org.slf4j.LoggerFactory.getILoggerFactory();
  private final Logger logger = context.getLogger("dev.courier.relay.Relay");
  private final ObjectMapper json = new ObjectMapper();

  private JsonNode encode(LoggingEvent event) throws Exception {
    JsonLineEncoder encoder = new JsonLineEncoder();
    encoder.setContext(context);
    encoder.start();
    String line = new String(encoder.encode(event), StandardCharsets.UTF_8);
    assertThat(line).endsWith("\n").doesNotContain("\n\n");
    assertThat(line.strip()).doesNotContain("\n");
    return json.readTree(line);
  }

  @Test
  void eventFields_fromTheMdc_areTopLevelFields() throws Exception {
    LoggingEvent e =
        new LoggingEvent(
            "x", logger, Level.WARN, "publish attempt {} failed", null, new Object[] {2});
    e.setMDCPropertyMap(
        Map.of(
            "event_id",
            "0194b3c4-0000-7000-8000-000000000001",
            "correlation_id",
            "order-7",
            "destination",
            "orders",
            "attempt",
            "2",
            "msg",
            "clash"));

    JsonNode node = encode(e);

    assertThat(node.get("level").asText()).isEqualTo("WARN");
    assertThat(node.get("logger").asText()).isEqualTo("dev.courier.relay.Relay");
    assertThat(node.get("msg").asText()).isEqualTo("publish attempt 2 failed");
    assertThat(node.get("event_id").asText()).isEqualTo("0194b3c4-0000-7000-8000-000000000001");
    assertThat(node.get("correlation_id").asText()).isEqualTo("order-7");
    assertThat(node.get("destination").asText()).isEqualTo("orders");
    assertThat(node.get("attempt").asText()).isEqualTo("2");
    assertThat(node.get("mdc_msg").asText()).isEqualTo("clash");
    assertThat(node.get("ts").asText())
        .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z");
    List<String> names = List.copyOf(iterable(node));
    assertThat(names.subList(0, 5)).containsExactly("ts", "level", "logger", "thread", "msg");
    assertThat(names.indexOf("event_id")).isLessThan(names.indexOf("destination"));
  }

  @Test
  void specialCharacters_areEscaped_soEachEventStaysOneLine() throws Exception {
    String nasty = "quote \" backslash \\ newline \n tab \t bell \u0007 end";
    LoggingEvent e = new LoggingEvent("x", logger, Level.INFO, nasty, null, null);

    assertThat(encode(e).get("msg").asText()).isEqualTo(nasty);
  }

  @Test
  void aThrowable_addsErrorAndStack() throws Exception {
    LoggingEvent e =
        new LoggingEvent(
            "x", logger, Level.ERROR, "failed", new IllegalStateException("broken\nstate"), null);

    JsonNode node = encode(e);

    assertThat(node.get("error").asText())
        .isEqualTo("java.lang.IllegalStateException: broken\nstate");
    assertThat(node.get("stack").asText()).contains("JsonLineEncoderTest");
  }

  private static List<String> iterable(JsonNode node) {
    java.util.ArrayList<String> out = new java.util.ArrayList<>();
    node.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
