package dev.courier.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.courier.Event;
import dev.courier.jdbc.CourierTables;
import dev.courier.jdbc.Schema;
import dev.courier.outbox.Outbox;
import dev.courier.testkit.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A fresh schema with Courier's tables for each test of the relay's SQL ({@code @RegisterExtension}), its store, and
 * the events appended to it.
 */
final class RelaySchema implements BeforeEachCallback, AfterEachCallback {
  private final String prefix;
  private PGSimpleDataSource db;
  private OutboxStore store;

  RelaySchema(String prefix) {
    this.prefix = prefix;
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    db = TestDatabase.shared().freshSchema(prefix);
    Schema.migrate(db, CourierTables.DEFAULT);
    store = store(false);
  }

  @Override
  public void afterEach(ExtensionContext context) {
    TestDatabase.shared().dropSchema(db);
  }

  PGSimpleDataSource db() {
    return db;
  }

  /** The store that marks confirmed rows published. */
  OutboxStore store() {
    return store;
  }

  OutboxStore store(boolean deletePublished) {
    return new OutboxStore(db, CourierTables.DEFAULT, deletePublished);
  }

  /** Appends the events in one committed transaction. */
  List<Event> append(Event.Builder... builders) throws SQLException {
    Outbox outbox = Outbox.builder().build();
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      List<Event> appended = new ArrayList<>();
      for (Event.Builder b : builders) {
        appended.add(outbox.append(c, b));
      }
      c.commit();
      return appended;
    }
  }

  long seqOf(Event e) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT seq FROM courier_outbox WHERE event_id = ?")) {
      ps.setObject(1, e.id());
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).as("the event's outbox row").isTrue();
        return rs.getLong(1);
      }
    }
  }
}
