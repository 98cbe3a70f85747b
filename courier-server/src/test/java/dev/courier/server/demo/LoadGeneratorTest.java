package dev.courier.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class LoadGeneratorTest {

  @Test
  void runsEachItemOnce_atTheConfiguredRate() throws InterruptedException {
    LoadGenerator load = new LoadGenerator(200, Duration.ofMillis(500), 4);
    Set<Long> seen = ConcurrentHashMap.newKeySet();

    long started = System.nanoTime();
    load.run(seen::add);
    Duration took = Duration.ofNanos(System.nanoTime() - started);

    assertThat(load.plannedItems()).isEqualTo(100);
    assertThat(seen).hasSize(100).allMatch(i -> i >= 0 && i < 100);
    // the last item is due at 495 ms; a generous upper bound keeps slow machines green
    assertThat(took).isBetween(Duration.ofMillis(450), Duration.ofSeconds(5));
  }

  @Test
  void stop_endsTheRunEarly() throws InterruptedException {
    LoadGenerator load = new LoadGenerator(100, Duration.ofSeconds(60), 2);
    Thread stopper =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    Thread.sleep(200);
                  } catch (InterruptedException e) {
                    return;
                  }
                  load.stop();
                });

    long started = System.nanoTime();
    load.run(i -> {});

    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
    stopper.join();
  }
}
