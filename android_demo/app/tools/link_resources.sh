#!/usr/bin/env bash
# Link the Android app's manifest and resources for real with aapt2 against the platform's
# framework-res.apk (Debian: aapt, android-framework-res = API 29), write the real R.java, and
# check that every R.<type>.<name> the app's Kotlin names exists in it.
#
#   bash android_demo/app/tools/link_resources.sh      (make android-test runs it)
#
# Manifest elements newer than API 29 are reported as warnings (--warn-manifest-validation).
# Library resources the app names (AppCompat's theme) come from compile-only stand-ins in
# android_demo/app/stubs/res. Output: android_demo/app/build/aapt2/ (gitignored): gen/.../R.java,
# resources.apk. Exits 0 with a SKIP message when aapt2 or framework-res.apk is missing and apt
# cannot install them. Overrides: AAPT2, FRAMEWORK_RES.
set -euo pipefail
APP="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$APP/build/aapt2"
PKG=ai.arnet.edge.demo
MIN_SDK=26
say() { echo "[android-res] $*"; }

AAPT2="${AAPT2:-$(command -v aapt2 || true)}"
FRAMEWORK_RES="${FRAMEWORK_RES:-/usr/share/android-framework-res/framework-res.apk}"
if [ -z "$AAPT2" ] || [ ! -f "$FRAMEWORK_RES" ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
  fi
  if command -v apt-get >/dev/null 2>&1 && [ "$SUDO" != none ]; then
    say "installing aapt + android-framework-res (apt)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -qq --no-install-recommends aapt android-framework-res >/dev/null 2>&1 \
      || { $SUDO apt-get update -qq >/dev/null 2>&1; $SUDO apt-get install -y -qq --no-install-recommends aapt android-framework-res >/dev/null 2>&1; } || true
  fi
  AAPT2="$(command -v aapt2 || true)"
fi
if [ -z "$AAPT2" ] || [ ! -f "$FRAMEWORK_RES" ]; then
  say "SKIP: aapt2 (${AAPT2:-missing}) or $FRAMEWORK_RES missing and apt could not install them (Debian: aapt, android-framework-res); the app's resources were NOT linked."
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT/gen"
# The manifest as the build tool would hand it to aapt2: the namespace (build.gradle.kts) as its package.
sed "0,/<manifest /s//<manifest package=\"$PKG\" /" "$APP/src/main/AndroidManifest.xml" >"$OUT/AndroidManifest.xml"
"$AAPT2" compile --dir "$APP/src/main/res" -o "$OUT/app-res.zip"
"$AAPT2" compile --dir "$APP/stubs/res" -o "$OUT/stub-res.zip"
if ! "$AAPT2" link -I "$FRAMEWORK_RES" --manifest "$OUT/AndroidManifest.xml" --min-sdk-version "$MIN_SDK" \
      --target-sdk-version 29 --warn-manifest-validation --auto-add-overlay -R "$OUT/stub-res.zip" -R "$OUT/app-res.zip" \
      --java "$OUT/gen" -o "$OUT/resources.apk" >"$OUT/link.log" 2>&1; then
  cat "$OUT/link.log" >&2
  echo "[android-res] ERROR: aapt2 link failed (log: $OUT/link.log)" >&2
  exit 1
fi
# Debian's aapt2 is Android 10's: it does not know manifest elements of later APIs (e.g.
# <uses-native-library>, API 31); --warn-manifest-validation reports them instead of failing.
if grep -q "warn\|error" "$OUT/link.log"; then
  say "aapt2 (API 29) notes on the manifest, for elements newer than its API:"
  sed 's/^/[android-res]   /' "$OUT/link.log"
fi
R="$OUT/gen/${PKG//.//}/R.java"
[ -f "$R" ] || { echo "[android-res] ERROR: aapt2 wrote no $R" >&2; exit 1; }
missing=0
for ref in $(grep -rhoE '\bR\.[a-z]+\.[A-Za-z_0-9]+' "$APP/src/main/java" | sort -u); do
  type="${ref#R.}"; type="${type%%.*}"; name="${ref##*.}"
  if ! awk -v t="$type" -v n="$name" '
        $0 ~ "public static final class " t " " {in_t=1; next}
        in_t && /^  }/ {in_t=0}
        in_t && $0 ~ "int " n "=" {found=1}
        END {exit !found}' "$R"; then
    echo "[android-res] ERROR: the app's Kotlin names $ref, which the linked R.java does not define" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1
n=$(grep -rhoE '\bR\.[a-z]+\.[A-Za-z_0-9]+' "$APP/src/main/java" | sort -u | wc -l)
say "linked manifest + resources against $(basename "$FRAMEWORK_RES") (API 29) with $("$AAPT2" version 2>&1 | head -1); R.java defines all $n R references of the app's Kotlin"
