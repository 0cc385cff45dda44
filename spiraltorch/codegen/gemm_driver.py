"""The Python driver of the generated GEMM (`matmul.py` builds `st_sgemm` and its variants): compiling them
in-process, calling them on numpy arrays, and splitting big products over threads with a spinning native handoff.

Compiled SpiralTorch programs call the variants from generated code (`kern.gemm`); this driver serves direct use
(`gemm_driver.matmul(a, b)`, which picks the variant with `matmul.choose` like the lowering does), the benchmarks
and the tests, and provides the in-process JIT copy of the kernels (`library()`, which also hands every variant's
symbol to llvmlite's JIT).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import llvmlite.binding as llvm
import numpy as np

from spiraltorch.codegen import matmul as gen
from spiraltorch.codegen.matmul import (
    FLAG_ACC,
    FLAG_TRANS_A,
    FLAG_TRANS_B,
    FLAG_TRANS_C,
    GemmConfig,
    _init_llvm,
    _module_text,
    optimize,
    target_machine,
)

_SIG = ctypes.CFUNCTYPE(
    None, *([ctypes.c_int64] * 4), *([ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64] * 3), ctypes.c_int32,
    ctypes.c_void_p,
)  # fmt: skip


# --- driver ---------------------------------------------------------------------------------------
class Call(NamedTuple):
    """Arguments of one st_sgemm call (without the workspace): sizes, then (byte address, leading
    dimension, batch stride) of A, B and C, the latter two in elements, then the flags (matmul.FLAG_*:
    accumulate, A / B / C column-major, A / B read in place)."""

    batch: int
    m: int
    n: int
    k: int
    a: int
    lda: int
    sa: int
    b: int
    ldb: int
    sb: int
    c: int
    ldc: int
    sc: int
    flags: int

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.n * self.k


@dataclass
class GemmKernel:
    """One compiled variant plus its driver. The function lives as long as this object (its engine)."""

    cfg: GemmConfig
    compile_seconds: float
    _engine: llvm.ExecutionEngine
    fn_addr: int  # address of the variant's exported function
    _fn: Callable
    _local: threading.local = field(default_factory=threading.local)
    _worker_ws: list = field(default_factory=list)

    def raw(self, call: Call) -> None:
        """Run one call on this thread, with this thread's workspace (ctypes releases the GIL)."""
        self._fn(*call, self._workspace())

    def _workspace(self) -> int:
        ws = getattr(self._local, "ws", None)
        if ws is None:
            ws = self._local.ws = _aligned_floats(self.cfg.workspace_floats)
        return ws[1]

    def worker_workspace(self, i: int) -> int:
        """Workspace of pool worker i (used only while the caller owns that worker)."""
        while len(self._worker_ws) <= i:
            self._worker_ws.append(_aligned_floats(self.cfg.workspace_floats))
        return self._worker_ws[i][1]

    def __call__(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, *, accumulate: bool = False,
                 threads: int | None = None, direct_a: bool = False, direct_b: bool = False) -> np.ndarray:  # fmt: skip
        """out (+)= a @ b for 2-D or batched 3-D float32 arrays with this variant; a 2-D operand broadcasts over
        the batch. Row- and column-major operands (e.g. `x.T`) are used in place, others are copied first;
        `out` must have contiguous rows (or columns, where the variant stores column-major C: cfg.trans_c).
        direct_a/direct_b: read that operand in place instead of packing it (see matmul.Plan)."""
        a, b = _operand(a), _operand(b)
        out = _output(a, b, out, accumulate, self.cfg.trans_c)
        extra = gen.FLAG_DIRECT_A * direct_a | gen.FLAG_DIRECT_B * direct_b
        run_parallel(self, describe(a, b, out, accumulate, extra), default_threads() if threads is None else threads)
        return out


def _aligned_floats(n: int) -> tuple[np.ndarray, int]:
    """A float32 buffer of n elements and its 64-byte aligned address."""
    buf = np.empty(n + 16, np.float32)
    return buf, buf.ctypes.data + (-buf.ctypes.data) % 64


def _compile(cfgs: list[GemmConfig]) -> list[GemmKernel]:
    """The variants `cfgs` (same target) in one module and one engine."""
    t0 = time.perf_counter()
    tm = target_machine(cfgs[0])
    engine = llvm.create_mcjit_compiler(optimize(_module_text(cfgs, tm), tm), tm)
    engine.finalize_object()
    seconds = time.perf_counter() - t0
    addrs = [engine.get_function_address(c.symbol) for c in cfgs]
    return [GemmKernel(c, seconds, engine, addr, _SIG(addr)) for c, addr in zip(cfgs, addrs, strict=True)]


