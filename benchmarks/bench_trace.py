"""Tracing cost: time to trace a 100-op function into SpiralIR, print/parse it, lower and compile it.

Run: .venv/bin/python benchmarks/bench_trace.py
"""

import statistics
import time

import numpy as np

import spiraltorch as st
from spiraltorch.ir import text


def hundred_ops(x, w):
    # 100 spiral ops: 25 rounds of mul, add, tanh, sub
    for _ in range(25):
        x = st.tanh(x * w + 0.5) - x
    return x


def median_ms(fn, runs=30):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    x = np.random.rand(64, 64).astype(np.float32)
    w = np.random.rand(64).astype(np.float32)
    f = st.compile(hundred_ops, target="interp")
    lowered = f.lower(x, w)
    n_ops = sum(1 for op in lowered.module.walk() if op.name.startswith("spiral."))
    trace = median_ms(lambda: f.lower(x, w))
    src = lowered.as_text()
    to_text = median_ms(lambda: lowered.as_text())
    parse = median_ms(lambda: text.parse(src), runs=10)
    first_call = median_ms(lambda: (f.clear_cache(), f(x, w)), runs=10)
    from spiraltorch.codegen.cpu_target import kernel_module

    to_kernels = median_ms(lambda: kernel_module(lowered), runs=10)
    import os

    os.environ["SPIRAL_CACHE"] = "0"  # measure compiling, not the disk cache
    cpu = st.compile(hundred_ops, target="cpu")
    cpu_first = median_ms(lambda: (cpu.clear_cache(), cpu(x, w)), runs=5)
    print(f"spiral ops in module      : {n_ops}")
    print(f"trace (f.lower)           : {trace:.2f} ms  ({trace / n_ops * 1e3:.0f} us/op)")
    print(f"print as text             : {to_text:.2f} ms")
    print(f"parse + verify text       : {parse:.2f} ms")
    print(f"first call, interp target : {first_call:.2f} ms (trace + interpreter set-up + run)")
    print(f"lower to kernels          : {to_kernels:.2f} ms (canonicalize, cse, dce, lower-to-kernels)")
    print(f"first call, cpu target    : {cpu_first:.2f} ms (trace + lower + LLVM O3 + JIT + run, no disk cache)")


if __name__ == "__main__":
    main()
