#!/usr/bin/env bash
# The README's test command: set up (first time only), lint, then every unit and lit test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest -n "${SPIRAL_TEST_WORKERS:-2}" "$@"
