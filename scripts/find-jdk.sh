# shellcheck shell=bash
#
# Locate a JDK that can build and run Courier (release 21 => JDK 21 or newer).
#
# Usage (source it, then call the function):
#
#     . scripts/find-jdk.sh
#     courier_find_jdk || exit 1      # exports JAVA_HOME on success
#
# This file is a library: it only defines functions and never changes the
# caller's shell options, so it is safe to source from scripts that run with
# `set -euo pipefail`. It sticks to features of bash 3.2 because that is still
# the /bin/bash shipped with macOS.
#
# Order of preference:
#   1. $JAVA_HOME, if it is a JDK >= 21. An explicit choice wins even when a
#      newer JDK is installed elsewhere; if it is too old (or not a JDK) we say
#      so on stderr and keep looking rather than failing, because a stale
#      JAVA_HOME in a shell profile is the most common cause of a broken build.
#   2. The highest version >= 21 among the usual install locations and the
#      `java` on PATH.
#
# Environment knobs:
#   COURIER_JDK_MIN           minimum major version (default 21).
#   COURIER_JDK_RUN_ONLY=1    accept a Java runtime without javac: the installed
#                             distribution (bin/courier of the release archive)
#                             only runs Courier, it never builds it.
#   COURIER_JDK_QUIET=1       do not print the "using JDK ..." line.
#   COURIER_JDK_SEARCH_PATHS  colon-separated list of directories or glob
#                             patterns that REPLACES the built-in search list;
#                             when set, the `java` on PATH and macOS
#                             /usr/libexec/java_home are not consulted either.
#                             Meant for tests (simulate "no JDK installed") and
#                             for unusual layouts.
#
# On success it exports JAVA_HOME and COURIER_JAVA_MAJOR and returns 0.
# On failure it prints every candidate it looked at, what is required and how
# to fix it, and returns 1.

# Print a message on stderr with a recognisable prefix.
_courier_jdk_say() {
  printf 'courier: %s\n' "$*" >&2
}

