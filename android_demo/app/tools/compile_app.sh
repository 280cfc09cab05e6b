#!/usr/bin/env bash
# Compile the Android app's Kotlin (android_demo/app/src/main/java) with kotlinc against the real
# R.java that tools/link_resources.sh wrote, the core's classes, and compile-only stubs of the
# Android, AndroidX, CameraX and LiteRT classes it calls (android_demo/app/stubs/java: each file
# names the library and version it mirrors; only the members the app uses, real signatures).
#
#   bash android_demo/app/tools/compile_app.sh     (make android-test runs it after the core's tests
#                                                    and link_resources.sh)
#
# Uses what android_demo/core/run_tests.sh installed (kotlinc in android_demo/.tools, the core's
# classes, Android's org.json jar). Output: android_demo/app/build/app-compile/ (gitignored).
# Exits 0 with a SKIP message when javac, kotlinc, the core's classes or R.java are missing.
set -euo pipefail
APP="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$(dirname "$APP")"
OUT="$APP/build/app-compile"
say() { echo "[android-app] $*"; }
KOTLINC="${KOTLINC:-$DEMO/.tools/node_modules/kotlin-compiler/bin/kotlinc-jvm}"
CORE_CLASSES="$DEMO/core/build/jvm-test/classes"
JSON_JAR="${JSON_JAR:-/usr/share/java/json-android.jar}"
R_JAVA="$APP/build/aapt2/gen/ai/arnet/edge/demo/R.java"
for need in "javac:$(command -v javac || true)" "kotlinc:$([ -x "$KOTLINC" ] && echo "$KOTLINC")" \
            "the core's classes (android_demo/core/run_tests.sh):$([ -d "$CORE_CLASSES" ] && echo "$CORE_CLASSES")" \
            "R.java (tools/link_resources.sh):$([ -f "$R_JAVA" ] && echo "$R_JAVA")" \
            "org.json ($JSON_JAR):$([ -f "$JSON_JAR" ] && echo "$JSON_JAR")"; do
  if [ -z "${need#*:}" ]; then
    say "SKIP: ${need%%:*} not found; the app's Kotlin was NOT compiled."
    exit 0
  fi
done
rm -rf "$OUT"
mkdir -p "$OUT/stubs" "$OUT/r" "$OUT/classes"
javac -nowarn -d "$OUT/stubs" $(find "$APP/stubs/java" -name '*.java' | LC_ALL=C sort) >"$OUT/javac.log" 2>&1 \
  || { cat "$OUT/javac.log" >&2; echo "[android-app] ERROR: the stubs do not compile" >&2; exit 1; }
javac -nowarn -d "$OUT/r" "$R_JAVA" >>"$OUT/javac.log" 2>&1 \
  || { cat "$OUT/javac.log" >&2; echo "[android-app] ERROR: R.java does not compile" >&2; exit 1; }
if ! "$KOTLINC" -nowarn -jvm-target 17 -cp "$OUT/stubs:$OUT/r:$CORE_CLASSES:$JSON_JAR" "$APP/src/main/java" \
      -d "$OUT/classes" >"$OUT/kotlinc.log" 2>&1; then
  cat "$OUT/kotlinc.log" >&2
  echo "[android-app] ERROR: the app's Kotlin does not compile against R.java + core + stubs (log: $OUT/kotlinc.log)" >&2
  exit 1
fi
n=$(find "$OUT/classes" -name '*.class' | wc -l)
say "compiled the app's Kotlin ($n classes) against the linked R.java, the core and $(find "$APP/stubs/java" -name '*.java' | wc -l) stub classes"
