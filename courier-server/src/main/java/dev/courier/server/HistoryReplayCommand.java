package dev.courier.server;

import dev.courier.outbox.HistoryFilter;
import dev.courier.outbox.HistoryReplay;
import dev.courier.outbox.HistoryReplayResult;
import dev.courier.outbox.ReplayTarget;
import dev.courier.server.admin.AdminJson;
import dev.courier.server.admin.TimeArgument;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code courier replay}: publishes history again, from the outbox's published rows and the
 * archive, with the events' own ids.
 */
@Command(
    name = "replay",
    mixinStandardHelpOptions = true,
    versionProvider = CourierCli.Version.class,
    description = {
      "Publish history again: published events (in the outbox or its archive) selected by creation",
      "time, type, key or destination go back to the outbox with their own event ids, oldest first.",
      "Consumers whose ledger holds an event skip it; new consumers, or ones whose ledger rows were",
      "pruned, apply it. --to-destination publishes them to another destination (same event ids);",
      "--consumer addresses them to one consumer: the others skip them, it applies each once more even",
      "though its ledger holds it. The same --replay-id submitted twice replays once. Exit 1 when",
      "nothing matched."
    })
final class HistoryReplayCommand extends AdminCommand {
  @Option(names = "--from", paramLabel = "TIME", description = "Events created at or after TIME: an ISO instant, a date, or an age (2h, 3d).")
  String from;

  @Option(names = "--to", paramLabel = "TIME", description = "Events created before TIME.")
  String to;

  @Option(names = "--type", paramLabel = "TYPE", description = "Only events of this type.")
  String type;

  @Option(names = "--key", paramLabel = "KEY", description = "Only events with this key.")
  String key;

  @Option(names = "--destination", paramLabel = "NAME", description = "Only events for this destination.")
  String destination;

  @Option(names = "--to-destination", paramLabel = "NAME", description = "Publish to this destination instead of each event's own (the events keep their ids).")
  String toDestination;

  @Option(names = "--consumer", paramLabel = "NAME", description = "Only this consumer handles the replayed events, once more even if its ledger holds them; the other consumers of the destination skip them.")
  String consumer;

  @Option(names = "--all", description = "All published history (when no other filter is given).")
  boolean all;

  @Option(names = "--dry-run", description = "List what would be replayed; change nothing.")
  boolean dryRun;

  @Option(names = "--rate", paramLabel = "N", defaultValue = "0", description = "At most N events per second become publishable: 0 (no limit) or at least 1.")
  double rate;

  @Option(names = "--limit", paramLabel = "N", defaultValue = "10000", description = "At most N events (default ${DEFAULT-VALUE}, at most 100000).")
  int limit;

  @Option(names = "--replay-id", paramLabel = "ID", description = "The replay's id (default: a new one); resubmitting it is harmless.")
  String replayId;

  @Option(names = "--reason", paramLabel = "TEXT", description = "Why, for the audit trail.")
  String reason;

  @Option(names = "--operator", paramLabel = "NAME", description = "Who, for the audit trail (default: $USER).")
  String operator;

  @Override
  int run(Context ctx, PrintWriter out) {
    HistoryFilter filter =
        new HistoryFilter(
            TimeArgument.parse("--from", from, ctx.clock()),
            TimeArgument.parse("--to", to, ctx.clock()),
            type,
            key,
            destination,
            all);
    ReplayTarget target = new ReplayTarget(toDestination, consumer);
    HistoryReplayResult r =
        new HistoryReplay(ctx.dataSource(), ctx.tables(), ctx.clock())
            .replay(filter, target, replayId, dryRun, rate, limit, who(ctx, operator, reason));
    if (json) {
      printJson(out, AdminJson.historyReplay(r));
    } else if (r.dryRun()) {
      out.println("dry run: would replay " + r.replayed() + " published event(s)" + describe(r.target()));
      r.eventIds().forEach(id -> out.println("  " + id));
    } else if (r.alreadySubmitted()) {
      out.println("replay " + r.replayId() + " was submitted before (" + r.replayed() + " replayed then); nothing more enqueued");
    } else {
      out.println("replay " + r.replayId() + ": " + r.replayed() + " published event(s) back in the outbox" + describe(r.target()));
      if (!r.alreadyPending().isEmpty()) {
        out.println(r.alreadyPending().size() + " were still waiting in the outbox and were left as they were");
      }
    }
    return r.alreadySubmitted() ? 0 : okUnlessEmpty(r.replayed() + r.alreadyPending().size());
  }

  private static String describe(ReplayTarget t) {
    return (t.destination() == null ? "" : ", to destination " + t.destination())
        + (t.consumer() == null ? "" : ", for consumer " + t.consumer() + " only");
  }
}
