#!/usr/bin/env bash
# The README's demo command: set up (first time only) and run examples/quickstart.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python examples/quickstart.py "$@"
