#!/usr/bin/env bash
# Install what tests/test_browser.py needs on a fresh Debian machine: Debian's Chromium and the
# Playwright Python package (not Playwright's own browser download). Safe to run again: each step
# is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

# The same virtual environment scripts/test.sh uses (created here when this runs first).
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
if ! .venv/bin/python -c "import playwright.sync_api" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet "playwright>=1.40,<2"
fi
