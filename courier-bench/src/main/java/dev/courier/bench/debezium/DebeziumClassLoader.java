package dev.courier.bench.debezium;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The class loader Debezium runs in: every jar of the benchmark's class path except Kafka's own
 * (Courier's kafka-clients 4.4.0 and the broker's jars), plus the kafka-clients that Debezium 3.6.1
 * is built against, copied by the build to {@code target/debezium-kafka}. It looks in its own jars
 * first, so Debezium and Connect see their own Kafka; the JDK and the logging API come from the
 * parent, so Debezium logs through the benchmark's logging.
 *
 * <p>Why: kafka-clients 4.4.0 no longer has {@code org.apache.kafka.common.utils.Sanitizer}, which
 * Debezium 3.6.1's metrics call, so Debezium cannot share Courier's Kafka clients.
 */
public final class DebeziumClassLoader extends URLClassLoader {
  static {
    registerAsParallelCapable();
  }

  private static final List<String> PARENT_FIRST =
      List.of("java.", "javax.", "jdk.", "sun.", "com.sun.", "org.slf4j.", "ch.qos.logback.", "org.w3c.", "org.xml.");

  private DebeziumClassLoader(URL[] urls, ClassLoader parent) {
    super("debezium", urls, parent);
  }

  /**
   * Builds the loader from the jars of {@code parent}'s class path and the Kafka clients found next
   * to the benchmark's classes ({@code <target>/debezium-kafka/kafka-clients-*.jar}).
   *
   * @throws IllegalStateException if those Kafka clients are not there (the module is not built)
   */
  public static DebeziumClassLoader create(ClassLoader parent) {
    try {
      URL self = DebeziumClassLoader.class.getProtectionDomain().getCodeSource().getLocation();
      Path target = Path.of(self.toURI()).getParent();
      Set<URL> urls = new LinkedHashSet<>();
      urls.add(self);
      Path dir = target.resolve("debezium-kafka");
      int clients = 0;
      if (Files.isDirectory(dir)) {
        try (DirectoryStream<Path> jars = Files.newDirectoryStream(dir, "kafka-clients-*.jar")) {
          for (Path jar : jars) {
            urls.add(jar.toUri().toURL());
            clients++;
          }
        }
      }
      if (clients != 1) {
        throw new IllegalStateException(
            "expected one kafka-clients jar for Debezium in " + dir + ", found " + clients + "; build courier-bench first");
      }
      Enumeration<URL> manifests = parent.getResources("META-INF/MANIFEST.MF");
      while (manifests.hasMoreElements()) {
        String m = manifests.nextElement().toString();
        if (!m.startsWith("jar:file:") || !m.contains("!/")) {
          continue;
        }
        String jar = m.substring("jar:".length(), m.indexOf("!/"));
        String name = jar.substring(jar.lastIndexOf('/') + 1);
        if (name.startsWith("kafka-") || name.startsWith("kafka_")) {
          continue;
        }
        urls.add(new URL(jar));
      }
      return new DebeziumClassLoader(urls.toArray(URL[]::new), parent);
    } catch (IOException | URISyntaxException e) {
      throw new IllegalStateException("cannot build Debezium's class loader: " + e, e);
    }
  }

  private static boolean parentFirst(String name) {
    for (String p : PARENT_FIRST) {
      if (name.startsWith(p)) {
        return true;
      }
    }
    return false;
  }

  @Override
  protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
    if (parentFirst(name)) {
      return super.loadClass(name, resolve);
    }
    synchronized (getClassLoadingLock(name)) {
      Class<?> c = findLoadedClass(name);
      if (c == null) {
        try {
          c = findClass(name);
        } catch (ClassNotFoundException notHere) {
          c = getParent().loadClass(name);
        }
      }
      if (resolve) {
        resolveClass(c);
      }
      return c;
    }
  }

  @Override
  public URL getResource(String name) {
    URL own = findResource(name);
    return own != null ? own : super.getResource(name);
  }

  @Override
  public Enumeration<URL> getResources(String name) throws IOException {
    List<URL> own = Collections.list(findResources(name));
    return own.isEmpty() ? getParent().getResources(name) : Collections.enumeration(own);
  }

  /** Loads {@link IsolatedEngine} in this loader. */
  public Class<?> engineClass() throws ClassNotFoundException {
    return loadClass(IsolatedEngine.class.getName());
  }
}
