"""Test-session set-up: a private compile cache, so tests never read or fill ~/.cache/spiraltorch."""

import os
import tempfile

_CACHE = tempfile.mkdtemp(prefix="spiral-test-cache-")
os.environ.setdefault("SPIRAL_CACHE_DIR", _CACHE)
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
