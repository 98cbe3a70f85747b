package dev.courier.server.logging;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.FileAppender;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * Moves the JSON log from standard output to a file for the length of a command, so that a human
 * watching the terminal sees the command's own progress lines and not thousands of JSON lines.
 *
 * <p>Works on the Logback configuration from {@code logback.xml}: the root logger's appenders are
 * detached and a file appender with the same {@link JsonLineEncoder} takes their place; {@link
 * #close()} puts them back. If SLF4J is bound to something other than Logback (an application that
 * embeds Courier and brings its own logging), nothing is changed.
 */
public final class LogRouting implements AutoCloseable {
  private final Logger root;
  private final List<Appender<ILoggingEvent>> detached;
  private final FileAppender<ILoggingEvent> file;

  private LogRouting(
      Logger root, List<Appender<ILoggingEvent>> detached, FileAppender<ILoggingEvent> file) {
    this.root = root;
    this.detached = detached;
    this.file = file;
  }

  /**
   * Sends every log line to {@code logFile} (truncated first) instead of the configured appenders.
   *
   * @return a handle that restores the previous appenders when closed
   */
  public static LogRouting toFile(Path logFile) {
    ILoggerFactory factory = LoggerFactory.getILoggerFactory();
    if (!(factory instanceof LoggerContext context)) {
      return new LogRouting(null, List.of(), null);
    }
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    JsonLineEncoder encoder = new JsonLineEncoder();
    encoder.setContext(context);
    encoder.start();
    FileAppender<ILoggingEvent> file = new FileAppender<>();
    file.setContext(context);
    file.setName("COURIER_FILE");
    file.setFile(logFile.toAbsolutePath().toString());
    file.setAppend(false);
    file.setEncoder(encoder);
    file.start();
    List<Appender<ILoggingEvent>> detached = new ArrayList<>();
    for (Iterator<Appender<ILoggingEvent>> it = root.iteratorForAppenders(); it.hasNext(); ) {
      detached.add(it.next());
    }
    // attach first, then detach: no line is lost in between
    root.addAppender(file);
    detached.forEach(root::detachAppender);
    return new LogRouting(root, detached, file);
  }

  /** Whether logs are going to the file (false when Logback is not the SLF4J binding). */
  public boolean active() {
    return file != null;
  }

  /** Restores the appenders that were detached and closes the file. Idempotent. */
  @Override
  public synchronized void close() {
    if (root == null || !file.isStarted()) {
      return;
    }
    detached.forEach(root::addAppender);
    root.detachAppender(file);
    file.stop();
  }
}
