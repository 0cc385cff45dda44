"""Float32 GEMM generated as LLVM IR (llvmlite), plus a small multi-threaded driver.

    C[M, N] = A[M, K] @ B[K, N]        (or C += A @ B with accumulate)

All matrices are row-major with explicit leading dimensions (lda, ldb, ldc, in elements), so the
same kernel serves sub-matrices, strided views and batches (batch strides sa, sb, sc; a batch
stride of 0 broadcasts one operand over the batch).

The design is the BLIS/GotoBLAS one:

* B is packed, KC rows at a time, into panels of NR columns (each panel k-major: NR contiguous
  floats per k, zero-padded at the right edge), A into panels of MR rows (MR contiguous floats
  per k, zero-padded at the bottom). Packing makes every microkernel load sequential and aligned
  and removes the cache-set conflicts of large power-of-two leading dimensions. A is packed with
  in-register transposes (vl x vl blocks), B with plain vector copies.
* The microkernel keeps an MR x NR tile of C in MR * NR/VL vector registers and, per k, does
  MR broadcasts of A times NR/VL vector loads of B. It is written as explicit `<VL x float>` IR
  with `llvm.fma`, not left to the auto-vectorizer. Edge tiles compute a full (zero-padded) tile
  and store it with masked stores, row by row.
* Loops, outermost first: batch, jc (NC columns of B), pc (KC of K: pack B), ic (MC rows of A:
  pack A, which then stays in L2), jr (one KC x NR panel of B), ir (one KC x MR panel of A, which
  fits in L1) -> microkernel.

Exported symbol (C ABI; sizes, strides and leading dimensions are int64 element counts):

    void st_sgemm(batch, M, N, K, A, lda, sa, B, ldb, sb, C, ldc, sc, int32 accumulate, float *work)

`work` is the caller's scratch of `GemmConfig.workspace_floats` floats, 64-byte aligned; each
thread needs its own. The same entry computes any block of C: offset the pointers (A and C by m0
rows, B and C by n0 columns, all three by b0 batch entries) and shrink the sizes; `sub_call` does
that, and `split` uses it to cut a call into independent chunks, one per thread.

The Python driver (`GemmKernel.__call__`, `matmul`) runs one chunk on the calling thread and the
others on persistent worker threads, through ctypes, which releases the GIL. Small products
(< PARALLEL_MIN_FLOPS) stay on the calling thread. The handoff to the workers is a spin on shared
memory in a few lines of native code (see "threading" below): waking a sleeping thread costs
~50 us on this VM, as much as a 256^3 chunk.
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
import llvmlite.ir as ir
import numpy as np

F32 = ir.FloatType()
I1 = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
PTR = ir.PointerType()
VOID = ir.VoidType()

ENTRY = "st_sgemm"
# Below this many flops (2*M*N*K summed over the batch) one thread is faster: splitting, posting
# and joining a chunk costs ~15 us of Python and handoff. Measured, 1 thread vs 2: 128^3 40 vs
# 44 us, 160^3 73 vs 60 us, 256^3 216 vs 137 us.
PARALLEL_MIN_FLOPS = 2 * 160**3


@dataclass(frozen=True)
class GemmConfig:
    """Tile sizes and target. Defaults were measured on a 2-core AVX-512 Xeon (48 KiB L1d,
    2 MiB L2 per core), 1 thread, 256^3 to 2048^3."""

    mr: int = 6  # rows of the register tile: MR * NR/VL accumulators + NR/VL B vectors <= 32 zmm
    nr: int = 64  # columns of the register tile, a multiple of vl
    kc: int = 256  # depth of a packed block (the KC x MR A panel, 6 KiB, stays in L1)
    mc: int = 144  # rows of A packed at a time: the MC x KC block (144 KiB) stays in L2
    nc: int = 2048  # columns of B packed at a time: the KC x NC block (2 MiB) lives in L2/L3
    vl: int = 16  # floats per vector register (16 = AVX-512 zmm, 8 = AVX2 ymm)
    unroll: int = 2  # k-steps per microkernel loop iteration
    prefetch_c: bool = True  # prefetch the C tile while the k loop runs (its rows are ldc apart)
    cpu: str = ""  # LLVM cpu name; "" = host
    features: str = ""  # LLVM feature string; "" = host

    def __post_init__(self):
        if min(self.mr, self.nr, self.kc, self.mc, self.nc, self.vl, self.unroll) < 1:
            raise ValueError(f"tile sizes must be positive: {self}")
        if self.nr % self.vl:
            raise ValueError(f"nr must be a multiple of vl: {self}")
        # the macro loops step by whole tiles: round the cache blocks up to tile multiples
        object.__setattr__(self, "mc", _round_up(self.mc, self.mr))
        object.__setattr__(self, "nc", _round_up(self.nc, self.nr))

    @property
    def workspace_floats(self) -> int:
        # packed A block, padded to 64 bytes so that the packed B block (aligned loads) starts aligned
        return _round_up(self.mc * self.kc, 16) + self.nc * self.kc


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


# --- IR helpers ----------------------------------------------------------------------------------
def _i64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def _gep(b: ir.IRBuilder, ptr: ir.Value, idx) -> ir.Value:
    idx = _i64(idx) if isinstance(idx, int) else idx
    return b.gep(ptr, [idx], source_etype=F32)


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


@contextlib.contextmanager
def _loop(b: ir.IRBuilder, start, stop, step, name: str) -> Iterator[ir.Value]:
    """for (i = start; i < stop; i += step) { body }: yields i; the body is emitted inside the with."""
    start, stop, step = (_i64(v) if isinstance(v, int) else v for v in (start, stop, step))
    pre = b.block
    head, body, done = (b.append_basic_block(f"{name}.{s}") for s in ("head", "body", "done"))
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name=name)
    i.add_incoming(start, pre)
    b.cbranch(b.icmp_signed("<", i, stop), body, done)
    b.position_at_end(body)
    yield i
    i.add_incoming(b.add(i, step), b.block)
    b.branch(head)
    b.position_at_end(done)


@contextlib.contextmanager
def _if(b: ir.IRBuilder, cond: ir.Value, name: str) -> Iterator[None]:
    then, done = b.append_basic_block(f"{name}.then"), b.append_basic_block(f"{name}.done")
    b.cbranch(cond, then, done)
    b.position_at_end(then)
    yield
    b.branch(done)
    b.position_at_end(done)


class _Gen:
    """Emits the st_sgemm module for one GemmConfig."""

    def __init__(self, cfg: GemmConfig):
        self.cfg = cfg
        self.m = ir.Module(name="spiraltorch.matmul")
        vl = cfg.vl
        self.vty = ir.VectorType(F32, vl)
        self.mty = ir.VectorType(I1, vl)
        self.nv = cfg.nr // vl  # vectors per tile row
        self.fma = ir.Function(self.m, ir.FunctionType(self.vty, [self.vty] * 3), f"llvm.fma.v{vl}f32")
        # old (pre-LLVM 22) signatures with an explicit alignment argument: the IR parser upgrades them
        self.mload = ir.Function(
            self.m, ir.FunctionType(self.vty, [PTR, I32, self.mty, self.vty]), f"llvm.masked.load.v{vl}f32.p0"
        )
        self.mstore = ir.Function(
            self.m, ir.FunctionType(VOID, [self.vty, PTR, I32, self.mty]), f"llvm.masked.store.v{vl}f32.p0"
        )
        self.prefetch = ir.Function(self.m, ir.FunctionType(VOID, [PTR, I32, I32, I32]), "llvm.prefetch.p0")
        self.zero = ir.Constant(self.vty, None)
        self.lanes = ir.Constant(ir.VectorType(I64, vl), list(range(vl)))

    # small emitters
    def _func(self, name: str, args: list[ir.Type], internal: bool = True) -> tuple[ir.Function, ir.IRBuilder]:
        fn = ir.Function(self.m, ir.FunctionType(VOID, args), name)
        if internal:
            fn.linkage = "internal"
        fn.attributes.add("nounwind")
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def _vload(self, b: ir.IRBuilder, ptr: ir.Value, align: int = 4) -> ir.Value:
        return b.load(ptr, typ=self.vty, align=align)

    def _broadcast(self, b: ir.IRBuilder, x: ir.Value, vty: ir.VectorType) -> ir.Value:
        v = b.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(I32, 0))
        return b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, vty.count), None))

    def _lane_mask(self, b: ir.IRBuilder, count: ir.Value) -> ir.Value:
        """<vl x i1> with lanes [0, count) set (count may be <= 0 or >= vl)."""
        return b.icmp_signed("<", self.lanes, self._broadcast(b, count, ir.VectorType(I64, self.cfg.vl)))

    def _masked_load(self, b: ir.IRBuilder, ptr: ir.Value, mask: ir.Value) -> ir.Value:
        return b.call(self.mload, [ptr, ir.Constant(I32, 4), mask, self.zero])

    def _masked_store(self, b: ir.IRBuilder, v: ir.Value, ptr: ir.Value, mask: ir.Value) -> None:
        b.call(self.mstore, [v, ptr, ir.Constant(I32, 4), mask])

    # --- microkernel ----------------------------------------------------------------------------
    def ukernel(self) -> ir.Function:
        """ukernel(kc, a_panel, b_panel, c, ldc, accumulate: i1, mr, nr): C tile (+)= A panel @ B panel."""
        cfg = self.cfg
        fn, b = self._func("st_gemm_ukernel", [I64, PTR, PTR, PTR, I64, I1, I64, I64])
        kc, pa, pb, pc, ldc, acc, mr, nr = fn.args
        if cfg.prefetch_c:
            self._prefetch_tile(b, pc, ldc)
        accs = [self.zero] * (cfg.mr * self.nv)
        u = cfg.unroll
        accs, pa, pb = self._kloop(b, accs, pa, pb, b.sdiv(kc, _i64(u)), u, "kmain")
        accs, _, _ = self._kloop(b, accs, pa, pb, b.srem(kc, _i64(u)), 1, "ktail")
        full = b.and_(b.icmp_signed("==", mr, _i64(cfg.mr)), b.icmp_signed("==", nr, _i64(cfg.nr)))
        with b.if_else(full) as (then, otherwise):
            with then:
                self._store_full(b, accs, pc, ldc, acc)
            with otherwise:
                self._store_edge(b, accs, pc, ldc, acc, mr, nr)
        b.ret_void()
        return fn

    def _prefetch_tile(self, b: ir.IRBuilder, pc: ir.Value, ldc: ir.Value) -> None:
        # one prefetch per 64-byte line of the tile (write intent, keep in L1), so that the C rows
        # (ldc apart, often not in any cache) arrive while the k loop runs. Prefetches never
        # fault, so edge tiles may name lines past the matrix.
        for r in range(self.cfg.mr):
            row = _gep(b, pc, b.mul(ldc, _i64(r)))
            for line in range(0, self.cfg.nr, 16):
                args = [_gep(b, row, line), ir.Constant(I32, 1), ir.Constant(I32, 3), ir.Constant(I32, 1)]
                b.call(self.prefetch, args)

    def _kloop(self, b: ir.IRBuilder, accs, pa, pb, count, steps: int, name: str):
        """`count` iterations of `steps` rank-1 updates; returns the accumulators and advanced pointers.
        The accumulators are loop phis, so they live in registers for the whole loop."""
        cfg = self.cfg
        pre = b.block
        head, body, done = (b.append_basic_block(f"{name}.{s}") for s in ("head", "body", "done"))
        b.branch(head)
        b.position_at_end(head)
        n = b.phi(I64, name="n")
        phis = [b.phi(self.vty) for _ in accs]
        a_ptr, b_ptr = b.phi(PTR, name="pa"), b.phi(PTR, name="pb")
        for phi, v in zip([n, *phis, a_ptr, b_ptr], [count, *accs, pa, pb], strict=True):
            phi.add_incoming(v, pre)
        b.cbranch(b.icmp_signed(">", n, _i64(0)), body, done)
        b.position_at_end(body)
        new = list(phis)
        for s in range(steps):
            bv = [self._vload(b, _gep(b, b_ptr, s * cfg.nr + j * cfg.vl), 4 * cfg.vl) for j in range(self.nv)]
            for r in range(cfg.mr):
                av = self._broadcast(b, b.load(_gep(b, a_ptr, s * cfg.mr + r), typ=F32, align=4), self.vty)
                for j in range(self.nv):
                    new[r * self.nv + j] = b.call(self.fma, [av, bv[j], new[r * self.nv + j]])
        nexts = [b.sub(n, _i64(1)), *new, _gep(b, a_ptr, steps * cfg.mr), _gep(b, b_ptr, steps * cfg.nr)]
        for phi, v in zip([n, *phis, a_ptr, b_ptr], nexts, strict=True):
            phi.add_incoming(v, body)
        b.branch(head)
        b.position_at_end(done)
        return phis, a_ptr, b_ptr

    def _store_full(self, b: ir.IRBuilder, accs, pc, ldc, acc) -> None:
        # separate store paths, so that `C = A @ B` never reads C
        with b.if_else(acc) as (then, otherwise):
            for add in (True, False):
                with then if add else otherwise:
                    for r in range(self.cfg.mr):
                        row = _gep(b, pc, b.mul(ldc, _i64(r)))
                        for j in range(self.nv):
                            p = _gep(b, row, j * self.cfg.vl)
                            v = accs[r * self.nv + j]
                            b.store(b.fadd(v, self._vload(b, p)) if add else v, p, align=4)

    def _store_edge(self, b: ir.IRBuilder, accs, pc, ldc, acc, mr, nr) -> None:
        # Columns past nr are masked off; the old C is loaded only when accumulating (mask & acc),
        # otherwise the masked load yields zeros. Rows past mr are skipped.
        masks = [self._lane_mask(b, b.sub(nr, _i64(j * self.cfg.vl))) for j in range(self.nv)]
        acc_v = self._broadcast(b, acc, self.mty)
        for r in range(self.cfg.mr):
            with _if(b, b.icmp_signed("<", _i64(r), mr), f"row{r}"):
                row = _gep(b, pc, b.mul(ldc, _i64(r)))
                for j in range(self.nv):
                    p = _gep(b, row, j * self.cfg.vl)
                    old = self._masked_load(b, p, b.and_(masks[j], acc_v))
                    self._masked_store(b, b.fadd(accs[r * self.nv + j], old), p, masks[j])

    # --- packing --------------------------------------------------------------------------------
    def pack_b(self) -> ir.Function:
        """pack_b(kc, nc, B, ldb, dst): B[0:kc, 0:nc] -> NR-column panels, k-major, zero-padded."""
        cfg = self.cfg
        fn, b = self._func("st_gemm_pack_b", [I64, I64, PTR, I64, PTR])
        kc, nc, src, ldb, dst = fn.args
        with _loop(b, 0, nc, cfg.nr, "j0") as j0:
            cols = b.sub(nc, j0)
            panel, col0 = _gep(b, dst, b.mul(j0, kc)), _gep(b, src, j0)
            with b.if_else(b.icmp_signed(">=", cols, _i64(cfg.nr))) as (then, otherwise):
                with then:
                    self._pack_b_panel(b, kc, col0, ldb, panel, None)
                with otherwise:
                    masks = [self._lane_mask(b, b.sub(cols, _i64(j * cfg.vl))) for j in range(self.nv)]
                    self._pack_b_panel(b, kc, col0, ldb, panel, masks)
        b.ret_void()
        return fn

    def _pack_b_panel(self, b: ir.IRBuilder, kc, col0, ldb, panel, masks) -> None:
        cfg = self.cfg
        with _loop(b, 0, kc, 1, "kb") as k:
            s, d = _gep(b, col0, b.mul(k, ldb)), _gep(b, panel, b.mul(k, _i64(cfg.nr)))
            for j in range(self.nv):
                sp = _gep(b, s, j * cfg.vl)
                v = self._vload(b, sp) if masks is None else self._masked_load(b, sp, masks[j])
                b.store(v, _gep(b, d, j * cfg.vl), align=4 * cfg.vl)

    def pack_a(self) -> ir.Function:
        """pack_a(kc, mc, A, lda, dst): A[0:mc, 0:kc] -> MR-row panels, k-major, zero-padded."""
        cfg = self.cfg
        fn, b = self._func("st_gemm_pack_a", [I64, I64, PTR, I64, PTR])
        kc, mc, src, lda, dst = fn.args
        with _loop(b, 0, mc, cfg.mr, "i0") as i0:
            rows = b.sub(mc, i0)
            panel, row0 = _gep(b, dst, b.mul(i0, kc)), _gep(b, src, b.mul(i0, lda))
            with b.if_else(b.icmp_signed(">=", rows, _i64(cfg.mr))) as (then, otherwise):
                with then:
                    self._pack_a_panel(b, kc, row0, lda, panel, None)
                with otherwise:
                    self._pack_a_panel(b, kc, row0, lda, panel, rows)
        b.ret_void()
        return fn

    def _pack_a_panel(self, b: ir.IRBuilder, kc, row0, lda, panel, rows) -> None:
        # Missing rows of an edge panel re-read the last valid row (always in bounds) and store 0.
        cfg = self.cfg
        ptrs = []
        for r in range(cfg.mr):
            rr = _i64(r) if rows is None else _min(b, _i64(r), b.sub(rows, _i64(1)))
            ptrs.append(_gep(b, row0, b.mul(rr, lda)))
        k0 = _i64(0)
        if rows is None and cfg.mr <= cfg.vl:
            k0 = b.mul(b.sdiv(kc, _i64(cfg.vl)), _i64(cfg.vl))
            self._pack_a_vector(b, k0, ptrs, panel)
        self._pack_a_scalar(b, k0, kc, ptrs, panel, rows)

    def _pack_a_scalar(self, b: ir.IRBuilder, k0, kc, ptrs, panel, rows) -> None:
        with _loop(b, k0, kc, 1, "ka") as k:
            d = _gep(b, panel, b.mul(k, _i64(self.cfg.mr)))
            for r, src in enumerate(ptrs):
                v = b.load(_gep(b, src, k), typ=F32, align=4)
                if rows is not None:
                    v = b.select(b.icmp_signed("<", _i64(r), rows), v, ir.Constant(F32, 0.0))
                b.store(v, _gep(b, d, r), align=4)

    def _pack_a_vector(self, b: ir.IRBuilder, kend, ptrs, panel) -> None:
        """k in [0, kend), a multiple of vl: load vl k-values of each row, transpose in registers and
        store vl rows of MR floats (masked). ~5x faster than scalar copies, which matters when
        threads that split N each pack all of A."""
        cfg = self.cfg
        mask = ir.Constant(self.mty, [i < cfg.mr for i in range(cfg.vl)])
        with _loop(b, 0, kend, cfg.vl, "kav") as k:
            undef = ir.Constant(self.vty, ir.Undefined)
            vecs = [self._vload(b, _gep(b, src, k)) for src in ptrs] + [undef] * (cfg.vl - cfg.mr)
            d = _gep(b, panel, b.mul(k, _i64(cfg.mr)))
            for t, v in enumerate(self._transpose(b, vecs)):
                if cfg.mr == cfg.vl:
                    b.store(v, _gep(b, d, t * cfg.mr), align=4)
                else:
                    self._masked_store(b, v, _gep(b, d, t * cfg.mr), mask)

    def _transpose(self, b: ir.IRBuilder, rows: list[ir.Value]) -> list[ir.Value]:
        """Transpose a vl x vl block: log2(vl) rounds of zipping row i with row i + vl/2 (x86: vpermt2ps)."""
        n = len(rows)
        if n & (n - 1):
            raise ValueError("vl must be a power of two")
        lo = ir.Constant(ir.VectorType(I32, n), [i // 2 + (n if i % 2 else 0) for i in range(n)])
        hi = ir.Constant(ir.VectorType(I32, n), [n // 2 + i // 2 + (n if i % 2 else 0) for i in range(n)])
        for _ in range(n.bit_length() - 1):
            nxt = []
            for i in range(n // 2):
                x, y = rows[i], rows[i + n // 2]
                nxt += [b.shuffle_vector(x, y, lo), b.shuffle_vector(x, y, hi)]
            rows = nxt
        return rows

    # --- loop nest --------------------------------------------------------------------------------
    def macro(self, ukernel: ir.Function) -> ir.Function:
        """macro(kc, mc, nc, apack, bpack, C, ldc, acc: i1): C[0:mc, 0:nc] (+)= packed A @ packed B."""
        cfg = self.cfg
        fn, b = self._func("st_gemm_macro", [I64, I64, I64, PTR, PTR, PTR, I64, I1])
        kc, mc, nc, apack, bpack, c, ldc, acc = fn.args
        with _loop(b, 0, nc, cfg.nr, "jr") as jr:
            nr = _min(b, _i64(cfg.nr), b.sub(nc, jr))
            bp, cj = _gep(b, bpack, b.mul(jr, kc)), _gep(b, c, jr)
            with _loop(b, 0, mc, cfg.mr, "ir") as i:
                mr = _min(b, _i64(cfg.mr), b.sub(mc, i))
                args = [kc, _gep(b, apack, b.mul(i, kc)), bp, _gep(b, cj, b.mul(i, ldc)), ldc, acc, mr, nr]
                b.call(ukernel, args)
        b.ret_void()
        return fn

    def gemm_one(self, macro: ir.Function, pack_a: ir.Function, pack_b: ir.Function) -> ir.Function:
        """gemm_one(M, N, K, A, lda, B, ldb, C, ldc, acc: i1, apack, bpack): one matrix product."""
        cfg = self.cfg
        fn, b = self._func("st_gemm_one", [I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, I1, PTR, PTR])
        m, n, k, a, lda, bm, ldb, c, ldc, acc, apack, bpack = fn.args
        with _loop(b, 0, n, cfg.nc, "jc") as jc:
            nc = _min(b, _i64(cfg.nc), b.sub(n, jc))
            # pc runs at least once, so that K == 0 still stores C = 0 (or leaves C with accumulate)
            blocks = b.sdiv(b.add(k, _i64(cfg.kc - 1)), _i64(cfg.kc))
            steps = b.add(blocks, b.zext(b.icmp_signed("==", k, _i64(0)), I64))
            with _loop(b, 0, steps, 1, "pc") as step:
                pc = b.mul(step, _i64(cfg.kc))
                kc = _min(b, _i64(cfg.kc), b.sub(k, pc))
                acc_pc = b.or_(acc, b.icmp_signed(">", step, _i64(0)))  # later K blocks add to the first
                b.call(pack_b, [kc, nc, _gep(b, _gep(b, bm, b.mul(pc, ldb)), jc), ldb, bpack])
                with _loop(b, 0, m, cfg.mc, "ic") as ic:
                    mc = _min(b, _i64(cfg.mc), b.sub(m, ic))
                    b.call(pack_a, [kc, mc, _gep(b, _gep(b, a, b.mul(ic, lda)), pc), lda, apack])
                    b.call(macro, [kc, mc, nc, apack, bpack, _gep(b, _gep(b, c, b.mul(ic, ldc)), jc), ldc, acc_pc])
        b.ret_void()
        return fn

    def entry(self, one: ir.Function) -> ir.Function:
        fn, b = self._func(ENTRY, [I64, I64, I64, I64, PTR, I64, I64, PTR, I64, I64, PTR, I64, I64, I32, PTR], False)
        batch, m, n, k, a, lda, sa, bm, ldb, sb, c, ldc, sc, acc, work = fn.args
        apack = work
        bpack = _gep(b, work, _round_up(self.cfg.mc * self.cfg.kc, 16))
        acc1 = b.icmp_signed("!=", acc, ir.Constant(I32, 0))
        with _loop(b, 0, batch, 1, "batch") as i:
            ptrs = [_gep(b, p, b.mul(i, s)) for p, s in ((a, sa), (bm, sb), (c, sc))]
            b.call(one, [m, n, k, ptrs[0], lda, ptrs[1], ldb, ptrs[2], ldc, acc1, apack, bpack])
        b.ret_void()
        return fn

    def build(self) -> ir.Module:
        one = self.gemm_one(self.macro(self.ukernel()), self.pack_a(), self.pack_b())
        self.entry(one)
        return self.m


def build_module(cfg: GemmConfig | None = None) -> ir.Module:
    """The st_sgemm module for `cfg` (no triple/data layout: compile_gemm sets them)."""
    return _Gen(cfg or GemmConfig()).build()


# --- compilation --------------------------------------------------------------------------------
@functools.cache
def _init_llvm() -> None:
    # llvm.initialize() raises in llvmlite 0.50; the native target initializers are what is needed.
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


def target_machine(cfg: GemmConfig) -> llvm.TargetMachine:
    _init_llvm()
    cpu = cfg.cpu or llvm.get_host_cpu_name()
    features = cfg.features or llvm.get_host_cpu_features().flatten()
    # No "-prefer-256-bit" needed: that tuning only steers the vectorizers; explicit <16 x float>
    # IR stays in zmm registers (checked for skylake-avx512, whose tuning sets it).
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=cpu, features=features, opt=3)


def optimize(ir_text: str, tm: llvm.TargetMachine) -> llvm.ModuleRef:
    from spiraltorch.codegen.mathlib import run_o3

    mod = llvm.parse_assembly(ir_text)
    mod.verify()
    # The hot loops are explicit vector IR already; the loop vectorizer would only turn the scalar
    # edge/tail packing loops into slow scatters.
    run_o3(mod, tm, vectorize=False)
    return mod


def emit_assembly(cfg: GemmConfig | None = None) -> str:
    """Assembly of the kernel, for inspection (the k loop: zmm FMAs, broadcasts, no stack traffic)."""
    cfg = cfg or GemmConfig()
    tm = target_machine(cfg)
    return tm.emit_assembly(optimize(_module_text(cfg, tm), tm))


def _module_text(cfg: GemmConfig, tm: llvm.TargetMachine) -> str:
    mod = build_module(cfg)
    mod.triple = llvm.get_process_triple()
    mod.data_layout = str(tm.target_data)
    return str(mod)


_SIG = ctypes.CFUNCTYPE(
    None, *([ctypes.c_int64] * 4), *([ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64] * 3), ctypes.c_int32,
    ctypes.c_void_p,
)  # fmt: skip


# --- driver ---------------------------------------------------------------------------------------
class Call(NamedTuple):
    """Arguments of one st_sgemm call (without the workspace): sizes, then (byte address, leading
    dimension, batch stride) of A, B and C, the latter two in elements, then the accumulate flag."""

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
    acc: int

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.n * self.k


@dataclass
class GemmKernel:
    """A compiled st_sgemm plus its driver. The function lives as long as this object (its engine)."""

    cfg: GemmConfig
    compile_seconds: float
    _engine: llvm.ExecutionEngine
    fn_addr: int  # address of st_sgemm
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
                 threads: int | None = None) -> np.ndarray:  # fmt: skip
        """out (+)= a @ b for 2-D or batched 3-D float32 arrays; a 2-D operand broadcasts over the
        batch. Operands whose rows are not contiguous are copied first; `out` must have contiguous rows."""
        a, b = _rows(a), _rows(b)
        out = _output(a, b, out, accumulate)
        run_parallel(self, describe(a, b, out, accumulate), default_threads() if threads is None else threads)
        return out


def _aligned_floats(n: int) -> tuple[np.ndarray, int]:
    """A float32 buffer of n elements and its 64-byte aligned address."""
    buf = np.empty(n + 16, np.float32)
    return buf, buf.ctypes.data + (-buf.ctypes.data) % 64


def compile_gemm(cfg: GemmConfig | None = None) -> GemmKernel:
    """Generate, optimize and JIT-compile st_sgemm for `cfg` (default: GemmConfig(), host target)."""
    cfg = cfg or GemmConfig()
    t0 = time.perf_counter()
    tm = target_machine(cfg)
    engine = llvm.create_mcjit_compiler(optimize(_module_text(cfg, tm), tm), tm)
    engine.finalize_object()
    addr = engine.get_function_address(ENTRY)
    return GemmKernel(cfg, time.perf_counter() - t0, engine, addr, _SIG(addr))


@functools.cache
def default_kernel() -> GemmKernel:
    return compile_gemm()


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, *, accumulate: bool = False,
           threads: int | None = None) -> np.ndarray:  # fmt: skip
    """out (+)= a @ b with the default host kernel (compiled on first use, ~0.25 s)."""
    return default_kernel()(a, b, out, accumulate=accumulate, threads=threads)


@functools.cache
def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _rows(x: np.ndarray) -> np.ndarray:
    if x.dtype != np.float32 or x.ndim not in (2, 3):
        raise TypeError(f"expected a 2-D or 3-D float32 array, got {x.dtype} {x.shape}")
    return x if x.strides[-1] == 4 and all(s % 4 == 0 for s in x.strides) else np.ascontiguousarray(x)


def _output(a: np.ndarray, b: np.ndarray, out: np.ndarray | None, accumulate: bool) -> np.ndarray:
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
    if out.shape != shape or out.dtype != np.float32 or out.strides[-1] != 4 or any(s % 4 for s in out.strides):
        raise ValueError(f"out must be float32 {shape} with contiguous rows, got {out.dtype} {out.shape}")
    if out.ndim == 3 and out.shape[0] > 1 and out.strides[0] == 0:
        raise ValueError("out must not broadcast over the batch")
    return out


def _mat(x: np.ndarray) -> tuple[int, int, int]:
    """(address, leading dimension, batch stride); a 2-D operand gets batch stride 0 (broadcast)."""
    return x.ctypes.data, x.strides[-2] // 4, x.strides[0] // 4 if x.ndim == 3 else 0


def describe(a: np.ndarray, b: np.ndarray, out: np.ndarray, accumulate: bool) -> Call:
    """The st_sgemm call computing out (+)= a @ b for checked arrays (see GemmKernel.__call__)."""
    batch = out.shape[0] if out.ndim == 3 else 1
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    return Call(batch, m, n, k, *_mat(a), *_mat(b), *_mat(out), int(accumulate))


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
    chunks = [call] if threads <= 1 or call.flops < PARALLEL_MIN_FLOPS else split(call, threads, kernel.cfg)
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
    return call._replace(n=hi - lo, b=call.b + 4 * lo, c=call.c + 4 * lo)


def _sub_m(call: Call, lo: int, hi: int) -> Call:
    return call._replace(m=hi - lo, a=call.a + 4 * lo * call.lda, c=call.c + 4 * lo * call.ldc)
