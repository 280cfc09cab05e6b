#!/usr/bin/env bash
# Compile android_demo/core (main + test, one kotlinc call) and run its JUnit tests on the JDK.
#
#   bash android_demo/core/run_tests.sh [TestClass ...]     (make android-test runs it with no args)
#
# Installs what is missing, idempotently and quietly: a JDK (apt, only if none), JUnit 4 +
# hamcrest + Android's org.json (apt: junit4, libandroid-json-org-java), kotlinc-jvm (npm:
# kotlin-compiler@$KOTLIN_VERSION into android_demo/.tools/, gitignored). Recompiles only when a
# source changed (android_demo/core/build/jvm-test/, gitignored). The last line is `N passed, M failed`;
# the exit status is non-zero on any failure. Exits 0 with a SKIP message only when no JDK can be
# found or installed. Overrides: KOTLINC, JUNIT_JAR, HAMCREST_JAR, JSON_JAR, VERBOSE=1 (list
# every test).
set -euo pipefail

KOTLIN_VERSION=2.4.20
CORE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEMO="$(dirname "$CORE")"
TOOLS="$DEMO/.tools"
BUILD="$CORE/build/jvm-test"   # (build/ is also Gradle's output folder for :core)
START=$(date +%s)

say() { echo "[android-test] $*"; }
die() { echo "[android-test] ERROR: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
fi
APT_UPDATED=0
apt_install() { # apt_install pkg...  (returns non-zero when apt is unavailable or fails)
  command -v apt-get >/dev/null 2>&1 || return 1
  [ "$SUDO" = none ] && return 1
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    [ "$APT_UPDATED" = 1 ] && return 1
    APT_UPDATED=1
    $SUDO apt-get update -qq >/dev/null 2>&1 || return 1
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || return 1
  fi
}

# ---------------------------------------------------------------- JDK
if ! command -v java >/dev/null 2>&1; then
  say "no java on PATH; installing openjdk-17-jdk-headless"
  apt_install openjdk-17-jdk-headless || true
  if ! command -v java >/dev/null 2>&1; then
    echo "[android-test] SKIP: no JDK found and none could be installed (need Java 17+ on PATH);" \
         "the Kotlin core was NOT tested."
    exit 0
  fi
fi

# ---------------------------------------------------------------- JUnit, hamcrest, org.json
find_jar() { for j in "$@"; do [ -f "/usr/share/java/$j" ] && { echo "/usr/share/java/$j"; return 0; }; done; return 1; }
jars() {
  JUNIT_JAR="${JUNIT_JAR:-$(find_jar junit4.jar || true)}"
  HAMCREST_JAR="${HAMCREST_JAR:-$(find_jar hamcrest-core.jar hamcrest.jar hamcrest-all.jar || true)}"
  JSON_JAR="${JSON_JAR:-$(find_jar json-android.jar || true)}"
  [ -f "$JUNIT_JAR" ] && [ -f "$HAMCREST_JAR" ] && [ -f "$JSON_JAR" ]
}
if ! jars; then
  say "installing junit4 + libandroid-json-org-java (apt)"
  apt_install junit4 libhamcrest-java libandroid-json-org-java || true
  unset JUNIT_JAR HAMCREST_JAR JSON_JAR
  jars || die "JUnit 4 / hamcrest / Android org.json jars not found under /usr/share/java and apt could not install them (set JUNIT_JAR, HAMCREST_JAR, JSON_JAR)"
fi

# ---------------------------------------------------------------- kotlinc
KHOME="$TOOLS/node_modules/kotlin-compiler"
if [ -z "${KOTLINC:-}" ]; then
  if [ "$(cat "$KHOME/build.txt" 2>/dev/null || true)" != "$KOTLIN_VERSION" ]; then
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm || true
    command -v npm >/dev/null 2>&1 || die "npm not found (needed for kotlin-compiler@$KOTLIN_VERSION; or set KOTLINC=/path/to/kotlinc-jvm)"
    say "installing kotlin-compiler@$KOTLIN_VERSION (npm) into android_demo/.tools"
    mkdir -p "$TOOLS"
    # Three tries with backoff (a dropped download should not fail CI); the last one shows npm's output.
    NPM_FLAGS=(--prefix "$TOOLS" --no-audit --no-fund --no-save --fetch-retries 5 "kotlin-compiler@$KOTLIN_VERSION")
    npm install --silent "${NPM_FLAGS[@]}" >/dev/null 2>&1 \
      || { sleep 15; npm install --silent "${NPM_FLAGS[@]}" >/dev/null 2>&1; } \
      || { sleep 30; npm install "${NPM_FLAGS[@]}"; } \
      || die "npm install kotlin-compiler@$KOTLIN_VERSION failed three times"
  fi
  KOTLINC="$KHOME/bin/kotlinc-jvm"
  STDLIB="$KHOME/lib/kotlin-stdlib.jar"
else
  STDLIB="${KOTLIN_STDLIB:-$(dirname "$(dirname "$(readlink -f "$KOTLINC")")")/lib/kotlin-stdlib.jar}"
fi
[ -f "$STDLIB" ] || die "kotlin-stdlib.jar not found at $STDLIB"

# ---------------------------------------------------------------- compile (only when sources changed)
CP="$JUNIT_JAR:$HAMCREST_JAR:$JSON_JAR"
mkdir -p "$BUILD"
exec 9>"$BUILD/.lock"
command -v flock >/dev/null 2>&1 && flock 9
STAMP="$( (cd "$CORE" && find src/main/kotlin src/test/kotlin -name '*.kt' | LC_ALL=C sort | xargs sha256sum; \
           echo "$KOTLIN_VERSION $CP $(java -version 2>&1 | head -1)") | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$BUILD/.stamp" 2>/dev/null || true)" != "$STAMP" ] || [ ! -d "$BUILD/classes" ]; then
  rm -rf "$BUILD/classes" "$BUILD/.stamp"
  T0=$(date +%s)
  if ! "$KOTLINC" -nowarn -jvm-target 17 -cp "$CP" "$CORE/src/main/kotlin" "$CORE/src/test/kotlin" \
        -d "$BUILD/classes" >"$BUILD/kotlinc.log" 2>&1; then
    cat "$BUILD/kotlinc.log" >&2
    die "kotlinc failed (log: $BUILD/kotlinc.log)"
  fi
  echo "$STAMP" >"$BUILD/.stamp"
  say "compiled main + test with kotlinc $KOTLIN_VERSION in $(( $(date +%s) - T0 ))s"
else
  say "sources unchanged; reusing $BUILD/classes"
fi

# ---------------------------------------------------------------- run
set +e
java -cp "$BUILD/classes:$CORE/src/test/resources:$STDLIB:$CP" ai.arnet.edge.core.TestMain "$@" 2>&1 | tee "$BUILD/test.log" \
  | grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
RC=${PIPESTATUS[0]}
set -e
say "done in $(( $(date +%s) - START ))s"
LAST="$( (grep -E '^[0-9]+ passed, [0-9]+ failed$' "$BUILD/test.log" || true) | tail -1)"
[ -n "$LAST" ] || { echo "0 passed, 1 failed"; exit 1; }
echo "$LAST"
exit "$RC"
