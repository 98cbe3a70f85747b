package dev.courier.testkit.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import dev.courier.embedded.ChildProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessHarnessTest {

    @TempDir
    Path dir;

    /** Main class of the child: appends a line to the file named by its argument every 20 ms. */
    public static final class Ticker {
        public static void main(String[] args) throws Exception {
            Path file = Path.of(args[0]);
            while (true) {
                Files.writeString(file, "tick\n", java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.APPEND);
                Thread.sleep(20);
            }
        }
    }

    @Test
    void pausedChild_makesNoProgressUntilResumed_killedChildIsGone_andRestartStartsANewProcess() throws Exception {
        Path ticks = dir.resolve("ticks");
        try (ProcessHarness harness = new ProcessHarness(dir.resolve("logs"), Clock.systemUTC())) {
            ChildProcess first = harness.start(new ProcessHarness.Role("ticker", Ticker.class,
                    List.of(ticks.toString()), List.of("-Xmx32m"), Map.of()));
            awaitTicks(ticks, 5);

            harness.pause("ticker", "for the test");
            Thread.sleep(200);
            long frozen = count(ticks);
            Thread.sleep(300);
            assertThat(count(ticks)).as("no ticks while stopped").isEqualTo(frozen);
            harness.resume("ticker");
            awaitTicks(ticks, frozen + 5);

            harness.kill("ticker", "at random");
            assertThat(first.isAlive()).isFalse();
            ChildProcess second = harness.restart("ticker");
            assertThat(second.pid()).isNotEqualTo(first.pid());
            long afterRestart = count(ticks);
            awaitTicks(ticks, afterRestart + 5);

            assertThat(harness.faults()).extracting(History.FaultRecord::description)
                    .containsExactly("ticker paused (SIGSTOP) for the test", "ticker killed (SIGKILL) at random");
            assertThat(harness.faults()).allSatisfy(f -> assertThat(f.healedAt()).isNotNull());
            assertThat(harness.lastHealed()).isEqualTo(harness.faults().get(1).healedAt());
        }
    }

    private static long count(Path file) throws IOException {
        return Files.exists(file) ? Files.readAllLines(file).size() : 0;
    }

    private static void awaitTicks(Path file, long atLeast) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (count(file) < atLeast) {
            assertThat(System.nanoTime()).as("ticks reached %d", atLeast).isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
