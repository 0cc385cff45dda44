"""The native parallel-for (spiraltorch/codegen/pfor.py, runtime/parallel.py): the protocol on its own, then
programs whose kernels go through it (JIT and artifacts) against one thread, the interpreter and the Python pool."""

import ctypes
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import spiraltorch as st
from runtime import parallel
from spiraltorch.codegen import aot, pfor
from spiraltorch.testing import assert_close

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNG = np.random.default_rng(7)

# --- the protocol, with chunks written in LLVM IR --------------------------------------------------------
_CHUNKS = """
declare i32 @clock_gettime(i32, ptr)

; ctx = i64 counts[n]: counts[i] += 1 for i in [lo, hi)
define void @count(ptr %ctx, i64 %lo, i64 %hi) {
entry:
  %empty = icmp sge i64 %lo, %hi
  br i1 %empty, label %out, label %loop
loop:
  %i = phi i64 [%lo, %entry], [%i1, %loop]
  %p = getelementptr i64, ptr %ctx, i64 %i
  %old = atomicrmw add ptr %p, i64 1 monotonic
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %hi
  br i1 %more, label %loop, label %out
out:
  ret void
}

; ctx = {pfor, counts, n}: a chunk that calls pfor again for every index it gets
define void @nested(ptr %ctx, i64 %lo, i64 %hi) {
entry:
  %pfor = load ptr, ptr %ctx
  %cp = getelementptr i64, ptr %ctx, i64 1
  %counts = load ptr, ptr %cp
  %np = getelementptr i64, ptr %ctx, i64 2
  %n = load i64, ptr %np
  %empty = icmp sge i64 %lo, %hi
  br i1 %empty, label %out, label %loop
loop:
  %i = phi i64 [%lo, %entry], [%i1, %loop]
  call void %pfor(ptr @count, ptr %counts, i64 %n)
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %hi
  br i1 %more, label %loop, label %out
out:
  ret void
}

; ctx = i64 {started, met}: each part announces itself and waits (up to 2 s) until `started` reaches 2;
; `met` counts the parts that saw the other one: 2 means two threads ran at the same time
define void @meet(ptr %ctx, i64 %lo, i64 %hi) {
entry:
  %ts = alloca [2 x i64]
  %s0 = atomicrmw add ptr %ctx, i64 1 seq_cst
  %r0 = call i32 @clock_gettime(i32 1, ptr %ts)
  %t0 = load i64, ptr %ts
  br label %wait
wait:
  %s = load atomic i64, ptr %ctx seq_cst, align 8
  %both = icmp sge i64 %s, 2
  br i1 %both, label %met, label %clock
clock:
  %r1 = call i32 @clock_gettime(i32 1, ptr %ts)
  %t1 = load i64, ptr %ts
  %dt = sub i64 %t1, %t0
  %late = icmp sgt i64 %dt, 2
  br i1 %late, label %out, label %wait
met:
  %mp = getelementptr i64, ptr %ctx, i64 1
  %m = atomicrmw add ptr %mp, i64 1 seq_cst
  br label %out
out:
  ret void
}
"""


@pytest.fixture(scope="module")
def native():
    """(pfor, chunk addresses): the process's native pfor (the JIT's unless a library's came first)."""
    import llvmlite.binding as llvm

    from spiraltorch.codegen import mathlib

    pfor.install()
    assert parallel.native_installed() and parallel.backend().startswith("native")
    tm = mathlib.create_target_machine("host")
    ref = llvm.parse_assembly(_CHUNKS)
    ref.triple = mathlib.host_target().triple
    engine = llvm.create_mcjit_compiler(ref, tm)
    engine.finalize_object()
    addrs = {name: engine.get_function_address(name) for name in ("count", "nested", "meet")}
    yield parallel.PFOR(parallel._native.address), addrs, engine


@pytest.fixture
def threads(monkeypatch):
    def use(n):
        monkeypatch.setenv("SPIRAL_NUM_THREADS", str(n))
        parallel.configure()

    yield use
    monkeypatch.delenv("SPIRAL_NUM_THREADS", raising=False)
    parallel.configure()


