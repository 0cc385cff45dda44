# ruff: noqa: E702, E731, B023 -- a measurement script kept as it produced docs/backend-cpu.md's figures
"""Native parallel-for vs the Python pool, 1 vs 2 threads, A/B interleaved in one process (docs/backend-cpu.md,
"Parallel for"). Run: .venv/bin/python benchmarks/bench_pfor.py  (ROUNDS=15 by default)."""
import os
import sys
import time

import numpy as np

import spiraltorch as st
from runtime import parallel

rng = np.random.default_rng(0)
R = int(os.environ.get("ROUNDS", "15"))


def compiled(fn, args, pmin):
    os.environ["SPIRAL_PARALLEL_MIN"] = str(pmin)
    g = st.compile(fn, target="cpu")
    g(*args)
    os.environ.pop("SPIRAL_PARALLEL_MIN")
    return g


def set_threads(t):
    os.environ["SPIRAL_NUM_THREADS"] = str(t)
    parallel.configure()


def timeit(fn, n):
    t = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t) / n / 1e3


def ab(cases, n=200, rounds=R):
    """cases: name -> (callable, setup); interleaved rounds, median of per-round means (us)."""
    res = {k: [] for k in cases}
    for _ in range(rounds):
        for k, (fn, setup) in cases.items():
            setup()
            fn()
            res[k].append(timeit(fn, n))
    return {k: float(np.median(v)) for k, v in res.items()}


def modes(g, args):
    def setup(backend, threads):
        def s():
            parallel.set_backend(backend)
            set_threads(threads)
        return s
    call = lambda: g(*args)
    return {"1 thread": (call, setup("native", 1)), "python x2": (call, setup("python", 2)),
            "native x2": (call, setup("native", 2))}


def add(x, y):
    return x + y


def softmax(x):
    return st.softmax(x, axis=-1)


def tiny(x, w):  # W8-like: many tiny kernels
    h = x
    for _ in range(4):
        h = st.tanh(h @ w) + h * 0.5
    return st.sum(h * h)


def main(which):
    if "tiny" in which:
        x = rng.standard_normal((16, 32)).astype(np.float32); w = rng.standard_normal((32, 32)).astype(np.float32)
        gs = compiled(tiny, (x, w), 1 << 40); gp = compiled(tiny, (x, w), 1)
        c = {"serial build": (lambda: gs(x, w), lambda: (parallel.set_backend("native"), set_threads(2)))}
        c.update({f"forced-parallel build, {k}": v for k, v in modes(gp, (x, w)).items()})
        for k, v in ab(c, n=500).items():
            print(f"tiny(16x32, 12 kernels) {k:40s} {v:8.1f} us/call")
    if "sweep" in which:
        for kind, shapes in (("add", [(64, 256), (128, 256), (256, 256), (256, 512), (512, 512), (1024, 512),
                                      (1024, 1024)]),
                             ("softmax", [(64, 1024), (128, 1024), (256, 1024), (512, 1024), (1024, 1024)])):
            for shape in shapes:
                x = rng.standard_normal(shape).astype(np.float32)
                args = (x, x.copy()) if kind == "add" else (x,)
                fn = add if kind == "add" else softmax
                gs = compiled(fn, args, 1 << 40); gp = compiled(fn, args, 1)
                c = {"serial": (lambda: gs(*args), lambda: (parallel.set_backend("native"), set_threads(2)))}
                c.update(modes(gp, args))
                r = ab(c, n=100 if x.size < 500_000 else 30)
                print(f"{kind} {str(shape):12s} n={x.size:8d} " + "  ".join(f"{k} {v:7.1f}" for k, v in r.items()),
                      flush=True)
    if "wake" in which:
        x = rng.standard_normal((1024, 1024)).astype(np.float32)  # ~0.5 ms serial softmax
        gp = compiled(softmax, (x,), 1)
        parallel.set_backend("native"); set_threads(2)
        for idle in (0.0, 0.001, 0.1):
            ts, wp = [], []
            for _ in range(20 if idle >= 0.1 else 100):
                if idle:
                    time.sleep(idle)
                w0 = parallel.stats()["worker_parts"]
                t = time.perf_counter_ns(); gp(x); ts.append((time.perf_counter_ns() - t) / 1e3)
                wp.append(parallel.stats()["worker_parts"] - w0)
            print(f"softmax 1024x1024 after idle {idle*1e3:5.1f} ms: median {np.median(ts):7.1f} us, "
                  f"worker took its part in {np.mean(wp)*100:.0f}% of calls")


if __name__ == "__main__":
    main(sys.argv[1:] or ["tiny", "sweep", "wake"])
