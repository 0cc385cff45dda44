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
    "SPIRAL_LOG": ("", "comma-separated topics to log (fusion, rankk)"),
    # Rank-K planning (docs/rankk/planning.md)
    "SPIRAL_HEUR_K": ("", "SpiralK rules (text) for the Rank-K planner; read before the rules file"),
    "SPIRAL_HEUR_FILE": ("", "the SpiralK rules file (default: ~/.spiraltorch/heur.kdsl)"),
    "SPIRAL_HEUR_GEN_WEIGHT": ("2.0", "prior weight of a tuner-table measurement against the soft rules (SoftLogic)"),
    "SPIRAL_TUNER_TABLE": ("", "the baked tuner table the Rank-K chooser loads (default: ~/.spiraltorch/tuner.json)"),
    "SPIRAL_REWRITE": ("0", "1 runs Self-Rewrite A/B trials of the adopted Rank-K variant against the runner-up"),
    "SPIRAL_REWRITE_MIN_TRIALS": ("20", "Self-Rewrite: trials needed before a rule may be written"),
    "SPIRAL_REWRITE_CONFIDENCE": ("0.95", "Self-Rewrite: confidence of the Wilson score lower bound"),
    "REDIS_URL": ("", "Redis server sharing SpiralK rules and tuner records (e.g. redis://127.0.0.1:6379/0)"),
    "SPIRAL_REDIS_TIMEOUT": ("0.5", "seconds before a Redis connect or command gives up (then a no-op, one warning)"),
}


def get(name: str) -> str:
    default, _ = KNOBS[name]
    return os.environ.get(name, default)


def parallel_min() -> int:
    return int(get("SPIRAL_PARALLEL_MIN"))


def num_threads() -> int:
    value = get("SPIRAL_NUM_THREADS")
    return max(1, int(value)) if value else (os.cpu_count() or 1)
