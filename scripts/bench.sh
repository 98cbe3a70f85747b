#!/usr/bin/env bash
#
# bench.sh - build courier-bench and run Courier's benchmarks (issue 7).
#
#   scripts/bench.sh [BenchMain options...]      e.g. scripts/bench.sh --runs 3 --output bench-results.md
#   ./courier bench [options]                    the same, and rewrites docs/BENCHMARKS.md's results
#   scripts/bench.sh --help                      the options
#
# It finds a JDK >= 21 as ./courier does (JAVA_HOME first), builds courier-bench and the modules it
# needs without running their tests, then runs dev.courier.bench.BenchMain with the module's jar and
# its copied dependencies (courier-bench/target/lib). The benchmark uses the PostgreSQL at
# 127.0.0.1:5432 (database test, user postgres; COURIER_DB_URL to choose another, an embedded one
# when none answers) and starts its own Kafka broker. Courier's INFO log goes to courier-bench.log
# in the current directory (COURIER_BENCH_LOG to move it).
#
# Environment:
#   JAVA_HOME              JDK to use (21+; otherwise one is searched for)
#   COURIER_BENCH_OPTS     extra JVM options for the benchmark JVM, e.g. "-XX:StartFlightRecording=filename=bench.jfr"
#   COURIER_BENCH_NO_BUILD=1  run what is already built
#
# Exit status: BenchMain's (0 report written, 1 a measurement failed, 2 bad options), or 1 if no
# JDK was found or the build failed.

set -euo pipefail

home=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=scripts/find-jdk.sh
. "$home/scripts/find-jdk.sh"
COURIER_JDK_QUIET=1 courier_find_jdk || exit 1

target=$home/courier-bench/target
# W2 compares the standalone relay (the server's CLI, in a process of its own) with the in-process one
server=$home/courier-server/target
if [ "${COURIER_BENCH_NO_BUILD:-0}" != 1 ]; then
  printf 'bench: building courier-bench and courier-server with JDK %s at %s...\n' "$COURIER_JAVA_MAJOR" "$JAVA_HOME" >&2
  # copy-dependencies never deletes: start from an empty lib/ so that an old jar cannot linger.
  rm -rf "$target/lib" "$server/lib"
  log=$(mktemp "${TMPDIR:-/tmp}/courier-bench-build.XXXXXX")
  # package, not install: a reactor build finds the upstream modules' jars in their target/ and
  # leaves the local repository alone.
  if ! (cd "$home" && ./mvnw -B -ntp -q -DskipTests -Dmaven.javadoc.skip=true package -pl courier-bench,courier-server -am </dev/null) >"$log" 2>&1; then
    cat "$log" >&2
    printf 'bench: BUILD FAILED; full output in %s\n' "$log" >&2
    exit 1
  fi
  rm -f "$log"
fi

jar=''
for f in "$target"/courier-bench-*.jar; do
  case $f in *-sources.jar | *-javadoc.jar | *-tests.jar) continue ;; esac
  [ -f "$f" ] && jar=$f
done
[ -n "$jar" ] || { printf 'bench: no courier-bench jar in %s; build it first\n' "$target" >&2; exit 1; }
server_cp=''
for f in "$server"/courier-server-*.jar; do
  case $f in *-sources.jar | *-javadoc.jar | *-tests.jar) continue ;; esac
  [ -f "$f" ] && [ -d "$server/lib" ] && server_cp="$f:$server/lib/*"
done

opts=()
if [ -n "${COURIER_BENCH_OPTS:-}" ]; then
  read -r -a opts <<<"$COURIER_BENCH_OPTS"
fi

# The 1M-row backlog keeps its records in memory for the ceiling: give the JVM room.
exec "$JAVA_HOME/bin/java" -Xmx4g ${opts[@]+"${opts[@]}"} \
  "-Dcourier.bench.log=${COURIER_BENCH_LOG:-courier-bench.log}" \
  "-Dcourier.bench.server-classpath=$server_cp" \
  -cp "$jar:$target/lib/*" dev.courier.bench.BenchMain "$@"
