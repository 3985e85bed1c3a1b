#!/usr/bin/env bash
# Set up a virtual environment with every extra the tests exercise (web service, Dask, browser),
# then run the test suite. Arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="test,serve,dask,multilingual" source scripts/venv.sh
# Debian's Chromium and Playwright for the browser test; without them that test is skipped.
bash scripts/ci-deps.sh || echo "warning: browser test dependencies not installed; its test will be skipped" >&2
exec .venv/bin/python -m pytest "$@"
