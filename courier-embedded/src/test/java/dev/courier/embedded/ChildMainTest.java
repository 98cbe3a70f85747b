package dev.courier.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ChildMainTest {

    @Test
    void childJvm_whenItsParentGoesAway_haltsAndDeletesItsDirectory(@TempDir Path dir) throws Exception {
        String classpath = JavaProcesses.writeClasspathArgumentFile(dir.resolve("cp.args"),
                JavaProcesses.currentClasspath(ChildMain.class, Sleeper.class));
        Path workDir = Files.createDirectories(dir.resolve("work/data"));
        Files.writeString(workDir.resolve("segment.log"), "records");
        Process child = new ProcessBuilder(List.of(JavaProcesses.javaExecutable().toString(), classpath,
                "-D" + ChildMain.ORPHAN_CLEANUP_DIR_PROPERTY + "=" + dir.resolve("work"),
                ChildMain.class.getName(), Sleeper.class.getName()))
                .redirectErrorStream(true)
                .start();
        try (BufferedReader output = new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            assertThat(output.readLine()).isEqualTo("sleeping");

            // What a parent's death looks like from the child: its standard input reaches end-of-file.
            child.getOutputStream().close();

            assertThat(child.waitFor(20, TimeUnit.SECONDS)).as("child exited").isTrue();
            assertThat(child.exitValue()).isEqualTo(ChildMain.PARENT_GONE_STATUS);
            assertThat(dir.resolve("work")).doesNotExist();
        } finally {
            child.destroyForcibly();
        }
    }
}