@pytest.mark.parametrize("nthreads", [1, 2, 3, 8])
def test_every_index_runs_exactly_once(native, threads, nthreads):
    run, addrs, _ = native
    threads(nthreads)
    for n in [0, 1, 2, 3, 5, 7, 64, 1000, 4097]:
        for _ in range(20):
            counts = np.zeros(max(n, 1), np.int64)
            run(addrs["count"], counts.ctypes.data, n)
            assert (counts[:n] == 1).all(), (n, counts)


def test_nested_pfor_runs_inline(native, threads):
    run, addrs, _ = native
    threads(4)
    counts = np.zeros(50, np.int64)
    ctx = np.array([parallel._native.address, counts.ctypes.data, 50], np.int64)
    for _ in range(10):
        run(addrs["nested"], ctx.ctypes.data, 9)
    assert (counts == 90).all()


def test_sleeping_workers_wake_up(native, threads):
    """After an idle time far longer than the spin, the workers sleep in the kernel; a post wakes one
    (the two parts meet only when another thread runs one while the caller runs the other)."""
    run, addrs, _ = native
    threads(2)
    if parallel.stats()["threads"] < 1:
        pytest.skip("one CPU: no workers")
    for idle in (0.0, 0.05):
        time.sleep(idle)
        deadline = time.time() + 2
        while idle and parallel.stats()["sleeping"] < 1 and time.time() < deadline:
            time.sleep(0.01)
        if idle:
            assert parallel.stats()["sleeping"] >= 1
        ctx = np.zeros(2, np.int64)
        run(addrs["meet"], ctx.ctypes.data, 2)
        assert ctx[1] == 2, f"after {idle} s idle, no worker ran the second part"


