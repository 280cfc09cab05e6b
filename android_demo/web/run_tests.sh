#!/usr/bin/env bash
# Install the phone web app's JS dependencies from package-lock.json (npm ci, pinned) and run its
# node tests: the step loop replays the golden traces the Kotlin core replays, manifest checks.
#
#   bash android_demo/web/run_tests.sh                 (make web-test and make test run it)
#   bash android_demo/web/run_tests.sh --install-only  (make web-setup: dependencies only, for the
#                                                       Chromium test tests/edge/test_phone_web.py)
#
# Installs into android_demo/web/node_modules (gitignored) only when the lockfile changed. Exits 0
# with a SKIP message when node (>= 18) is missing; the node tests need no npm package, so they run
# even when npm cannot reach the registry (the browser test then skips, saying so).
set -euo pipefail
WEB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "[web-test] $*"; }

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
  say "SKIP: node >= 18 not found on PATH (found: $(node --version 2>/dev/null || echo none)); the JS step loop was NOT tested."
  exit 0
fi
STAMP="$WEB/node_modules/.lock.sha256"
WANT="$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  if command -v npm >/dev/null 2>&1 && (cd "$WEB" && npm ci --no-audit --no-fund --fetch-retries 5 --silent >/dev/null 2>&1 \
       || { sleep 10; npm ci --no-audit --no-fund --fetch-retries 5; }); then
    echo "$WANT" >"$STAMP"
    say "installed JS dependencies from package-lock.json (npm ci)"
  else
    say "WARNING: npm ci failed or npm is missing: @litertjs/core is not installed; the browser test will skip"
  fi
fi
[ "${1:-}" = "--install-only" ] && exit 0
cd "$WEB"
node --test test/
