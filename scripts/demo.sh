#!/usr/bin/env bash
# The README's demo command: set up (first time only), run examples/quickstart.py (compile a function, check it
# against numpy, ship it), then the showcase examples/train_digits.py (train an MLP on scikit-learn's digits with
# ONE compiled training step; exits 1 if the test accuracy is below 95%). Arguments go to train_digits.py,
# e.g. `bash scripts/demo.sh --epochs 20 --target interp`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "=== examples/quickstart.py ==="
.venv/bin/python examples/quickstart.py
echo
echo "=== examples/train_digits.py ==="
exec .venv/bin/python examples/train_digits.py "$@"
