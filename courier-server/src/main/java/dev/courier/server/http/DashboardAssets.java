package dev.courier.server.http;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The web dashboard's static files (HTML, JavaScript, CSS, the vendored charting library), served
 * from the classpath folder {@value #ROOT}; {@code /} serves {@code index.html}.
 *
 * <p>What a request can reach is narrow by construction: a path is served only if every segment is
 * made of lowercase letters, digits, {@code .}, {@code _} and {@code -} and does not start with a
 * dot (so no {@code ..}, no hidden file, no encoded separator survives), and only if its extension
 * is one of the few this class knows a content type for. Nothing outside {@value #ROOT} can be
 * named, and the class files next to it have no servable extension.
 *
 * <p>Caching: files whose name carries a version (the vendored library, {@code
 * vendor/uPlot-1.6.32.min.js}) are immutable for a year; the dashboard's own files are revalidated
 * on every load ({@code no-cache} with a strong {@code ETag}), so an upgraded server is picked up at
 * once without a build step that fingerprints names. Every response forbids framing and MIME
 * sniffing and carries a content security policy that allows only this origin's scripts, styles
 * and requests.
 *
 * <p>Files are read once and kept in memory (they are a few hundred kilobytes); names that match
 * no file are looked up again each time, never remembered. Thread-safe.
 */
public final class DashboardAssets {
  /** The classpath folder the files are served from. */
  public static final String ROOT = "dev/courier/server/dashboard/";

  static final String CONTENT_SECURITY_POLICY =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
          + " connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none';"
          + " frame-ancestors 'none'";

  private static final Pattern SAFE_PATH =
      Pattern.compile("(/[a-z0-9_-][a-z0-9._-]{0,100}){1,4}");
  private static final Pattern VERSIONED = Pattern.compile(".*-\\d+\\.\\d+\\.\\d+[./].*");
  private static final Map<String, String> TYPES =
      Map.of(
          "html", "text/html; charset=utf-8",
          "js", "text/javascript; charset=utf-8",
          "css", "text/css; charset=utf-8",
          "svg", "image/svg+xml",
          "png", "image/png",
          "ico", "image/x-icon",
          "txt", "text/plain; charset=utf-8");

  private final ClassLoader loader;
  private final Map<String, Asset> cache = new ConcurrentHashMap<>();

  /** The dashboard shipped in this jar. */
  public DashboardAssets() {
    this(DashboardAssets.class.getClassLoader());
  }

  DashboardAssets(ClassLoader loader) {
    this.loader = Objects.requireNonNull(loader, "loader");
  }

  /** One servable file. */
  record Asset(String path, String contentType, byte[] body, String etag, String cacheControl) {}

  /**
   * The file a request path names, if it is one of the dashboard's.
   *
   * @param path the request path as decoded by the server, such as {@code /} or {@code
   *     /dashboard.js}
   */
  Optional<Asset> find(String path) {
    if (path == null) {
      return Optional.empty();
    }
    String p = path.equals("/") ? "/index.html" : path;
    if (!SAFE_PATH.matcher(p).matches()) {
      return Optional.empty();
    }
    String ext = p.substring(p.lastIndexOf('.') + 1);
    int slash = p.lastIndexOf('/');
    if (p.lastIndexOf('.') < slash || !TYPES.containsKey(ext)) {
      return Optional.empty();
    }
    Asset cached = cache.get(p);
    if (cached != null) {
      return Optional.of(cached);
    }
    // only files that exist are kept: caching misses would let requests for made-up names grow
    // the map without bound
    Optional<Asset> loaded = load(p);
    loaded.ifPresent(a -> cache.putIfAbsent(p, a));
    return loaded;
  }

  private Optional<Asset> load(String path) {
    try (InputStream in = loader.getResourceAsStream(ROOT + path.substring(1))) {
      if (in == null) {
        return Optional.empty();
      }
      byte[] body = in.readAllBytes();
      String ext = path.substring(path.lastIndexOf('.') + 1);
      String cacheControl =
          VERSIONED.matcher(path).matches() ? "public, max-age=31536000, immutable" : "no-cache";
      return Optional.of(new Asset(path, TYPES.get(ext), body, etag(body), cacheControl));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the dashboard file " + ROOT + path, e);
    }
  }

  private static String etag(byte[] body) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(body);
      return "\"" + HexFormat.of().formatHex(digest, 0, 16) + "\"";
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /**
   * Answers a {@code GET} or {@code HEAD} for a dashboard file: 200 with the file, 304 when the
   * browser's copy is current.
   *
   * @return false, having sent nothing, when the path names no dashboard file
   */
  boolean serve(HttpExchange ex) throws IOException {
    Optional<Asset> found = find(ex.getRequestURI().getPath());
    if (found.isEmpty()) {
      return false;
    }
    Asset a = found.get();
    var h = ex.getResponseHeaders();
    h.set("Content-Type", a.contentType());
    h.set("Cache-Control", a.cacheControl());
    h.set("ETag", a.etag());
    h.set("X-Content-Type-Options", "nosniff");
    h.set("X-Frame-Options", "DENY");
    h.set("Referrer-Policy", "no-referrer");
    h.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    String ifNoneMatch = ex.getRequestHeaders().getFirst("If-None-Match");
    if (ifNoneMatch != null && matches(ifNoneMatch, a.etag())) {
      ex.sendResponseHeaders(304, -1);
      ex.close();
      return true;
    }
    boolean head = ex.getRequestMethod().equalsIgnoreCase("HEAD");
    ex.sendResponseHeaders(200, head ? -1 : a.body().length);
    if (!head) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(a.body());
      }
    }
    ex.close();
    return true;
  }

  private static boolean matches(String ifNoneMatch, String etag) {
    for (String candidate : ifNoneMatch.split(",")) {
      String c = candidate.trim();
      if (c.startsWith("W/")) {
        c = c.substring(2);
      }
      if (c.equals(etag) || c.equals("*")) {
        return true;
      }
    }
    return false;
  }
}
