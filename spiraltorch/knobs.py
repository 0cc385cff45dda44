"""Every environment variable SpiralTorch reads, declared in one place (like Triton's knobs.py)."""

from __future__ import annotations

import os

# name -> (default, description). `stc knobs` and docs/knobs.md list these.
KNOBS: dict[str, tuple[str, str]] = {
    "SPIRAL_CACHE": ("1", "0 disables the on-disk compile cache"),
    "SPIRAL_CACHE_DIR": ("", "compile cache directory (default: $XDG_CACHE_HOME/spiraltorch)"),
    "SPIRAL_NUM_THREADS": ("", "threads for parallel kernels (default: the number of CPUs)"),
    "SPIRAL_PARALLEL_MIN": ("65536", "elements a kernel must touch before it is split across threads (the "
                                     "native parallel-for's handoff costs ~1 us; below ~64K elements a second "
                                     "thread does not pay: docs/backend-cpu.md, Parallel for)"),
    "SPIRAL_FUZZ_EXAMPLES": ("200", "random programs the fuzz test runs"),
    "SPIRAL_FUSE": ("1", "0 turns off the fusion pass in the cpu target (one kernel per op, for comparisons)"),
    "SPIRAL_LOG": ("", "comma-separated topics to log (e.g. fusion)"),
}


def get(name: str) -> str:
    default, _ = KNOBS[name]
    return os.environ.get(name, default)


def parallel_min() -> int:
    return int(get("SPIRAL_PARALLEL_MIN"))


def num_threads() -> int:
    value = get("SPIRAL_NUM_THREADS")
    return max(1, int(value)) if value else (os.cpu_count() or 1)
