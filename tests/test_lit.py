"""Runs every lit test file (tests/lit/**) as one pytest item, so a failing CHECK fails the suite.

lit is started as `python -c "...lit.main.main()"`: `python -m lit` has no __main__ and
`python -m lit.main` exits 0 without running anything (a silent-green trap).
"""

import subprocess
import sys
from pathlib import Path

import pytest

LIT_DIR = Path(__file__).parent / "lit"
LIT = [sys.executable, "-c", "import sys, lit.main; sys.exit(lit.main.main())"]
CASES = sorted(
    p for p in LIT_DIR.rglob("*")
    if p.suffix in {".mlir", ".test", ".py"} and "Inputs" not in p.parts and ".lit_out" not in p.parts
    and p.name != "lit.cfg.py"
)


def test_lit_cases_exist():
    assert len(CASES) > 0, "no lit tests found"


@pytest.mark.parametrize("case", CASES, ids=lambda p: str(p.relative_to(LIT_DIR)))
def test_lit(case):
    r = subprocess.run([*LIT, "-v", str(case)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "Passed: 1" in r.stdout or "PASS:" in r.stdout, r.stdout[-3000:]
