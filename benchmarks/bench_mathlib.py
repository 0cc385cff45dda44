"""Throughput of the mathlib kernels (y[i] = f(x[i]), 16M float32, one thread) against numpy.

    .venv/bin/python benchmarks/bench_mathlib.py [--n N] [--repeat R] [--width W]

Prints median time and GB/s counting 8 bytes per element (4 read + 4 written). numpy runs with
preallocated outputs (np.exp(x, out=y)); sigmoid and erf have no single numpy ufunc, so their
numpy column is the cheapest equivalent expression (erf: scipy-free, math.erf via np.vectorize
over a 1/64 subsample, scaled up).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import llvmlite.binding as llvm
import numpy as np

from spiraltorch.codegen import mathlib as ml

RANGES = {
    "exp": (-80, 80), "expm1": (-10, 10), "log": (1e-30, 1e30), "log1p": (-0.9, 100), "tanh": (-10, 10),
    "sigmoid": (-20, 20), "erf": (-4, 4), "sin": (-100, 100), "cos": (-100, 100),
}  # fmt: skip


def _sigmoid(x, y):
    np.negative(x, out=y)
    np.exp(y, out=y)
    y += 1
    np.reciprocal(y, out=y)


_erf = np.vectorize(math.erf, otypes=[np.float32])
NUMPY = {
    "exp": lambda x, y: np.exp(x, out=y), "expm1": lambda x, y: np.expm1(x, out=y),
    "log": lambda x, y: np.log(x, out=y), "log1p": lambda x, y: np.log1p(x, out=y),
    "tanh": lambda x, y: np.tanh(x, out=y), "sigmoid": _sigmoid,
    "sin": lambda x, y: np.sin(x, out=y), "cos": lambda x, y: np.cos(x, out=y),
}  # fmt: skip


def median_time(fn, repeat: int) -> float:
    fn()  # warm up: page in the output buffer
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_one(name: str, emitter, x: np.ndarray, args) -> tuple[float, float]:
    """(our median seconds, numpy median seconds) for one function."""
    y = np.empty_like(x)
    _engine, kernel = ml.jit_compile(ml.build_unary_kernel(name, emitter, width=args.width))
    ours = median_time(lambda: kernel(x.ctypes.data, y.ctypes.data, x.size), args.repeat)
    if name in NUMPY:
        return ours, median_time(lambda: NUMPY[name](x, y), args.repeat)
    m = x.size // 64  # erf: math.erf per element is ~100x slower; time a slice and scale
    return ours, median_time(lambda: _erf(x[:m]), 3) * 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16 << 20)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--width", type=int, default=1, help="explicit vector width (1: loop vectorizer)")
    args = ap.parse_args()
    n, gb = args.n, args.n * 8 / 1e9
    rng = np.random.default_rng(0)
    print(f"host: {llvm.get_host_cpu_name()}, n = {n}, median of {args.repeat}")
    print(f"{'fn':8} {'ours ms':>8} {'GB/s':>6} {'numpy ms':>9} {'GB/s':>6} {'speedup':>7}")
    for name, emitter in ml.MATH_FUNCTIONS.items():
        lo, hi = RANGES[name]
        x = rng.uniform(lo, hi, n).astype(np.float32)
        ours, ref = bench_one(name, emitter, x, args)
        print(f"{name:8} {ours * 1e3:8.2f} {gb / ours:6.1f} {ref * 1e3:9.2f} {gb / ref:6.1f} {ref / ours:6.1f}x")
    buf = np.empty(n, np.float32)
    t = median_time(lambda: np.copyto(buf, x), args.repeat)
    print(f"{'copy':8} {t * 1e3:8.2f} {gb / t:6.1f}   (np.copyto, the memory-bandwidth bound)")


if __name__ == "__main__":
    main()
