"""Details behind docs/perf.md's W6 figures (the MLP training step of bench_cpu.py):

    .venv/bin/python benchmarks/bench_w6_details.py stages    # cold-compile time per stage, fresh process
    .venv/bin/python benchmarks/bench_w6_details.py memory    # planned temporaries vs without reuse
    .venv/bin/python benchmarks/bench_w6_details.py epilogue  # matmul epilogues on vs off, A/B in one process
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("SPIRAL_CACHE_DIR", tempfile.mkdtemp(prefix="st-w6-"))

import bench_cpu as b  # noqa: E402

import spiraltorch as st  # noqa: E402


def stages() -> None:
    """Each stage of a cold compile, in this (fresh) process; `import networkx` is part of the passes."""
    from spiraltorch import cache
    from spiraltorch.codegen import aot, mathlib
    from spiraltorch.codegen.cpu_target import pipeline
    from spiraltorch.passes.lower_to_kernels import LowerToKernelsPass
    from spiraltorch.passes.registry import PipelineRun

    args = b._mlp_init()
    times, t = {}, time.perf_counter()

    def stamp(name):
        nonlocal t
        now = time.perf_counter()
        times[name] = round((now - t) * 1e3, 1)
        t = now

    low = st.compile(b._mlp_spiral).lower(*args)
    stamp("trace")
    module = low.module.clone()
    PipelineRun(pipeline()).run(module)
    stamp("passes (incl. imports)")
    LowerToKernelsPass().apply(None, module)
    stamp("lower-to-kernels")
    host = cache.host_info(cache.cache_dir())
    target = mathlib.Target("host", host["triple"], host["cpu"], host["features"])
    llvm_module = aot.llvm_module(module, target)
    stamp("LLVM IR via llvmlite")
    aot.object_code(llvm_module, target)
    stamp("LLVM O3 + codegen")
    print(times)


def memory() -> None:
    from spiraltorch.kernels import memory as mem

    args = b._mlp_init()
    f = st.compile(b._mlp_spiral)
    f(*args)
    planned = f.memory_info()[0].temporary_bytes
    mem.WorkspacePlanner.release = lambda self, buffer: None  # every temporary keeps its own space
    g = st.compile(lambda *a: b._mlp_spiral(*a))
    g(*args)
    unplanned = g.memory_info()[0].temporary_bytes
    print(f"temporaries: planned {planned / 1e6:.1f} MB, without reuse {unplanned / 1e6:.1f} MB")


def epilogue() -> None:
    from spiraltorch.passes import fusion_policy as fp

    args = b._mlp_init()
    on = st.compile(b._mlp_spiral)
    on(*args)
    keep = fp.FusionPolicy.starts_epilogue_group
    fp.FusionPolicy.starts_epilogue_group = lambda self, op: fp.Decision(False, "off")
    off = st.compile(lambda *a: b._mlp_spiral(*a))
    off(*args)
    fp.FusionPolicy.starts_epilogue_group = keep

    def med(fn, n=60):
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts)) * 1e3

    for _ in range(3):
        print(f"W6 step: matmul epilogues on {med(lambda: on(*args)):.3f} ms, off {med(lambda: off(*args)):.3f} ms")


if __name__ == "__main__":
    {"stages": stages, "memory": memory, "epilogue": epilogue}[sys.argv[1] if len(sys.argv) > 1 else "stages"]()
