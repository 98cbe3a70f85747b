package dev.courier.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

class ServersTest {

    private final ByteArrayOutputStream banner = new ByteArrayOutputStream();
    private final PrintStream bannerStream = new PrintStream(banner, true, StandardCharsets.UTF_8);

    @Test
    void require_whenTheServerIsAvailable_letsTheTestRunSilently() {
        assertThatCode(() -> Servers.require("Redis", "127.0.0.1:6379", true, "redis-server", false, bannerStream))
                .doesNotThrowAnyException();
        assertThat(banner.toString(StandardCharsets.UTF_8)).isEmpty();
    }

    @Test
    void require_whenTheServerIsMissingOutsideCi_skipsTheTestLoudly() {
        assertThatThrownBy(() -> Servers.require("Redis", "127.0.0.1:6379", false, "redis-server --daemonize yes",
                        false, bannerStream))
                .isInstanceOf(TestAbortedException.class)
                .hasMessage("SKIPPED: Redis is not reachable at 127.0.0.1:6379; start it with: redis-server"
                        + " --daemonize yes");
        assertThat(banner.toString(StandardCharsets.UTF_8))
                .contains("!!! SKIPPED: Redis is not reachable at 127.0.0.1:6379");
    }

    @Test
    void require_whenTheServerIsMissingOnCi_failsTheTestNamingTheServer() {
        assertThatThrownBy(() -> Servers.require("Redis", "127.0.0.1:6379", false, "redis-server", true,
                        bannerStream))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("Redis is not reachable at 127.0.0.1:6379")
                .hasMessageContaining("CI=true");
        assertThat(banner.toString(StandardCharsets.UTF_8)).contains("!!! FAILED: Redis");
    }
}
