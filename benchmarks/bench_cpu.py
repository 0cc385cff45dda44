"""CPU workloads W1-W8: SpiralTorch vs numpy, torch eager, torch.compile and jax.jit, in one run.

Every implementation's result is checked against the numpy (float64 where it matters) reference before
it is timed; times are medians of >= 20 calls after warm-up; ratios are against the best peer.

Run (needs the bench extras: `.venv/bin/pip install torch==2.13.0 jax jaxlib threadpoolctl`):
    .venv/bin/python benchmarks/bench_cpu.py [--only W1,W2] [--calls 20] [--markdown out.md]
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed for this process (they slow a current numpy).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    if _var in os.environ:  # re-exec without them: OpenBLAS reads them at load time
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

import numpy as np  # noqa: E402

import spiraltorch as st  # noqa: E402
from spiraltorch import cache as stcache  # noqa: E402

RNG = np.random.default_rng(0)


@dataclass
class Workload:
    name: str
    inputs: Callable[[], tuple]
    reference: Callable  # numpy, float64 where useful
    spiral: Callable  # traced by st.compile
    numpy: Callable | None = None
    torch: Callable | None = None  # on torch tensors
    jax: Callable | None = None  # on jax arrays
    rtol: float = 1e-4
    atol: float = 1e-5
    notes: str = ""
    verify: Callable | None = None  # (result, args) -> None, replaces the comparison with reference()
    nbytes: int = 0  # minimum bytes a memory-bound implementation must move (inputs read + outputs written)
    results: dict = field(default_factory=dict)


# --- W1: GELU chain -------------------------------------------------------------------------------
def _gelu_np(x, a, b):
    z = x * a + b
    return 0.5 * z * (1 + np.tanh(0.79788456 * (z + 0.044715 * z**3)))


def _gelu_generic(lib):
    def f(x, a, b):
        z = x * a + b
        return 0.5 * z * (1 + lib.tanh(0.79788456 * (z + 0.044715 * z**3)))

    return f


# --- W2/W3: softmax, logsumexp ----------------------------------------------------------------------
def _softmax_np(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _lse_np(x):
    m = x.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]


# --- W4: cross-entropy loss + gradient wrt logits ---------------------------------------------------
def _ce_np(logits, labels):
    x = logits.astype(np.float64)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    n = x.shape[0]
    loss = -np.log(p[np.arange(n), labels]).mean()
    g = p.copy()
    g[np.arange(n), labels] -= 1
    return np.float32(loss), (g / n).astype(np.float32)


def _ce_spiral(logits, labels):
    return st.value_and_grad(st.cross_entropy)(logits, labels)  # gradient by the autodiff pass


# --- W5: top-k -------------------------------------------------------------------------------------
def _topk_np(x, k):
    idx = np.argsort(-x, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(x, idx, axis=1), idx


def _topk_verify(k):
    """Values must equal the k largest (descending); indices must point at them. Peers may order tied
    values' indices differently (SpiralTorch promises the lower index first; torch does not)."""

    def verify(result, args):
        (x,) = args
        values, idx = (_to_numpy(r) for r in result)
        want, _ = _topk_np(x, k)
        np.testing.assert_array_equal(values, want)
        np.testing.assert_array_equal(np.take_along_axis(x, idx.astype(np.int64), axis=1), values)

    return verify


# --- W6: MLP SGD step (numpy: hand-written backward; the others differentiate automatically) --------
def _mlp_init():
    sizes = [784, 512, 512, 10]
    params = []
    for i in range(3):
        w = (RNG.standard_normal((sizes[i], sizes[i + 1])) / np.sqrt(sizes[i])).astype(np.float32)
        params += [w, np.zeros(sizes[i + 1], np.float32) + 0.01]
    x = RNG.standard_normal((256, 784)).astype(np.float32)
    y = RNG.integers(0, 10, 256)
    return (*params, x, y)


def _mlp_step(lib_matmul, relu, relu_grad, softmax, onehot, mean0):
    def step(w1, b1, w2, b2, w3, b3, x, y):
        lr = 0.01
        h1 = x @ w1 + b1
        a1 = relu(h1)
        h2 = a1 @ w2 + b2
        a2 = relu(h2)
        logits = a2 @ w3 + b3
        n = x.shape[0]
        dlogits = (softmax(logits) - onehot(y)) / n
        dw3 = a2.T @ dlogits
        db3 = dlogits.sum(0)
        da2 = dlogits @ w3.T
        dh2 = da2 * relu_grad(h2)
        dw2 = a1.T @ dh2
        db2 = dh2.sum(0)
        da1 = dh2 @ w2.T
        dh1 = da1 * relu_grad(h1)
        dw1 = x.T @ dh1
        db1 = dh1.sum(0)
        return (w1 - lr * dw1, b1 - lr * db1, w2 - lr * dw2, b2 - lr * db2, w3 - lr * dw3, b3 - lr * db3)

    return step