# Compare two dotted version strings numerically (e.g. 21.0.10 vs 21.0.9).
# Returns 0 if $1 > $2, 1 otherwise. Non-digit separators (+, -, _) are
# treated like dots so that "21.0.5+11" and "25-ea" compare sensibly.
_courier_jdk_version_gt() {
  local a b i x y IFS=' '
  a=$(printf '%s' "$1" | tr -c '0-9' ' ')
  b=$(printf '%s' "$2" | tr -c '0-9' ' ')
  # shellcheck disable=SC2206  # word splitting on spaces is the intent
  local -a as=($a) bs=($b)
  for i in 0 1 2 3; do
    x=${as[$i]:-0}
    y=${bs[$i]:-0}
    # 10# forces base 10 so components like "08" are not read as octal.
    if ((10#$x > 10#$y)); then return 0; fi
    if ((10#$x < 10#$y)); then return 1; fi
  done
  return 1
}

# Run a java binary once and extract what we need from its own report of its
# system properties. Asking the JVM (instead of trusting a directory name like
# "java-21-openjdk") is the only reliable way to learn the version, and
# java.home tells us where the installation really lives when we were handed
# a symlink such as /usr/bin/java.
#
# Sets _cj_major, _cj_version, _cj_vendor, _cj_home. Returns 1 if the binary
# does not run.
_courier_jdk_probe() {
  local java=$1 out line spec
  _cj_major='' _cj_version='' _cj_vendor='' _cj_home=''

  # A broken or foreign-architecture binary can hang or crash; keep the probe
  # bounded where `timeout` exists (GNU coreutils; absent on stock macOS).
  if command -v timeout >/dev/null 2>&1; then
    out=$(timeout 20 "$java" -XshowSettings:properties -version 2>&1) || return 1
  else
    out=$("$java" -XshowSettings:properties -version 2>&1) || return 1
  fi

  spec=''
  while IFS= read -r line; do
    case $line in
      *'java.specification.version = '*) spec=${line##* = } ;;
      *'java.version = '*) _cj_version=${line##* = } ;;
      *'java.vendor = '*) _cj_vendor=${line##* = } ;;
      *'java.home = '*) _cj_home=${line##* = } ;;
    esac
  done <<EOF
$out
EOF

  # Fallback for a JVM that does not understand -XshowSettings: parse the
  # classic banner line, e.g.  openjdk version "21.0.5" 2024-10-15
  if [ -z "$_cj_version" ]; then
    line=$(printf '%s\n' "$out" | grep -m1 ' version "' || true)
    line=${line#*version \"}
    _cj_version=${line%%\"*}
  fi
  [ -n "$spec" ] || spec=$_cj_version
  [ -n "$spec" ] || return 1

  # Java 8 and older report "1.8"; 9+ report the major number first.
  case $spec in
    1.*) spec=${spec#1.} ;;
  esac
  _cj_major=${spec%%[!0-9]*}
  [ -n "$_cj_major" ] || return 1

  # Java 8's java.home is <jdk>/jre; report the JDK root instead.
  case $_cj_home in
    */jre) [ -x "${_cj_home%/jre}/bin/javac" ] && _cj_home=${_cj_home%/jre} ;;
  esac
  return 0
}

# Look at one candidate directory (a would-be JAVA_HOME), add a line about it
# to the report and remember it if it is the best acceptable JDK so far.
# $1 = directory, $2 = where it came from (for the report).
# Returns 0 if the candidate is acceptable.
_courier_jdk_consider() {
  local dir=$1 origin=$2 real label
  if [ ! -d "$dir" ]; then
    _cj_reason='no such directory'
    _cj_report="$_cj_report  $dir${origin:+ ($origin)}: $_cj_reason
"
    return 1
  fi
  # Make it absolute (without resolving symlinks, so messages show the name
  # the user knows): callers cd elsewhere before running mvnw or java.
  dir=$(cd "$dir" 2>/dev/null && pwd) || return 1

  # The same JDK is often reachable under several names (Debian's
  # java-1.17.0-openjdk-amd64 -> java-17-openjdk-amd64, SDKMAN's "current").
  # Resolve symlinks so that each installation is probed and reported once.
  real=$(cd -P "$dir" 2>/dev/null && pwd -P) || real=$dir
  case $_cj_seen in
    *"|$real|"*)
      # Only mention a repeat when it explains something (e.g. the java on
      # PATH is one of the JDKs already listed); aliases in a search
      # directory would just be noise.
      _cj_reason="same installation as $real (already checked)"
      if [ -n "$origin" ]; then
        _cj_report="$_cj_report  $dir ($origin): $_cj_reason
"
      fi
      return 1
      ;;
  esac
  _cj_seen="$_cj_seen|$real|"

  label=$dir
  [ -n "$origin" ] && label="$dir ($origin)"

  if [ ! -x "$dir/bin/java" ]; then
    _cj_reason='not a Java installation (no bin/java)'
  elif ! _courier_jdk_probe "$dir/bin/java"; then
    _cj_reason='bin/java does not run or did not report a version'
  elif [ "$_cj_major" -lt "$_cj_min" ]; then
    _cj_reason="Java $_cj_version - too old"
  elif [ "${COURIER_JDK_RUN_ONLY:-0}" != 1 ] && [ ! -x "$dir/bin/javac" ]; then
    # A source checkout is built on first use, so a JRE is not enough there.
    _cj_reason="Java $_cj_version - a JRE only (no bin/javac)"
  else
    _cj_reason=''
  fi
  if [ -n "$_cj_reason" ]; then
    _cj_report="$_cj_report  $label: $_cj_reason
"
    return 1
  fi

  _cj_report="$_cj_report  $label: Java $_cj_version - OK
"
  # Keep the highest version; on a tie the earlier (preferred) location wins.
  if [ -z "$_cj_best" ] || _courier_jdk_version_gt "$_cj_version" "$_cj_best_version"; then
    _cj_best=$dir
    _cj_best_version=$_cj_version
    _cj_best_major=$_cj_major
    _cj_best_vendor=$_cj_vendor
  fi
  return 0
}

# Expand a glob pattern and consider every directory it matches.
# Runs in the caller's shell (not a subshell) so it can update the _cj_ state;
# it temporarily enables globbing/nullglob and restores them afterwards.
_courier_jdk_scan() {
  local pattern=$1 origin=$2 d restore_nullglob had_noglob=0 ifs_save=$IFS
  case $pattern in
    '~'/*) pattern=${HOME:-}/${pattern#'~'/} ;;
  esac
  restore_nullglob=$(shopt -p nullglob || true)
  case $- in *f*) had_noglob=1; set +f ;; esac
  shopt -s nullglob
  # Unquoted on purpose: this is the glob expansion. An empty IFS stops the
  # result from being split again at spaces inside matched paths.
  IFS=
  # shellcheck disable=SC2086
  set -- $pattern
  IFS=$ifs_save
  eval "$restore_nullglob"
  [ "$had_noglob" = 1 ] && set -f
  for d in "$@"; do
    _courier_jdk_consider "$d" "$origin" || true
  done
}

courier_find_jdk() {
  local _cj_min=${COURIER_JDK_MIN:-21}
  local _cj_seen='' _cj_report=''
  local _cj_best='' _cj_best_version='' _cj_best_major='' _cj_best_vendor=''
  local _cj_major='' _cj_version='' _cj_vendor='' _cj_home='' _cj_reason=''
  local pattern path_java from_java_home=''

  # 1. An explicit JAVA_HOME wins if it is good enough.
  if [ -n "${JAVA_HOME:-}" ]; then
    if _courier_jdk_consider "$JAVA_HOME" "from JAVA_HOME"; then
      JAVA_HOME=$_cj_best
      export JAVA_HOME
      COURIER_JAVA_MAJOR=$_cj_best_major
      export COURIER_JAVA_MAJOR
      return 0
    fi
    from_java_home=$JAVA_HOME
    _courier_jdk_say "JAVA_HOME=$JAVA_HOME is not usable: $_cj_reason"
    _courier_jdk_say "Courier needs a JDK $_cj_min or newer; looking for one elsewhere..."
  fi

  # 2. Search the usual places and keep the highest version.
  if [ -n "${COURIER_JDK_SEARCH_PATHS+set}" ]; then
    local -a patterns=()
    IFS=: read -r -a patterns <<EOF
$COURIER_JDK_SEARCH_PATHS
EOF
    # ${a[@]+"${a[@]}"} avoids bash < 4.4 treating an empty array as unset.
    for pattern in ${patterns[@]+"${patterns[@]}"}; do
      [ -n "$pattern" ] && _courier_jdk_scan "$pattern" ''
    done
  else
    # Linux distribution packages (Debian/Ubuntu/Fedora/Arch, Temurin .deb/.rpm).
    _courier_jdk_scan '/usr/lib/jvm/*' ''
    # Oracle/RHEL style.
    _courier_jdk_scan '/usr/java/*' ''
    # Official Docker images (eclipse-temurin sets /opt/java/openjdk) and
    # hand-unpacked tarballs.
    _courier_jdk_scan '/opt/java/*' ''
    _courier_jdk_scan '/opt/*jdk*' ''
    # Per-user installers: SDKMAN, asdf, IntelliJ's downloaded JDKs.
    _courier_jdk_scan "${HOME:-}/.sdkman/candidates/java/*" ''
    _courier_jdk_scan "${HOME:-}/.asdf/installs/java/*" ''
    _courier_jdk_scan "${HOME:-}/.jdks/*" ''
    # macOS: system-wide and per-user JDK bundles, Homebrew kegs.
    _courier_jdk_scan '/Library/Java/JavaVirtualMachines/*/Contents/Home' ''
    _courier_jdk_scan "${HOME:-}/Library/Java/JavaVirtualMachines/*/Contents/Home" ''
    _courier_jdk_scan '/opt/homebrew/opt/openjdk*/libexec/openjdk.jdk/Contents/Home' ''
    _courier_jdk_scan '/usr/local/opt/openjdk*/libexec/openjdk.jdk/Contents/Home' ''
    if [ -x /usr/libexec/java_home ]; then
      local mac_home
      mac_home=$(/usr/libexec/java_home -v "$_cj_min+" 2>/dev/null || true)
      if [ -n "$mac_home" ]; then
        _courier_jdk_consider "$mac_home" "/usr/libexec/java_home" || true
      fi
    fi
    # Whatever `java` is on PATH. Ask the JVM for its java.home, because PATH
    # usually holds a symlink (/usr/bin/java -> /etc/alternatives/java -> ...)
    # or, on macOS, a stub that forwards to the selected JDK.
    path_java=$(command -v java 2>/dev/null || true)
    if [ -n "$path_java" ]; then
      if _courier_jdk_probe "$path_java" && [ -n "$_cj_home" ]; then
        _courier_jdk_consider "$_cj_home" "java on PATH: $path_java" || true
      else
        _cj_report="$_cj_report  $path_java (java on PATH): does not run or did not report a version
"
      fi
    fi
  fi

  if [ -n "$_cj_best" ]; then
    JAVA_HOME=$_cj_best
    COURIER_JAVA_MAJOR=$_cj_best_major
    export JAVA_HOME COURIER_JAVA_MAJOR
    if [ -n "$from_java_home" ] || [ "${COURIER_JDK_QUIET:-0}" != 1 ]; then
      _courier_jdk_say "using JDK $_cj_best_version${_cj_best_vendor:+ ($_cj_best_vendor)} at $JAVA_HOME (set JAVA_HOME to choose another)"
    fi
    return 0
  fi

  # Nothing usable: explain what we saw, what is needed and how to fix it.
  {
    printf 'courier: ERROR: no JDK %s or newer was found.\n' "$_cj_min"
    if [ -n "$_cj_report" ]; then
      printf 'Java installations found:\n%s' "$_cj_report"
    else
      printf 'No Java installation was found at all.\n'
    fi
    if [ -n "${COURIER_JDK_SEARCH_PATHS+set}" ]; then
      printf 'Searched only COURIER_JDK_SEARCH_PATHS=%s\n' "$COURIER_JDK_SEARCH_PATHS"
    else
      # shellcheck disable=SC2016  # literal $JAVA_HOME in the message
      printf 'Searched: $JAVA_HOME, /usr/lib/jvm, /usr/java, /opt/java, /opt/*jdk*, ~/.sdkman, ~/.asdf, ~/.jdks,\n'
      printf '          /Library/Java/JavaVirtualMachines, Homebrew openjdk, and the java on PATH.\n'
    fi
    cat <<EOF
Courier is compiled for Java $_cj_min and needs Java $_cj_min or newer$(
  [ "${COURIER_JDK_RUN_ONLY:-0}" = 1 ] && printf ' to run it.' ||
    printf ', a full JDK (with javac),\nto build and run it.')
How to fix:
  - Install a JDK $_cj_min+ such as Eclipse Temurin (https://adoptium.net/), for example
      Debian/Ubuntu:  apt-get install temurin-21-jdk   (after adding the Adoptium apt repository)
      macOS:          brew install --cask temurin
      SDKMAN:         sdk install java 21-tem
  - or, if one is already installed somewhere else, point JAVA_HOME at it:
      export JAVA_HOME=/path/to/jdk-21
EOF
  } >&2
  return 1
}