def compile_gemm(cfg: GemmConfig | None = None) -> GemmKernel:
    """Generate, optimize and JIT-compile one variant (default: the default variant, host target)."""
    return _compile([cfg or gen.DEFAULT])[0]


@functools.cache
def library() -> dict[str, GemmKernel]:
    """Every variant of `matmul.VARIANTS`, compiled once per process (~1 s), by symbol. Their symbols are
    handed to llvmlite's JIT (llvm.add_symbol), so that JIT-compiled programs calling any variant link."""
    kernels = _compile(list(gen.VARIANTS.values()))
    for k in kernels:
        llvm.add_symbol(k.cfg.symbol, k.fn_addr)
    return {k.cfg.symbol: k for k in kernels}


def default_kernel() -> GemmKernel:
    """The default variant (compiling `library()`, i.e. every variant, on first use)."""
    return library()[gen.ENTRY]


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, *, accumulate: bool = False,
           threads: int | None = None) -> np.ndarray:  # fmt: skip
    """out (+)= a @ b with the plan (variant, operands read in place, C^T = B^T A^T) that `matmul.choose` picks
    for the shape and layouts, the same choice as compiled programs make."""
    a, b = _operand(a), _operand(b)
    out = _output(a, b, out, accumulate)
    plan = _choose(a.shape[-2], b.shape[-1], a.shape[-1], bool(_trans(a)), bool(_trans(b)))
    kernel = library()[plan.symbol]
    if plan.swap:  # out^T (+)= b^T @ a^T: views, the kernel stores a column-major C
        a, b, out_ = np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2), np.swapaxes(out, -1, -2)
    else:
        out_ = out
    call = describe(a, b, out_, accumulate, plan.flags)  # (a, b, out_ are checked already)
    run_parallel(kernel, call, default_threads() if threads is None else threads)
    return out


_choose = functools.lru_cache(maxsize=256)(gen.choose)


@functools.cache
def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _operand(x: np.ndarray) -> np.ndarray:
    """x itself when it is row- or column-major (in its last two dims) with float-aligned strides, else a
    row-major copy."""
    if x.dtype != np.float32 or x.ndim not in (2, 3):
        raise TypeError(f"expected a 2-D or 3-D float32 array, got {x.dtype} {x.shape}")
    return x if all(s % 4 == 0 for s in x.strides) and _trans(x) is not None else np.ascontiguousarray(x)


def _trans(x: np.ndarray) -> bool | None:
    """False: row-major (unit stride along the last dim), True: column-major, None: neither."""
    if x.strides[-1] == 4 or x.shape[-1] == 1 or x.size == 0:  # (numpy gives empty arrays zero strides)
        return False
    if x.strides[-2] == 4 or x.shape[-2] == 1:
        return True
    return None


def _output(a: np.ndarray, b: np.ndarray, out: np.ndarray | None, accumulate: bool, col_major_ok: bool = False
            ) -> np.ndarray:
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
    batch = {x.shape[0] for x in (a, b) if x.ndim == 3}
    if len(batch) > 1:
        raise ValueError(f"matmul: batch sizes differ: {a.shape} @ {b.shape}")
    shape = (*batch, a.shape[-2], b.shape[-1])
    if out is None:
        if accumulate:
            raise ValueError("accumulate=True needs an out array")
        return np.empty(shape, np.float32)
    unit = out.size == 0 or out.strides[-1] == 4 or out.shape[-1] == 1
    unit = unit or (col_major_ok and (out.strides[-2] == 4 or out.shape[-2] == 1))
    if out.shape != shape or out.dtype != np.float32 or not unit or any(s % 4 for s in out.strides):
        raise ValueError(f"out must be float32 {shape} with contiguous rows, got {out.dtype} {out.shape}")
    if out.ndim == 3 and out.shape[0] > 1 and out.strides[0] == 0:
        raise ValueError("out must not broadcast over the batch")
    return out


def _mat(x: np.ndarray, trans: bool = False) -> tuple[int, int, int]:
    """(address, leading dimension, batch stride); a 2-D operand gets batch stride 0 (broadcast)."""
    return x.ctypes.data, x.strides[-1 if trans else -2] // 4, x.strides[0] // 4 if x.ndim == 3 else 0