def _mlp_np(*args):
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    f = _mlp_step(None, lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(np.float32), softmax,
                  lambda y: np.eye(10, dtype=np.float32)[y], None)
    return f(*args)


def _mlp_loss_spiral(ps, x, y):
    w1, b1, w2, b2, w3, b3 = ps
    h = st.relu(x @ w1 + b1)
    h = st.relu(h @ w2 + b2)
    return st.cross_entropy(h @ w3 + b3, y)


def _mlp_spiral(w1, b1, w2, b2, w3, b3, x, y):
    ps = (w1, b1, w2, b2, w3, b3)
    gs = st.grad(_mlp_loss_spiral)(ps, x, y)
    return tuple(p - 0.01 * g for p, g in zip(ps, gs, strict=True))


def workloads() -> list[Workload]:
    import jax
    import jax.numpy as jnp
    import torch
    import torch.nn.functional as F

    n16 = 1 << 24
    ws = [
        Workload("W1 gelu chain 16M f32",
                 lambda: (RNG.standard_normal(n16).astype(np.float32), np.float32(1.3), np.float32(0.2)),
                 _gelu_np, _gelu_generic(st), numpy=_gelu_np, torch=_gelu_generic(torch), jax=_gelu_generic(jnp),
                 rtol=2e-4, atol=2e-5, nbytes=2 * 4 * n16),
        Workload("W2 softmax 4096x4096", lambda: (RNG.standard_normal((4096, 4096)).astype(np.float32),),
                 _softmax_np, lambda x: st.softmax(x, axis=1), numpy=_softmax_np,
                 torch=lambda x: torch.softmax(x, dim=1), jax=lambda x: jax.nn.softmax(x, axis=1),
                 nbytes=2 * 4 * 4096 * 4096),
        Workload("W3 logsumexp 4096x4096", lambda: (RNG.standard_normal((4096, 4096)).astype(np.float32),),
                 _lse_np, lambda x: st.logsumexp(x, axis=1), numpy=_lse_np,
                 torch=lambda x: torch.logsumexp(x, dim=1), jax=lambda x: jax.nn.logsumexp(x, axis=1),
                 nbytes=4 * 4096 * 4096),
        Workload("W4 cross-entropy + grad (4096,1024)",
                 lambda: (RNG.standard_normal((4096, 1024)).astype(np.float32), RNG.integers(0, 1024, 4096)),
                 _ce_np, _ce_spiral, numpy=_ce_np, torch=_ce_torch(torch, F), jax=_ce_jax(jax, jnp),
                 notes="st.value_and_grad; autograd in torch/jax", nbytes=2 * 4 * 4096 * 1024),
        Workload("W5a topk (8,65536) k=1024", lambda: (RNG.standard_normal((8, 65536)).astype(np.float32),),
                 lambda x: _topk_np(x, 1024), lambda x: st.topk(x, 1024), numpy=lambda x: _topk_np(x, 1024),
                 torch=lambda x: torch.topk(x, 1024, dim=1), jax=lambda x: jax.lax.top_k(x, 1024),
                 verify=_topk_verify(1024)),
        Workload("W5b topk (1024,4096) k=32", lambda: (RNG.standard_normal((1024, 4096)).astype(np.float32),),
                 lambda x: _topk_np(x, 32), lambda x: st.topk(x, 32), numpy=lambda x: _topk_np(x, 32),
                 torch=lambda x: torch.topk(x, 32, dim=1), jax=lambda x: jax.lax.top_k(x, 32),
                 verify=_topk_verify(32)),
        Workload("W6 MLP 784-512-512-10 SGD step b=256", _mlp_init, _mlp_np, _mlp_spiral, numpy=_mlp_np,
                 torch=_mlp_torch(torch, F), jax=_mlp_jax(jax, jnp), rtol=1e-3, atol=1e-5,
                 notes="st.grad in SpiralTorch, autograd in torch/jax, hand-written backward in numpy"),
        Workload("W7 matmul 1024^3", lambda: (RNG.standard_normal((1024, 1024)).astype(np.float32),
                                              RNG.standard_normal((1024, 1024)).astype(np.float32)),
                 lambda a, b: a.astype(np.float64) @ b, lambda a, b: a @ b, numpy=lambda a, b: a @ b,
                 torch=lambda a, b: a @ b, jax=lambda a, b: a @ b, rtol=1e-3, atol=1e-3),
        Workload("W8 tiny call x*2+1 (16,)", lambda: (RNG.standard_normal(16).astype(np.float32),),
                 lambda x: x * 2 + 1, lambda x: x * 2 + 1, numpy=lambda x: x * 2 + 1, torch=lambda x: x * 2 + 1,
                 jax=lambda x: x * 2 + 1),
    ]
    return ws


