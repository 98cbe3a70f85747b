package dev.courier.server.browser;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * One browser tab, driven the way a person uses it: clicks are mouse events at the element's
 * position and typing is text input into the focused field, so a button hidden behind a dialog or
 * disabled cannot be "clicked" by calling its handler. Reading the page is JavaScript evaluated in
 * it.
 *
 * <p>Every error the page reports (uncaught exceptions, {@code console.error}, failed loads,
 * content-security-policy violations) is collected for {@link #errors()}.
 */
public final class BrowserPage {
  private static final Duration POLL = Duration.ofMillis(100);

  private final DevTools devTools;
  private final String sessionId;
  private final int width;
  private final List<String> errors = new CopyOnWriteArrayList<>();

  private BrowserPage(DevTools devTools, String sessionId, int width) {
    this.devTools = devTools;
    this.sessionId = sessionId;
    this.width = width;
  }

  static BrowserPage open(DevTools devTools, int width, int height) {
    ObjectNode create = devTools.params();
    create.put("url", "about:blank");
    String targetId = devTools.send(null, "Target.createTarget", create).get("targetId").asText();
    ObjectNode attach = devTools.params();
    attach.put("targetId", targetId);
    attach.put("flatten", true);
    String sessionId = devTools.send(null, "Target.attachToTarget", attach).get("sessionId").asText();
    BrowserPage page = new BrowserPage(devTools, sessionId, width);
    devTools.onEvent(page::event);
    page.command("Page.enable", null);
    page.command("Runtime.enable", null);
    page.command("Log.enable", null);
    page.viewport(height);
    return page;
  }

  private void event(DevTools.Event e) {
    if (!sessionId.equals(e.sessionId())) {
      return;
    }
    JsonNode p = e.params();
    switch (e.method()) {
      case "Runtime.exceptionThrown" -> {
        JsonNode d = p.path("exceptionDetails");
        errors.add(
            "uncaught: "
                + d.path("exception").path("description").asText(d.path("text").asText())
                + " at "
                + d.path("url").asText()
                + ":"
                + d.path("lineNumber").asInt());
      }
      case "Runtime.consoleAPICalled" -> {
        if (p.path("type").asText().equals("error")) {
          List<String> args = new ArrayList<>();
          p.path("args").forEach(a -> args.add(a.path("value").asText(a.path("description").asText())));
          errors.add("console.error: " + String.join(" ", args));
        }
      }
      case "Log.entryAdded" -> {
        JsonNode entry = p.path("entry");
        if (entry.path("level").asText().equals("error")) {
          errors.add(
              entry.path("source").asText() + ": " + entry.path("text").asText() + " " + entry.path("url").asText());
        }
      }
      default -> {
        // other events are not needed
      }
    }
  }

  /** Sends a command in this tab's session. */
  public JsonNode command(String method, ObjectNode params) {
    return devTools.send(sessionId, method, params);
  }

  private void viewport(int height) {
    ObjectNode p = devTools.params();
    p.put("width", width);
    p.put("height", height);
    p.put("deviceScaleFactor", 1);
    p.put("mobile", false);
    command("Emulation.setDeviceMetricsOverride", p);
  }

  /** Loads a URL and waits until the document and its scripts have loaded. */
  public void navigate(URI url) {
    ObjectNode p = devTools.params();
    p.put("url", url.toString());
    JsonNode r = command("Page.navigate", p);
    if (r.hasNonNull("errorText")) {
      throw new IllegalStateException("cannot load " + url + ": " + r.get("errorText").asText());
    }
    waitUntil("the page " + url + " has loaded", Duration.ofSeconds(30), "document.readyState === 'complete'");
  }

  /**
   * Evaluates a JavaScript expression in the page (awaiting it if it is a promise) and returns its
   * value as JSON.
   *
   * @throws IllegalStateException if the expression throws
   */
  public JsonNode eval(String expression) {
    ObjectNode p = devTools.params();
    p.put("expression", expression);
    p.put("returnByValue", true);
    p.put("awaitPromise", true);
    JsonNode r = command("Runtime.evaluate", p);
    if (r.has("exceptionDetails")) {
      JsonNode d = r.get("exceptionDetails");
      throw new IllegalStateException(
          "the page threw on `"
              + expression
              + "`: "
              + d.path("exception").path("description").asText(d.path("text").asText()));
    }
    return r.path("result").path("value");
  }

  /** The text of the first element matching a CSS selector, or null if none matches. */
  public String text(String selector) {
    JsonNode v = eval("(() => { const e = document.querySelector(" + quote(selector) + "); return e ? e.textContent : null; })()");
    return v.isNull() || v.isMissingNode() ? null : v.asText();
  }

  /** Whether an element matching the selector exists and is displayed. */
  public boolean visible(String selector) {
    return eval(
            "(() => { const e = document.querySelector("
                + quote(selector)
                + "); if (!e) return false; const r = e.getBoundingClientRect();"
                + " return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; })()")
        .asBoolean();
  }

  /**
   * Polls a JavaScript condition until it is true.
   *
   * @param what the condition for a person, for the failure message
   * @throws AssertionError if it does not hold within {@code timeout}; the message has the page's
   *     errors and its visible text
   */
  public void waitUntil(String what, Duration timeout, String condition) {
    waitUntil(what, timeout, () -> eval("!!(" + condition + ")").asBoolean());
  }

  /** Polls a check until it is true; see {@link #waitUntil(String, Duration, String)}. */
  public void waitUntil(String what, Duration timeout, Supplier<Boolean> check) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        if (check.get()) {
          return;
        }
      } catch (IllegalStateException e) {
        // the page is between documents; try again
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "waited "
                + timeout.toSeconds()
                + " s for "
                + what
                + "; page errors: "
                + errors
                + "\nvisible text:\n"
                + visibleText());
      }
      try {
        Thread.sleep(POLL.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while waiting for " + what, e);
      }
    }
  }

  private String visibleText() {
    try {
      return eval("document.body ? document.body.innerText : ''").asText();
    } catch (RuntimeException e) {
      return "(unreadable: " + e.getMessage() + ")";
    }
  }

  /**
   * Clicks the middle of the first element matching a CSS selector with the left mouse button,
   * after scrolling it into view.
   *
   * @throws AssertionError if no such element is visible
   */
  public void click(String selector) {
    JsonNode box =
        eval(
            "(() => { const e = document.querySelector("
                + quote(selector)
                + "); if (!e) return null; e.scrollIntoView({block: 'center', inline: 'center'});"
                + " const r = e.getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + r.height / 2,"
                + " w: r.width, h: r.height}; })()");
    if (box.isNull() || box.isMissingNode() || box.get("w").asDouble() == 0) {
      throw new AssertionError("nothing to click: no visible element matches " + selector + "\n" + visibleText());
    }
    double x = box.get("x").asDouble();
    double y = box.get("y").asDouble();
    mouse("mouseMoved", x, y, 0);
    mouse("mousePressed", x, y, 1);
    mouse("mouseReleased", x, y, 1);
  }

  private void mouse(String type, double x, double y, int clicks) {
    ObjectNode p = devTools.params();
    p.put("type", type);
    p.put("x", x);
    p.put("y", y);
    p.put("button", type.equals("mouseMoved") ? "none" : "left");
    p.put("clickCount", clicks);
    command("Input.dispatchMouseEvent", p);
  }

  /** Clicks into a field, clears it, and types text into it as keyboard input. */
  public void type(String selector, String text) {
    click(selector);
    eval("document.querySelector(" + quote(selector) + ").select()");
    ObjectNode p = devTools.params();
    p.put("text", text);
    command("Input.insertText", p);
  }

  /**
   * Saves a PNG of the whole page (not only the viewport) to {@code file}, creating its folder. The
   * viewport is stretched to the page's height for the capture, so that sticky headers and dialogs
   * sit where a reader expects them, then restored.
   */
  public void screenshot(Path file) throws IOException {
    int viewportHeight = eval("window.innerHeight").asInt();
    eval("window.scrollTo(0, 0)");
    int height = eval("Math.ceil(document.documentElement.scrollHeight)").asInt();
    byte[] png;
    viewport(Math.max(height, viewportHeight));
    try {
      // one frame for the layout to settle at the new size
      eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))");
      ObjectNode p = devTools.params();
      p.put("format", "png");
      png = Base64.getDecoder().decode(command("Page.captureScreenshot", p).get("data").asText());
    } finally {
      viewport(viewportHeight);
    }
    Path dir = file.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    Files.write(file, png);
  }

  /** Everything the page reported as an error so far. */
  public List<String> errors() {
    return List.copyOf(errors);
  }

  /** A string as a JavaScript string literal. */
  public static String quote(String s) {
    StringBuilder b = new StringBuilder("'");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '\'' -> b.append("\\'");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        default -> {
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('\'').toString();
  }
}