def describe(a: np.ndarray, b: np.ndarray, out: np.ndarray, accumulate: bool, extra_flags: int = 0) -> Call:
    """The st_sgemm call computing out (+)= a @ b for checked arrays (see GemmKernel.__call__); extra_flags
    (FLAG_DIRECT_*) are or-ed into the flags."""
    batch = out.shape[0] if out.ndim == 3 else 1
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    ta, tb, tc = _trans(a), _trans(b), _trans(out)
    if ta is None or tb is None or tc is None:
        raise ValueError("describe: operands must be row- or column-major (see _operand)")
    flags = FLAG_ACC * bool(accumulate) | FLAG_TRANS_A * ta | FLAG_TRANS_B * tb | FLAG_TRANS_C * tc | extra_flags
    return Call(batch, m, n, k, *_mat(a, ta), *_mat(b, tb), *_mat(out, tc), flags)


# --- threading ------------------------------------------------------------------------------------
# Handing a chunk to a sleeping thread costs ~50 us on this VM to wake it and as much to wake the
# caller again (futex + IPI), as long as a 256^3 chunk takes. So the handoff goes through a
# control block in shared memory: the worker spins natively (GIL released) on a sequence number for
# SPIN_TICKS after its last chunk before it falls back to blocking on an Event, and the caller
# spins natively on the "done" number. Workers are pinned to their own CPUs; the caller is moved
# off a worker's CPU for the call when it sits on one (a spinning worker would halve it).
SPIN_TICKS = 2_000_000  # readcyclecounter ticks (TSC: ~1 ms at 2-3 GHz) a worker spins after a chunk
PIN_THREADS = hasattr(os, "sched_setaffinity")
_CTRL_WORDS = 32  # int64 control block: [0] posted seq, [8] done seq, [16] function, [17:32] arguments

_RUNTIME_IR = """
declare i64 @llvm.readcyclecounter()
declare void @llvm.x86.sse2.pause()
declare i32 @sched_yield()

define void @st_gemm_post(ptr %ctrl, i64 %seq) nounwind {
  store atomic i64 %seq, ptr %ctrl release, align 8
  ret void
}

; run the chunks posted in ctrl until none comes for `spin` ticks; returns the last seq taken
define i64 @st_gemm_serve(ptr %ctrl, i64 %taken0, i64 %spin) nounwind {
entry:
  %t0 = call i64 @llvm.readcyclecounter()
  br label %wait
wait:
  %taken = phi i64 [%taken0, %entry], [%seq, %run], [%taken, %idle]
  %start = phi i64 [%t0, %entry], [%t1, %run], [%start, %idle]
  %seq = load atomic i64, ptr %ctrl acquire, align 8
  %new = icmp ne i64 %seq, %taken
  br i1 %new, label %run, label %idle
idle:
  PAUSE
  %now = call i64 @llvm.readcyclecounter()
  %elapsed = sub i64 %now, %start
  %more = icmp ult i64 %elapsed, %spin
  br i1 %more, label %wait, label %out
out:
  ret i64 %taken
run:
  LOAD_ARGS
  call void %fn(CALL_ARGS)
  %donep = getelementptr i64, ptr %ctrl, i64 8
  store atomic i64 %seq, ptr %donep release, align 8
  %t1 = call i64 @llvm.readcyclecounter()
  br label %wait
}

; wait until the worker has finished chunk `seq`, yielding the CPU now and then
define void @st_gemm_join(ptr %ctrl, i64 %seq) nounwind {
entry:
  %donep = getelementptr i64, ptr %ctrl, i64 8
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %spin], [%i1, %yield]
  %done = load atomic i64, ptr %donep acquire, align 8
  %ok = icmp sge i64 %done, %seq
  br i1 %ok, label %out, label %spin
spin:
  PAUSE
  %i1 = add i64 %i, 1
  %low = and i64 %i1, 4095
  %y = icmp eq i64 %low, 0
  br i1 %y, label %yield, label %loop
yield:
  %r = call i32 @sched_yield()
  br label %loop
out:
  ret void
}
"""
# st_sgemm's parameter types, in order (see _SIG)
_ARG_TYPES = ["i64"] * 4 + ["ptr", "i64", "i64"] * 3 + ["i32", "ptr"]