def _ce_torch(torch, F):
    def f(logits, labels):
        x = logits.detach().requires_grad_(True)
        loss = F.cross_entropy(x, labels)
        (g,) = torch.autograd.grad(loss, x)
        return loss, g

    return f


def _ce_jax(jax, jnp):
    def loss(logits, labels):
        lp = jax.nn.log_softmax(logits, axis=1)
        return -jnp.take_along_axis(lp, labels[:, None], axis=1).mean()

    return jax.value_and_grad(loss)


def _mlp_torch(torch, F):
    def step(w1, b1, w2, b2, w3, b3, x, y):
        ps = [p.detach().requires_grad_(True) for p in (w1, b1, w2, b2, w3, b3)]
        h = torch.relu(x @ ps[0] + ps[1])
        h = torch.relu(h @ ps[2] + ps[3])
        loss = F.cross_entropy(h @ ps[4] + ps[5], y)
        grads = torch.autograd.grad(loss, ps)
        return tuple(p - 0.01 * g for p, g in zip(ps, grads, strict=True))

    return step


def _mlp_jax(jax, jnp):
    def loss(ps, x, y):
        w1, b1, w2, b2, w3, b3 = ps
        h = jax.nn.relu(x @ w1 + b1)
        h = jax.nn.relu(h @ w2 + b2)
        lp = jax.nn.log_softmax(h @ w3 + b3, axis=1)
        return -jnp.take_along_axis(lp, y[:, None], axis=1).mean()

    def step(w1, b1, w2, b2, w3, b3, x, y):
        ps = (w1, b1, w2, b2, w3, b3)
        gs = jax.grad(loss)(ps, x, y)
        return tuple(p - 0.01 * g for p, g in zip(ps, gs, strict=True))

    return step


# --- timing ---------------------------------------------------------------------------------------
def _median_ms(fn, calls: int, sync=lambda r: r) -> float:
    for _ in range(3):
        sync(fn())
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _to_numpy(x):
    if isinstance(x, (tuple, list)):
        return [_to_numpy(v) for v in x]
    if hasattr(x, "detach"):
        return x.detach().numpy()
    return np.asarray(x)


def _check(name, got, want, w: Workload) -> None:
    got, want = _to_numpy(got), _to_numpy(want)
    if isinstance(want, list):
        for g, r in zip(got, want, strict=True):
            _check(name, g, r, w)
        return
    if want.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want, err_msg=f"{w.name} / {name}")
        return
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=w.rtol, atol=w.atol,
                               err_msg=f"{w.name} / {name}")


def run(w: Workload, calls: int) -> None:
    import jax
    import torch

    args = w.inputs()
    want = w.reference(*args)
    impls = {}
    f = st.compile(w.spiral, target="cpu")
    impls["spiraltorch"] = (lambda: f(*args), lambda r: r)
    if w.numpy:
        impls["numpy"] = (lambda: w.numpy(*args), lambda r: r)
    targs = [torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args]
    if w.torch:
        impls["torch"] = (lambda: w.torch(*targs), lambda r: r)
        tc = torch.compile(w.torch)
        impls["torch.compile"] = (lambda: tc(*targs), lambda r: r)
    if w.jax:
        jargs = [jax.numpy.asarray(a) for a in args]
        jf = jax.jit(w.jax)
        impls["jax.jit"] = (lambda: jf(*jargs), lambda r: jax.block_until_ready(r))
    for name, (fn, sync) in impls.items():
        try:
            if w.verify is not None:
                w.verify(sync(fn()), args)
            else:
                _check(name, sync(fn()), want, w)
            time.sleep(0.5)  # let the previous library's spinning worker threads (XLA, OpenMP, OpenBLAS) go idle
            w.results[name] = _median_ms(fn, calls, sync)
        except Exception as err:  # a peer that fails is reported, not fatal
            w.results[name] = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:80]}"


def cold_compile_ms(expr: str, shape: tuple, warm: bool, runs: int = 5) -> tuple[float, float]:
    """Median over fresh processes of (import ms, compile ms = trace + lower + LLVM + link, or trace + load
    from the disk cache) of `expr`, with a cold (no compiled program; the machine-wide GEMM and parallel-for
    objects already built) or a warm disk cache."""
    code = f"""
import time; t0 = time.perf_counter()
import numpy as np, spiraltorch as st
t1 = time.perf_counter()
x = np.ones({shape}, np.float32)
f = st.compile(lambda x: {expr}, target="cpu")
t2 = time.perf_counter(); f.lower(x).compile(); t3 = time.perf_counter()
print((t1 - t0) * 1e3, (t3 - t2) * 1e3)
"""
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SPIRAL_CACHE_DIR": cache}
        # builds the machine-wide objects (cache/objects/: GEMM variants, parallel-for) once, as an install would
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        for _ in range(runs):
            if not warm:
                shutil.rmtree(stcache.entries_dir(cache), ignore_errors=True)
            out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
            rows.append([float(v) for v in out.stdout.split()])
    return tuple(statistics.median(col) for col in zip(*rows, strict=True))


