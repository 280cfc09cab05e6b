#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian: chromium, chromium-driver) for the browser
# tests of the live view (tests/edge/test_browser_view.py), idempotently and quietly.
#
#   bash scripts/install_chromium.sh      (make test-browser runs it)
#
# Exits 0 in every case: when apt is unavailable or fails, it says so and the browser tests skip
# with that reason. Prints the paths it found.
set -uo pipefail

say() { echo "[browser-setup] $*"; }
have() { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }

if ! have; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
  fi
  if ! command -v apt-get >/dev/null 2>&1 || [ "$SUDO" = none ]; then
    say "SKIP: chromium/chromedriver missing and apt-get is not usable here; the browser tests will skip"
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  say "installing chromium and chromium-driver (apt)"
  if ! $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || true
  fi
fi
if have; then
  say "chromium: $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"
  say "chromedriver: $(command -v chromedriver)"
else
  say "SKIP: chromium/chromedriver could not be installed; the browser tests will skip"
fi
exit 0