def _runtime_ir(x86: bool) -> str:
    loads, args = ["%fnp = getelementptr i64, ptr %ctrl, i64 16", "%fn = load ptr, ptr %fnp, align 8"], []
    for i, ty in enumerate(_ARG_TYPES):
        loads += [f"%p{i} = getelementptr i64, ptr %ctrl, i64 {17 + i}", f"%w{i} = load i64, ptr %p{i}, align 8"]
        if ty == "ptr":
            loads.append(f"%a{i} = inttoptr i64 %w{i} to ptr")
        elif ty == "i32":
            loads.append(f"%a{i} = trunc i64 %w{i} to i32")
        args.append(f"{ty} %{'w' if ty == 'i64' else 'a'}{i}")
    text = _RUNTIME_IR.replace("LOAD_ARGS", "\n  ".join(loads)).replace("CALL_ARGS", ", ".join(args))
    return text.replace("PAUSE", "call void @llvm.x86.sse2.pause()" if x86 else "")


class _Runtime:
    """The compiled handoff functions (one engine per process)."""

    def __init__(self):
        _init_llvm()
        triple = llvm.get_process_triple()
        tm = llvm.Target.from_triple(triple).create_target_machine(opt=2)
        mod = llvm.parse_assembly(_runtime_ir(triple.startswith(("x86_64", "i686", "i386"))))
        mod.verify()
        self.engine = llvm.create_mcjit_compiler(mod, tm)
        self.engine.finalize_object()
        addr = self.engine.get_function_address
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        self.post = ctypes.CFUNCTYPE(None, ptr, i64)(addr("st_gemm_post"))
        self.serve = ctypes.CFUNCTYPE(i64, ptr, i64, i64)(addr("st_gemm_serve"))
        self.join = ctypes.CFUNCTYPE(None, ptr, i64)(addr("st_gemm_join"))


@functools.cache
def _runtime() -> _Runtime:
    return _Runtime()


class _Worker:
    """A persistent thread, pinned to `cpu`, that runs the chunks posted to its control block."""

    def __init__(self, cpu: int | None):
        self.cpu = cpu
        self.lock = threading.Lock()  # one caller at a time owns the worker from post to join
        self.wake = threading.Event()
        self._buf = np.zeros(_CTRL_WORDS + 8, np.int64)
        off = (-self._buf.ctypes.data) % 64 // 8
        self.ctrl = self._buf[off : off + _CTRL_WORDS]  # 64-byte aligned: seq words on their own lines
        self.addr = self.ctrl.ctypes.data
        self.seq = 0
        self.rt = _runtime()
        threading.Thread(target=self._serve, name=f"st-gemm-{cpu}", daemon=True).start()

    def post(self, fn_addr: int, call: Call, workspace: int) -> None:
        self.ctrl[16] = fn_addr
        self.ctrl[17:32] = (*call, workspace)
        self.seq += 1
        self.rt.post(self.addr, self.seq)  # release store: the arguments are visible first
        self.wake.set()  # no-op cost unless the worker sleeps

    def join(self) -> None:
        self.rt.join(self.addr, self.seq)

    def _serve(self) -> None:
        if self.cpu is not None:
            with contextlib.suppress(OSError):  # unpinned is slower, but a dead worker would hang join
                os.sched_setaffinity(0, {self.cpu})
        taken = 0
        while True:
            taken = self.rt.serve(self.addr, taken, SPIN_TICKS)
            self.wake.wait()
            self.wake.clear()


_workers: list[_Worker] = []
_workers_lock = threading.Lock()


def _forget_workers() -> None:
    # A forked child has none of the parent's threads: posting to their control blocks would spin forever.
    global _workers_lock
    _workers.clear()
    _workers_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _cpus() -> list[int | None]:
    return sorted(os.sched_getaffinity(0)) if PIN_THREADS else [None]


def _get_workers(count: int) -> list[_Worker]:
    """Workers 0..count-1 (created on first use); worker i is pinned to the (i+1)-th allowed CPU."""
    if len(_workers) < count:
        with _workers_lock:
            cpus = _cpus()
            while len(_workers) < count:
                _workers.append(_Worker(cpus[(len(_workers) + 1) % len(cpus)]))
    return _workers[:count]


def _libc_getcpu() -> Callable[[], int] | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).sched_getcpu
    except (AttributeError, OSError):
        return None
    fn.restype, fn.argtypes = ctypes.c_int, []
    return fn


_getcpu = _libc_getcpu() if PIN_THREADS else None