def cold_compile_step_ms(runs: int = 5) -> float:
    """Median over fresh processes (empty disk cache) of the time to trace, differentiate, fuse, lower and compile
    the W6 training step (issue 5's compile-time goal: <= 250 ms)."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = f"""
import sys, time; sys.path.insert(0, {here!r})
import bench_cpu as b, spiraltorch as st
args = b._mlp_init()
f = st.compile(b._mlp_spiral, target="cpu")
t0 = time.perf_counter(); f.lower(*args).compile(); print((time.perf_counter() - t0) * 1e3)
"""
    times = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "SPIRAL_CACHE_DIR": cache}
        # The first run also builds the machine-wide objects (GEMM variants, parallel-for; cache/objects/), which
        # every later program links without rebuilding them; the timed runs start with no compiled program.
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        for _ in range(runs):
            shutil.rmtree(stcache.entries_dir(cache), ignore_errors=True)
            out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
            times.append(float(out.stdout.split()[-1]))
    return statistics.median(times)


def _fmt(ms: float) -> str:
    return f"{ms * 1e3:.2f} us" if ms < 0.1 else f"{ms:.2f} ms"


def copy_bandwidth(calls: int = 20) -> tuple[float, float]:
    """GB/s of a 64 MiB float32 copy (read + write counted) into a fresh array and into an existing one."""
    x = np.ones(1 << 24, np.float32)
    out = np.empty_like(x)
    fresh = _median_ms(lambda: x.copy(), calls)
    into = _median_ms(lambda: np.copyto(out, x), calls)
    return 2 * x.nbytes / fresh / 1e6, 2 * x.nbytes / into / 1e6


def markdown(ws: list[Workload], bandwidth: tuple[float, float] | None = None) -> str:
    cols = ["spiraltorch", "numpy", "torch", "torch.compile", "jax.jit"]
    lines = ["| workload | " + " | ".join(cols) + " | SpiralTorch / best peer | SpiralTorch GB/s |",
             "|---" * (len(cols) + 3) + "|"]
    for w in ws:
        cells = []
        for c in cols:
            v = w.results.get(c)
            cells.append(_fmt(v) if isinstance(v, float) else ("-" if v is None else "fail"))
        peers = [v for c, v in w.results.items() if c != "spiraltorch" and isinstance(v, float)]
        ours = w.results.get("spiraltorch")
        ratio = f"{ours / min(peers):.2f}x" if peers and isinstance(ours, float) else "-"
        gbs = f"{w.nbytes / ours / 1e6:.1f}" if w.nbytes and isinstance(ours, float) else "-"
        lines.append(f"| {w.name} | " + " | ".join(cells) + f" | {ratio} | {gbs} |")
    if bandwidth:
        lines.append(f"\nCopy bandwidth of this machine (64 MiB float32, read + write): {bandwidth[0]:.1f} GB/s into a "
                     f"fresh array, {bandwidth[1]:.1f} GB/s into an existing one. GB/s counts the minimum traffic "
                     "(inputs read once, outputs written once).")
    failures = [(w.name, c, v) for w in ws for c, v in w.results.items() if isinstance(v, str)]
    for name, c, v in failures:
        lines.append(f"\n* {name} / {c}: {v}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated workload prefixes, e.g. W1,W7")
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--markdown", default="")
    ap.add_argument("--no-compile-latency", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    ws = [w for w in workloads() if not args.only or any(w.name.startswith(p) for p in args.only.split(","))]
    for w in ws:
        run(w, args.calls)
        print(w.name, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in w.results.items()}, flush=True)
    table = markdown(ws, copy_bandwidth())
    if not args.no_compile_latency:
        expr = "st.softmax(x, axis=1)"
        cold = cold_compile_ms(expr, (4096, 4096), warm=False)
        warm = cold_compile_ms(expr, (4096, 4096), warm=True)
        table += ("\n\nW2 (softmax 4096x4096) in a fresh process, median of 5 processes: `import spiraltorch` "
                  f"{cold[0]:.0f} ms; compile (trace + lower + LLVM O3 + link into a .so) with a cold cache "
                  f"{cold[1]:.1f} ms; with a warm disk cache (trace + load the .so) {warm[1]:.1f} ms.")
        table += ("\n\nW6 training step (trace + autodiff + fuse + lower + LLVM + link, empty disk cache, fresh "
                  f"process, median of 5): {cold_compile_step_ms():.0f} ms.")
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
