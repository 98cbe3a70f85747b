package dev.courier.server.browser;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A connection to a browser's DevTools protocol endpoint over the JDK's own WebSocket client: one
 * request at a time per caller, answered by id; events go to listeners. Commands for a page carry
 * the page's session id (flat sessions, {@code Target.attachToTarget} with {@code flatten}).
 *
 * <p>Thread-safe. A command that gets no answer within {@link #TIMEOUT} fails with the method's
 * name, so a hung browser fails a test instead of hanging it.
 */
public final class DevTools implements AutoCloseable {
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  // a full-page screenshot arrives as one base64 string of several megabytes
  private final ObjectMapper json =
      new ObjectMapper(
          JsonFactory.builder()
              .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(100_000_000).build())
              .build());
  private final WebSocket socket;
  private final Map<Long, CompletableFuture<JsonNode>> waiting = new ConcurrentHashMap<>();
  private final List<Consumer<Event>> listeners = new CopyOnWriteArrayList<>();
  private final AtomicLong ids = new AtomicLong();

  /** A protocol event: its method, the session it belongs to (null for the browser), and params. */
  public record Event(String sessionId, String method, JsonNode params) {}

  private DevTools(WebSocket socket) {
    this.socket = socket;
  }

  static DevTools connect(URI endpoint) throws IOException, InterruptedException {
    Receiver receiver = new Receiver();
    WebSocket ws;
    try {
      ws =
          HttpClient.newHttpClient()
              .newWebSocketBuilder()
              .connectTimeout(TIMEOUT)
              .buildAsync(endpoint, receiver)
              .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException("cannot open the DevTools connection to " + endpoint + ": " + e, e);
    }
    DevTools d = new DevTools(ws);
    receiver.owner = d;
    return d;
  }

  /** Adds a listener for every event (called on the connection's thread: keep it short). */
  public void onEvent(Consumer<Event> listener) {
    listeners.add(listener);
  }

  /** A fresh params object to fill. */
  public ObjectNode params() {
    return json.createObjectNode();
  }

  /**
   * Sends a command and waits for its result.
   *
   * @param sessionId the page session, or null for a browser command
   * @throws IllegalStateException if the browser answers with an error, or not in time
   */
  public JsonNode send(String sessionId, String method, ObjectNode params) {
    long id = ids.incrementAndGet();
    ObjectNode message = json.createObjectNode();
    message.put("id", id);
    message.put("method", method);
    message.set("params", params == null ? json.createObjectNode() : params);
    if (sessionId != null) {
      message.put("sessionId", sessionId);
    }
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    waiting.put(id, answer);
    try {
      socket.sendText(json.writeValueAsString(message), true).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      JsonNode reply = answer.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      if (reply.has("error")) {
        throw new IllegalStateException(method + " failed: " + reply.get("error"));
      }
      return reply.path("result");
    } catch (TimeoutException e) {
      throw new IllegalStateException(method + " got no answer within " + TIMEOUT.toSeconds() + " s", e);
    } catch (ExecutionException | JsonProcessingException e) {
      throw new IllegalStateException(method + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(method + " interrupted", e);
    } finally {
      waiting.remove(id);
    }
  }

  private void receive(String text) {
    JsonNode m;
    try {
      m = json.readTree(text);
    } catch (JsonProcessingException e) {
      return;
    }
    if (m.has("id")) {
      CompletableFuture<JsonNode> f = waiting.get(m.get("id").asLong());
      if (f != null) {
        f.complete(m);
      }
      return;
    }
    Event e =
        new Event(
            m.hasNonNull("sessionId") ? m.get("sessionId").asText() : null,
            m.path("method").asText(),
            m.path("params"));
    for (Consumer<Event> l : listeners) {
      l.accept(e);
    }
  }

  private void closed(Throwable why) {
    IllegalStateException gone = new IllegalStateException("the DevTools connection closed", why);
    waiting.values().forEach(f -> f.completeExceptionally(gone));
  }

  @Override
  public void close() {
    socket.abort();
  }

  /** Joins the text frames of each message and hands complete messages on. */
  private static final class Receiver implements WebSocket.Listener {
    private final StringBuilder partial = new StringBuilder();
    private volatile DevTools owner;

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        String message = partial.toString();
        partial.setLength(0);
        DevTools d = owner;
        if (d != null) {
          d.receive(message);
        }
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      DevTools d = owner;
      if (d != null) {
        d.closed(null);
      }
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      DevTools d = owner;
      if (d != null) {
        d.closed(error);
      }
    }
  }
}