def test_concurrent_callers_share_the_pool(native, threads):
    """Two Python threads calling pfor at once: one gets the workers, the other runs inline; both complete."""
    run, addrs, _ = native
    threads(2)
    errors = []

    def caller():
        for n in range(1, 400):
            counts = np.zeros(n, np.int64)
            run(addrs["count"], counts.ctypes.data, n)
            if not (counts == 1).all():
                errors.append(n)

    ts = [threading.Thread(target=caller) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


# --- programs -------------------------------------------------------------------------------------------
def program(x, w):
    """Elementwise, reductions, softmax rows and matmul bands (f32 GEMM with more than one band)."""
    return st.exp(x) * 2.0 + 1.0, x.sum(axis=1), x.max(axis=0), st.softmax(x, axis=1), x @ w, st.tanh(x @ w).mean()


ARGS = (RNG.standard_normal((128, 256)).astype(np.float32), (RNG.standard_normal((256, 160)) / 16).astype(np.float32))


def _compile(monkeypatch, nthreads: int, parallel_min: int = 1):
    monkeypatch.setenv("SPIRAL_PARALLEL_MIN", str(parallel_min))
    monkeypatch.setenv("SPIRAL_NUM_THREADS", str(nthreads))
    return st.compile(program, target="cpu")


@pytest.fixture(scope="module")
def reference():
    return st.compile(program, target="interp")(*ARGS)


def _kernel_text(monkeypatch, nthreads):
    from spiraltorch.codegen.cpu_target import kernel_module
    from spiraltorch.ir import text

    return text.to_text(kernel_module(_compile(monkeypatch, nthreads).lower(*ARGS)))


def test_program_is_split(monkeypatch):
    kmod = _kernel_text(monkeypatch, 2)
    calls = [line for line in kmod.splitlines() if "func.call" in line]
    assert sum("spiral.parallel" in c for c in calls) >= 4  # elementwise, row and reduction groups and GEMMs
    assert any("matmul" in c and "spiral.parallel" in c for c in calls)


@pytest.mark.parametrize("cache", ["0", "1"], ids=["jit", "shared-object"])
def test_parallel_program_matches_one_thread_and_interpreter(monkeypatch, reference, cache):
    monkeypatch.setenv("SPIRAL_CACHE", cache)
    one = _compile(monkeypatch, 1, parallel_min=1 << 40)(*ARGS)
    f = _compile(monkeypatch, 2)
    f(*ARGS)
    assert parallel.backend().startswith("native")
    for _ in range(100):  # many calls in a row: every result bitwise equal to one thread's
        got = f(*ARGS)
        for g, o in zip(got, one, strict=True):
            np.testing.assert_array_equal(g, o)
    for g, r in zip(got, reference, strict=True):
        assert_close(g, r, rtol=1e-5, atol=1e-5)


def test_python_fallback_gives_the_same_results(monkeypatch):
    f = _compile(monkeypatch, 2)
    want = f(*ARGS)
    parallel.set_backend("python")
    try:
        assert parallel.backend() == "python"
        got = f(*ARGS)
    finally:
        parallel.set_backend("native")
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_two_python_threads_call_programs_concurrently(monkeypatch):
    f = _compile(monkeypatch, 2)
    g = st.compile(lambda x: st.softmax(x * 3.0, axis=0) + x.mean(axis=1, keepdims=True), target="cpu")
    xs = [RNG.standard_normal((128, 256)).astype(np.float32) for _ in range(4)]
    want_f = f(*ARGS)
    want_g = [g(x) for x in xs]
    errors = []

    def caller(k):
        for i in range(60):
            if (i + k) % 2:
                got = f(*ARGS)
                ok = all(np.array_equal(a, b) for a, b in zip(got, want_f, strict=True))
            else:
                ok = np.array_equal(g(xs[i % 4]), want_g[i % 4])
            if not ok:
                errors.append((k, i))

    ts = [threading.Thread(target=caller, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_fork_child_gets_its_own_workers(monkeypatch):
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    f = _compile(monkeypatch, 2)
    want = f(*ARGS)
    pid = os.fork()
    if pid == 0:  # the child: the parent's workers do not exist here
        code = 1
        try:
            got = [f(*ARGS) for _ in range(20)][-1]
            code = 0 if all(np.array_equal(a, b) for a, b in zip(got, want, strict=True)) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- artifacts run by the runtime alone ---------------------------------------------------------------------
BLOCKED = ("spiraltorch", "xdsl", "lark", "networkx", "llvmlite")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("SPIRAL_PARALLEL_MIN", "1")
        mp.setenv("SPIRAL_NUM_THREADS", "2")
        path = tmp_path_factory.mktemp("pfor") / "prog.stpack"
        aot.save(st.compile(program, target="cpu").lower(*ARGS), str(path))
        mp.setenv("SPIRAL_PARALLEL_MIN", str(1 << 40))
        mp.setenv("SPIRAL_NUM_THREADS", "1")
        one = st.compile(program, target="cpu")(*ARGS)
    finally:
        mp.undo()
    np.savez(path.parent / "io.npz", *ARGS, *one, *st.compile(program, target="interp")(*ARGS))
    return path


def test_artifact_exports_the_native_pfor(artifact):
    lib = ctypes.CDLL(str(next(artifact.glob("*.so"))))
    for sym in pfor.EXPORTS:
        assert getattr(lib, sym)


@pytest.mark.parametrize("nthreads", ["2", "1"])
def test_artifact_without_the_compiler_uses_its_pfor(artifact, nthreads):
    script = textwrap.dedent(f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError("blocked: " + name)
                return None

        sys.meta_path.insert(0, Block())
        import time
        import numpy as np
        import runtime
        from runtime import parallel

        io = np.load({str(artifact.parent / "io.npz")!r})
        x, w, *rest = [io[f"arr_{{i}}"] for i in range(len(io.files))]
        one, interp = rest[:len(rest) // 2], rest[len(rest) // 2:]
        f = runtime.load({str(artifact)!r})
        for a, b in zip(f(x, w), interp):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        for _ in range(200):  # bitwise what one thread computes, every time
            assert all(np.array_equal(a, b) for a, b in zip(f(x, w), one))
        deadline = time.time() + 10
        while parallel.stats().get("workers", 0) < parallel.stats().get("threads", 0) and time.time() < deadline:
            time.sleep(0.01)
        print(parallel.stats())
    """)
    env = dict(os.environ, SPIRAL_NUM_THREADS=nthreads, PYTHONPATH=REPO)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    stats = eval(r.stdout.strip().splitlines()[-1])  # noqa: S307 (our own dict literal)
    assert stats["backend"].startswith("native (libprogram")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    expect = 0 if nthreads == "1" else min(2, cpus) - 1
    assert stats["threads"] == stats["workers"] == expect
    if nthreads == "1":
        assert stats["worker_parts"] == 0
