package dev.courier.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** File-tree chores shared by the parent and the child JVMs; free of logging so that a child can use it too. */
final class Directories {

    private Directories() {
    }

    /**
     * Deletes a directory tree, carrying on past files that cannot be deleted: a leftover file in a temporary
     * directory is not worth failing a test for.
     *
     * @return whether the root is gone afterwards
     */
    static boolean deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return true;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    // Keep going; the caller learns from the result whether the root is gone.
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // A file vanishing under the walk is the concurrent delete we wanted anyway.
        }
        return !Files.exists(root);
    }
}
