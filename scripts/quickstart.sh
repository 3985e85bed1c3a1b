#!/usr/bin/env bash
# Set up a virtual environment, install the project, and classify the example snippets with the
# shipped default model; the serve extra comes too, for `tactics serve`. Pass your own file to
# classify it instead:
#   scripts/quickstart.sh my-feed.jsonl tagged.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="serve,multilingual" source scripts/venv.sh
INPUT="${1:-examples/snippets.jsonl}"
OUTPUT="${2:--}"
exec .venv/bin/tactics predict --input "$INPUT" --output "$OUTPUT"
