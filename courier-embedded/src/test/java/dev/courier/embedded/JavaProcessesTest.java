package dev.courier.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JavaProcessesTest {

    @Test
    void expandManifestClasspaths_followsTheClassPathOfAManifestOnlyJar(@TempDir Path dir) throws Exception {
        Path classes = Files.createDirectories(dir.resolve("target/classes"));
        Path library = writeJar(dir.resolve("repo/lib.jar"), null);
        Path withSpace = Files.createDirectories(dir.resolve("other dir"));
        Path booter = writeJar(dir.resolve("booter/booter.jar"),
                classes.toUri() + " ../repo/lib.jar " + withSpace.toUri().getRawPath() + " missing.jar");

        List<Path> expanded = JavaProcesses.expandManifestClasspaths(List.of(booter));

        assertThat(expanded).containsExactly(booter, classes, library, withSpace);
    }

    @Test
    void expandManifestClasspaths_keepsTheFirstOfRepeatedEntries(@TempDir Path dir) throws Exception {
        Path library = writeJar(dir.resolve("lib.jar"), null);
        Path pointing = writeJar(dir.resolve("pointing.jar"), "lib.jar");

        List<Path> expanded = JavaProcesses.expandManifestClasspaths(List.of(library, pointing, library));

        assertThat(expanded).containsExactly(library, pointing);
    }

    @Test
    void currentClasspath_containsKafkaAndTheTestKit() throws Exception {
        List<Path> classpath = JavaProcesses.currentClasspath();

        assertThat(classpath).anySatisfy(entry -> assertThat(entry.getFileName().toString()).startsWith("kafka_2.13"));
        assertThat(classpath).contains(
                Path.of(ChildMain.class.getProtectionDomain().getCodeSource().getLocation().toURI()));
    }

    @Test
    void writeClasspathArgumentFile_quotesTheClassPathForTheLauncher(@TempDir Path dir) throws Exception {
        String argument = JavaProcesses.writeClasspathArgumentFile(dir.resolve("cp.args"),
                List.of(Path.of("/a b/c.jar"), Path.of("/d/e.jar")));

        assertThat(argument).isEqualTo("@" + dir.resolve("cp.args"));
        assertThat(Files.readString(dir.resolve("cp.args"))).isEqualTo("-cp\n\"/a b/c.jar:/d/e.jar\"\n");
    }

    private static Path writeJar(Path jar, String classPath) throws Exception {
        Files.createDirectories(jar.getParent());
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (classPath != null) {
            manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, classPath);
        }
        // The manifest is the whole content.
        try (OutputStream out = Files.newOutputStream(jar)) {
            new JarOutputStream(out, manifest).close();
        }
        return jar;
    }
}
