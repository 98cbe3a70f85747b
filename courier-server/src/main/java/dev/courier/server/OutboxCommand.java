package dev.courier.server;

import dev.courier.outbox.DeadOutboxRow;
import dev.courier.outbox.OutboxAdmin;
import dev.courier.outbox.OutboxSelection;
import dev.courier.outbox.OutboxStatus;
import dev.courier.server.admin.AdminJson;
import dev.courier.server.config.ValueFormat;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code courier outbox status|dead|retry}: the outbox's backlog and its dead rows. */
@Command(
    name = "outbox",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = "Outbox backlog and dead rows: status, dead, retry.",
    subcommands = {
      OutboxCommand.Status.class,
      OutboxCommand.Dead.class,
      OutboxCommand.Retry.class,
      CommandLine.HelpCommand.class
    })
final class OutboxCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  private static OutboxAdmin admin(AdminCommand.Context ctx) {
    return new OutboxAdmin(ctx.dataSource(), ctx.tables(), ctx.clock(), Duration.ZERO);
  }

  @Command(
      name = "status",
      mixinStandardHelpOptions = true,
      description = "Backlog, oldest pending age and dead rows, overall and per destination.")
  static final class Status extends AdminCommand {
    @Override
    int run(Context ctx, PrintWriter out) {
      OutboxStatus s = admin(ctx).status();
      if (json) {
        printJson(out, AdminJson.outboxStatus(s));
        return 0;
      }
      out.printf(
          "backlog %d, oldest pending %s, dead %d%n",
          s.pending(), ValueFormat.age(s.oldestPendingAge()), s.dead());
      if (!s.destinations().isEmpty()) {
        TextTable t = new TextTable(60, "DESTINATION", "PENDING", "DEAD", "OLDEST PENDING");
        for (OutboxStatus.Destination d : s.destinations()) {
          Duration age =
              d.oldestPendingCreatedAt() == null
                  ? Duration.ZERO
                  : Duration.between(d.oldestPendingCreatedAt(), s.takenAt());
          t.row(d.destination(), d.pending(), d.dead(), ValueFormat.age(age));
        }
        t.print(out);
      }
      return 0;
    }
  }

  @Command(
      name = "dead",
      mixinStandardHelpOptions = true,
      description = "List dead outbox rows (the ids 'outbox retry' takes). Exit 1 when there are none.")
  static final class Dead extends AdminCommand {
    @Option(names = "--destination", paramLabel = "NAME", description = "Only this destination.")
    String destination;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "At most N rows (default ${DEFAULT-VALUE}).")
    int limit;

    @Override
    int run(Context ctx, PrintWriter out) {
      List<DeadOutboxRow> rows = admin(ctx).dead(destination, limit);
      if (json) {
        printJson(out, AdminJson.deadOutboxRows(rows));
      } else if (rows.isEmpty()) {
        out.println("no dead outbox rows");
      } else {
        TextTable t = new TextTable(60, "ID", "EVENT ID", "TYPE", "DESTINATION", "KEY", "ATTEMPTS", "DEAD AT", "LAST ERROR");
        for (DeadOutboxRow r : rows) {
          t.row(r.seq(), r.eventId(), r.type(), r.destination(), r.key(), r.attempts(), r.deadAt(), r.lastError());
        }
        t.print(out);
      }
      return okUnlessEmpty(rows.size());
    }
  }

  @Command(
      name = "retry",
      mixinStandardHelpOptions = true,
      description = {
        "Put dead outbox rows back to pending (attempts reset) for the relay to publish again.",
        "Give row ids, --destination, or --all. Exit 1 when no dead row matched."
      })
  static final class Retry extends AdminCommand {
    @Parameters(paramLabel = "ID", arity = "0..*", description = "Outbox row ids (see 'outbox dead').")
    List<Long> ids = new ArrayList<>();

    @Option(names = "--destination", paramLabel = "NAME", description = "Every dead row of this destination.")
    String destination;

    @Option(names = "--all", description = "Every dead row.")
    boolean all;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why, for the audit trail.")
    String reason;

    @Option(names = "--operator", paramLabel = "NAME", description = "Who, for the audit trail (default: $USER).")
    String operator;

    @Override
    int run(Context ctx, PrintWriter out) {
      OutboxSelection selection = new OutboxSelection(ids, destination, all);
      int n = admin(ctx).retryDead(selection, who(ctx, operator, reason));
      if (json) {
        printJson(out, AdminJson.MAPPER.createObjectNode().put("retried", n));
      } else {
        out.println("retried " + n + " dead outbox row" + (n == 1 ? "" : "s"));
      }
      return okUnlessEmpty(n);
    }
  }
}
