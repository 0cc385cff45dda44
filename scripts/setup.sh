#!/usr/bin/env bash
# Creates .venv and installs SpiralTorch with its dev tools; reruns pip only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.spiraltorch-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev,examples,wgpu,redis]'
  echo "$want" > "$stamp"
fi
