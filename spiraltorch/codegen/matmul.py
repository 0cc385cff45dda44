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

The Python driver (`gemm_driver.py`: `GemmKernel.__call__`, `matmul`) runs one chunk on the calling thread
and the others on persistent worker threads, through ctypes, which releases the GIL. Small products
(< PARALLEL_MIN_FLOPS) stay on the calling thread. The handoff to the workers is a spin on shared
memory in a few lines of native code (see "threading" below): waking a sleeping thread costs
~50 us on this VM, as much as a 256^3 chunk.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as ir

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