@contextlib.contextmanager
def _off_cpus(cpus: set) -> Iterator[None]:
    """Keep the calling thread off `cpus` (where the workers spin) for the duration. Only a caller
    found on one of them pays for the two affinity syscalls."""
    if not cpus or (_getcpu is not None and _getcpu() not in cpus):
        yield
        return
    old = os.sched_getaffinity(0)
    if not old - cpus:
        yield
        return
    os.sched_setaffinity(0, old - cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


def run_parallel(kernel: GemmKernel, call: Call, threads: int) -> None:
    """Run `call` as up to `threads` independent chunks: one here, the others on pool workers. If
    another thread is using the workers, the call runs here alone."""
    chunks = [call] if threads <= 1 or call.flops < gen.PARALLEL_MIN_FLOPS else split(call, threads, kernel.cfg)
    if len(chunks) == 1:
        kernel.raw(call)
        return
    workers = _get_workers(len(chunks) - 1)
    owned = [w for w in workers if w.lock.acquire(blocking=False)]
    try:
        if len(owned) < len(workers):
            kernel.raw(call)
            return
        for i, (w, ch) in enumerate(zip(owned, chunks[1:], strict=True)):
            w.post(kernel.fn_addr, ch, kernel.worker_workspace(i))
        with _off_cpus({w.cpu for w in owned} - {None}):
            kernel.raw(chunks[0])
        for w in owned:
            w.join()
    finally:
        for w in owned:
            w.lock.release()


def split(call: Call, parts: int, cfg: GemmConfig) -> list[Call]:
    """Independent sub-calls covering `call`. The batch is split when it divides evenly, else N (in
    NR multiples: chunks keep full tiles and aligned columns) or M (MR multiples), whichever is
    larger; an uneven batch split is the last resort. K is never split: chunks write disjoint C
    and every element keeps its summation order, so results do not depend on the thread count."""
    if call.flops == 0:
        return [call]
    if call.batch % parts == 0:
        return [_sub_batch(call, lo, hi) for lo, hi in _ranges(call.batch, parts, 1)]
    by_n = call.n >= parts * cfg.nr and (call.n >= call.m or call.m < parts * cfg.mr)
    if by_n:
        return [_sub_n(call, lo, hi) for lo, hi in _ranges(call.n, parts, cfg.nr)]
    if call.m >= parts * cfg.mr:
        return [_sub_m(call, lo, hi) for lo, hi in _ranges(call.m, parts, cfg.mr)]
    return [_sub_batch(call, lo, hi) for lo, hi in _ranges(call.batch, parts, 1)]


def _ranges(total: int, parts: int, quantum: int) -> list[tuple[int, int]]:
    """Split [0, total) into up to `parts` non-empty ranges, cut at multiples of `quantum`."""
    units = math.ceil(total / quantum)
    cuts = [min(total, (units * i // parts) * quantum) for i in range(parts + 1)]
    return [(lo, hi) for lo, hi in itertools.pairwise(cuts) if hi > lo]


def sub_call(call: Call, batch: tuple[int, int] | None = None, rows: tuple[int, int] | None = None,
             cols: tuple[int, int] | None = None) -> Call:  # fmt: skip
    """The part of `call` that computes C[batch[0]:batch[1], rows[0]:rows[1], cols[0]:cols[1]]: the
    same kernel, with offset pointers and smaller sizes (this is the kernel's "range" entry)."""
    for sub, rng in ((_sub_batch, batch), (_sub_m, rows), (_sub_n, cols)):
        if rng is not None:
            call = sub(call, *rng)
    return call


def _sub_batch(call: Call, lo: int, hi: int) -> Call:
    a, b, c = (p + 4 * lo * s for p, s in ((call.a, call.sa), (call.b, call.sb), (call.c, call.sc)))
    return call._replace(batch=hi - lo, a=a, b=b, c=c)


def _sub_n(call: Call, lo: int, hi: int) -> Call:
    col_b = call.ldb if call.flags & FLAG_TRANS_B else 1  # elements between B's columns
    col_c = call.ldc if call.flags & FLAG_TRANS_C else 1
    return call._replace(n=hi - lo, b=call.b + 4 * lo * col_b, c=call.c + 4 * lo * col_c)


def _sub_m(call: Call, lo: int, hi: int) -> Call:
    row_a = 1 if call.flags & FLAG_TRANS_A else call.lda  # elements between A's rows
    row_c = 1 if call.flags & FLAG_TRANS_C else call.ldc
    return call._replace(m=hi - lo, a=call.a + 4 * lo * row_a, c=call.c + 4 * lo * row_c)
