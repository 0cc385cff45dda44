"""Float32 GEMM generated as LLVM IR (llvmlite), in a few tile variants, plus the chooser between them.

    C[M, N] = A[M, K] @ B[K, N]        (or C += A @ B with accumulate)

A, B and C are each either row-major (element (i, j) at i * ld + j) or column-major (at i + j * ld: the transpose
of a row-major matrix, e.g. the `x.T` views autodiff produces) with explicit leading dimensions (lda, ldb, ldc, in
elements). So the same kernel serves sub-matrices, strided and transposed views and batches (batch strides sa,
sb, sc; a batch stride of 0 broadcasts one operand over the batch) without copies.

The design is the BLIS/GotoBLAS one:

* B is packed, KC rows at a time, into panels of NR columns (each panel k-major: NR contiguous floats per k), A
  into panels of MR rows (MR contiguous floats per k). Packing makes every microkernel load sequential and
  aligned and removes the cache-set conflicts of large power-of-two leading dimensions. The packing routines
  read either layout: a row-major A and a column-major B go through in-register transposes (vl x vl blocks), a
  column-major A and a row-major B are plain vector copies. Padding rows/columns of edge panels are never stored.
* The microkernel keeps an MR x NR tile of C in MR * NR/VL vector registers and, per k, does MR broadcasts of A
  times NR/VL vector loads of B. It is written as explicit `<VL x float>` IR with `llvm.fma`, not left to the
  auto-vectorizer. Edge tiles compute a full tile and store it with masked stores, row by row; a column-major C
  gets each tile transposed in registers (vl x vl blocks) and stored column by column.
* Loops, outermost first: batch, jc (NC columns of B), pc (K in blocks of at most KC, of equal depth: pack B),
  ic (MC rows of A: pack A, which then stays in L2), jr (one KC x NR panel of B), ir (one KC x MR panel of A,
  which fits in L1) -> microkernel.
* Packing is skipped where it costs more than it saves (the call's flags ask, `Plan` decides): with N in one or
  a few panels each element of A is used by one or a few microkernel calls, and packing it costs more than
  reading it in place (for N = 10 the transposing pack of a row-major A takes longer than the FMAs); with M in
  one or two tiles, the same holds for B. A read in place is broadcast straight from either layout (the FMAs
  take the elements as memory operands; only a bottom edge tile, whose missing rows must not be read, goes
  through a packed panel); a row-major B read in place is loaded with masked vector loads.

Variants (`VARIANTS`: tile shapes) are separate exported functions with the same C ABI (sizes, strides and
leading dimensions are int64 element counts):

    void st_sgemm[_variant](batch, M, N, K, A, lda, sa, B, ldb, sb, C, ldc, sc, int32 flags, float *work)

flags: FLAG_ACC (C += A @ B), FLAG_TRANS_A/B/C (that matrix is column-major), FLAG_DIRECT_A/B (read that operand
in place). `choose` is the one place that says which variant and flags a product uses (and whether it runs as
C^T = B^T A^T); compiled programs (kernels/linalg.py) and the Python driver (gemm_driver.matmul) both ask it.
`work` is the caller's scratch of `GemmConfig.workspace_floats` floats (or `workspace_for` the product's sizes),
64-byte aligned; each thread needs its own. The same entry computes any block of C: offset the pointers (C by m0
rows and n0 columns, A by m0 rows, B by n0 columns, in each one's layout, all three by b0 batch entries) and
shrink the sizes; `gemm_driver.sub_call` does that, and `gemm_driver.split` uses it to cut a call into
independent chunks, one per thread.

The Python driver (`gemm_driver.py`: `GemmKernel.__call__`, `matmul`) runs one chunk on the calling thread
and the others on persistent worker threads, through ctypes, which releases the GIL. Small products
(< PARALLEL_MIN_FLOPS) stay on the calling thread. The handoff to the workers is a spin on shared
memory in a few lines of native code: waking a sleeping thread costs ~50 us on this VM, as much as a 256^3 chunk.
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

ENTRY = "st_sgemm"  # the default variant's symbol
FLAG_ACC = 1  # C += A @ B instead of C = A @ B
FLAG_TRANS_A = 2  # A is column-major: A[i, k] at A + i + k * lda
FLAG_TRANS_B = 4  # B is column-major: B[k, j] at B + k + j * ldb
FLAG_DIRECT_A = 8  # read A in place instead of packing it (where the variant can: GemmConfig.direct_a)
FLAG_DIRECT_B = 16  # read B in place instead of packing it (where the variant can: GemmConfig.direct_b)
FLAG_TRANS_C = 32  # C is column-major: C[i, j] at C + i + j * ldc (variants with GemmConfig.trans_c only)
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
    balance_k: bool = True  # split K into blocks of equal depth (<= kc) rather than kc, kc, ..., rest
    trans_c: bool = True  # can store a column-major C (FLAG_TRANS_C: tiles transposed in registers)
    # layouts of A ("row", "col") and B ("row") the microkernel can read in place, unpacked, when the call's
    # flags ask for it (FLAG_DIRECT_A, FLAG_DIRECT_B); other layouts are packed regardless
    direct_a: tuple[str, ...] = ("row", "col")
    direct_b: tuple[str, ...] = ("row",)
    symbol: str = ENTRY  # the exported function
    cpu: str = ""  # LLVM cpu name; "" = host
    features: str = ""  # LLVM feature string; "" = host

    def __post_init__(self):
        if min(self.mr, self.nr, self.kc, self.mc, self.nc, self.vl, self.unroll) < 1:
            raise ValueError(f"tile sizes must be positive: {self}")
        if self.nr % self.vl:
            raise ValueError(f"nr must be a multiple of vl: {self}")
        if not self.symbol.isidentifier():
            raise ValueError(f"symbol must be a C identifier: {self}")
        if not set(self.direct_a) <= {"row", "col"} or not set(self.direct_b) <= {"row"}:
            raise ValueError(f"direct_a takes 'row'/'col', direct_b 'row': {self}")
        # the macro loops step by whole tiles: round the cache blocks up to tile multiples
        object.__setattr__(self, "mc", _round_up(self.mc, self.mr))
        object.__setattr__(self, "nc", _round_up(self.nc, self.nr))

    @property
    def workspace_floats(self) -> int:
        # a slot for one tile (edge and column-major stores), the packed A block (with A read in place: an edge
        # panel), the packed B block; each a multiple of 16 floats, so that the B block (aligned loads) starts
        # 64-byte aligned
        return self._b_offset + self.nc * self.kc

    def workspace_for(self, m: int, n: int, k: int) -> int:
        """Floats of workspace enough for products of at most m x n x k (the packed B block shrinks to N x K)."""
        return self._b_offset + _round_up(min(n, self.nc), self.nr) * min(k, self.kc)

    @property
    def _spill_floats(self) -> int:
        return _round_up(self.mr * self.nr, 16)

    @property
    def _b_offset(self) -> int:
        return self._spill_floats + _round_up(self.mc * self.kc, 16)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


# --- variants and the chooser -------------------------------------------------------------------------
DEFAULT = GemmConfig()  # 6 x 64: the general tile; A or B may be read in place, C may be column-major
# N <= 16 (and 32 < N <= 48): a 16 x 16 tile (16 accumulators, FMAs with broadcast memory operands), A read in
# place; KC = 512 keeps the K of W6's products in one block (32 KiB of packed B)
N16 = GemmConfig(mr=16, nr=16, kc=512, mc=64, nc=16, direct_b=(), trans_c=False, symbol="st_sgemm_n16")
# 16 < N <= 32 with A read in place; and the small-M side (M' = N <= 12, B' = A^T read in place, C^T stored
# column-major) of small-N products whose A is column-major
N32 = GemmConfig(mr=12, nr=32, kc=512, mc=48, nc=2048, symbol="st_sgemm_n32")
VARIANTS: dict[str, GemmConfig] = {c.symbol: c for c in (DEFAULT, N16, N32)}


@dataclass(frozen=True)
class Plan:
    """How one product runs: the variant (tile shape, its exported function), which operands are read in place
    instead of packed (flags FLAG_DIRECT_A / FLAG_DIRECT_B of the call), and whether it runs as C^T = B^T A^T
    (swap: M and N, A and B exchanged, the transposed views passed, C^T stored column-major)."""

    cfg: GemmConfig
    direct_a: bool = False
    direct_b: bool = False
    swap: bool = False

    @property
    def symbol(self) -> str:
        return self.cfg.symbol

    @property
    def flags(self) -> int:
        return FLAG_DIRECT_A * self.direct_a | FLAG_DIRECT_B * self.direct_b


def choose(m: int, n: int, k: int, trans_a: bool = False, trans_b: bool = False) -> Plan:
    """The plan for an M x N x K product (per batch entry, or per thread's band of columns) with A / B column-major
    when trans_a / trans_b: the one place that decides, for compiled programs and the Python driver alike.

    Measured (2-core AVX-512 VM, 1 thread, the kernel alone: median thread CPU time in us, GFLOP/s in
    parentheses; "A"/"B": that operand read in place; "T": run as C^T = B^T A^T; * = chosen):

    | product                  | candidates                                                       |
    |--------------------------|------------------------------------------------------------------|
    | (256,512)@(512,10)       | 6x64 120 (22), 16x16 A* 33 (79), 12x32 A 52 (50), T 12x32 B 43  |
    | (512,256)@(256,10), A^T  | 6x64 133 (20), 16x16 A 42 (63), T 6x64 B 33, T 12x32 B* 26 (99)  |
    | (512,256)@(256,4), A^T   | 16x16 A 41 (25), T 6x64 B* 17 (61), T 12x32 B 25 (41)            |
    | (256,512)@(512,16)       | 6x64 122 (34), 16x16 A* 31 (133), 12x32 A 51 (82)                |
    | (256,512)@(512,24)       | 6x64 A 99 (64), 16x16 A 59 (107), 12x32 A* 52 (120)              |
    | (256,512)@(512,48)       | 6x64 A 101 (125), 16x16 A* 93 (135), 12x32 A 105 (120)           |
    | (256,512)@(512,64)       | 6x64 127 (132), 6x64 A* 107 (156), 12x32 A 109 (154)             |
    | (256,512)@(512,192)      | 6x64 340 (148), 6x64 A* 328 (154)                                |
    | (256,512)@(512,512)      | 6x64* 903 (149), 6x64 A 875 (153)                                |
    | (1024,1024)@(1024,1024)  | 6x64* 13364 (161), 6x64 A 15401 (139)                            |
    | (10,256)@(256,512)       | 6x64 34 (78), 6x64 B* 22 (117), 12x32 A 34 (77)                  |
    | (10,512)@(512,784)       | 6x64 144 (56), 6x64 B* 114 (70)                                  |
    | (36,256)@(256,512)       | 6x64 67 (140), 6x64 B* 63 (151)                                  |
    | (48,256)@(256,512)       | 6x64* 94 (134), 6x64 B 96 (131)                                  |

    Small N: the 6x64 tile wastes 64 - N of its columns and packs all of A for one panel. With a column-major A
    (h.T @ g in a backward pass) reading A in place by 16-row slivers strides through memory; C^T = B^T A^T
    reads A^T row by row instead, with a tile that holds all N rows. Reading A in place also beats packing it up
    to N = 256 (few panels reuse it), reading B in place up to M = 36; packing wins for big products.
    """
    if trans_a and n <= 12 and m > n:
        return Plan(DEFAULT if n <= 6 else N32, direct_b=True, swap=True)
    if n <= 16 or 32 < n <= 48:
        return Plan(N16, direct_a=True)
    if n <= 32:
        return Plan(N32, direct_a=True)
    if m <= 36:
        return Plan(DEFAULT, direct_b=True)
    if n <= 256:
        return Plan(DEFAULT, direct_a=True)
    return Plan(DEFAULT)


# --- IR helpers ----------------------------------------------------------------------------------
def _i64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def _gep(b: ir.IRBuilder, ptr: ir.Value, idx) -> ir.Value:
    idx = _i64(idx) if isinstance(idx, int) else idx
    return b.gep(ptr, [idx], source_etype=F32)


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


def _mul(b: ir.IRBuilder, x: ir.Value, c: int) -> ir.Value:
    return b.mul(x, _i64(c)) if c != 1 else x


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


def _either(b: ir.IRBuilder, cond: ir.Value, when_true, when_false) -> None:
    """if (cond) when_true() else when_false(): emits both calls."""
    with b.if_else(cond) as (then, otherwise):
        with then:
            when_true()
        with otherwise:
            when_false()


# The microkernel's operand sources: A packed ("p"), A in place row-major ("r") or column-major ("c"); B is
# always packed.
A_MODES = ("p", "r", "c")


class _Gen:
    """Emits the functions of one variant (GemmConfig) into a module; `entry` is the exported one."""

    def __init__(self, cfg: GemmConfig, module: ir.Module | None = None):
        self.cfg = cfg
        self.m = module if module is not None else ir.Module(name="spiraltorch.matmul")
        self.prefix = cfg.symbol
        vl = cfg.vl
        self.vty = ir.VectorType(F32, vl)
        self.mty = ir.VectorType(I1, vl)
        self.nv = cfg.nr // vl  # vectors per tile row
        self.fma = self._intrinsic(f"llvm.fma.v{vl}f32", ir.FunctionType(self.vty, [self.vty] * 3))
        # old (pre-LLVM 22) signatures with an explicit alignment argument: the IR parser upgrades them
        self.mload = self._intrinsic(f"llvm.masked.load.v{vl}f32.p0",
                                     ir.FunctionType(self.vty, [PTR, I32, self.mty, self.vty]))
        self.mstore = self._intrinsic(f"llvm.masked.store.v{vl}f32.p0",
                                      ir.FunctionType(VOID, [self.vty, PTR, I32, self.mty]))
        self.prefetch = self._intrinsic("llvm.prefetch.p0", ir.FunctionType(VOID, [PTR, I32, I32, I32]))
        self.zero = ir.Constant(self.vty, None)
        self.lanes = ir.Constant(ir.VectorType(I64, vl), list(range(vl)))
        self._fns: dict[str, ir.Function] = {}

    def _intrinsic(self, name: str, fnty: ir.FunctionType) -> ir.Function:
        existing = self.m.globals.get(name)
        return existing if existing is not None else ir.Function(self.m, fnty, name)

    # small emitters
    def _func(self, name: str, args: list[ir.Type], internal: bool = True) -> tuple[ir.Function, ir.IRBuilder]:
        fn = ir.Function(self.m, ir.FunctionType(VOID, args), name if not internal else f"{self.prefix}.{name}")
        if internal:
            # Not inlined: the routines are called from several branches (layouts, packing modes), and
            # inlining would copy each one per call site (compile time); a call costs nothing next to the work
            # of one microkernel tile or packing block.
            fn.linkage = "internal"
            fn.attributes.add("noinline")
        fn.attributes.add("nounwind")
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def _cached(self, key: str, build) -> ir.Function:
        if key not in self._fns:
            self._fns[key] = build()
        return self._fns[key]

    def _vload(self, b: ir.IRBuilder, ptr: ir.Value, align: int = 4) -> ir.Value:
        return b.load(ptr, typ=self.vty, align=align)

    def _broadcast(self, b: ir.IRBuilder, x: ir.Value, vty: ir.VectorType) -> ir.Value:
        v = b.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(I32, 0))
        return b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, vty.count), None))

    def _lane_mask(self, b: ir.IRBuilder, count: ir.Value) -> ir.Value:
        """<vl x i1> with lanes [0, count) set (count may be <= 0 or >= vl)."""
        return b.icmp_signed("<", self.lanes, self._broadcast(b, count, ir.VectorType(I64, self.cfg.vl)))

    def _const_mask(self, count: int) -> ir.Constant:
        return ir.Constant(self.mty, [i < count for i in range(self.cfg.vl)])

    def _masked_load(self, b: ir.IRBuilder, ptr: ir.Value, mask: ir.Value) -> ir.Value:
        return b.call(self.mload, [ptr, ir.Constant(I32, 4), mask, self.zero])

    def _masked_store(self, b: ir.IRBuilder, v: ir.Value, ptr: ir.Value, mask: ir.Value) -> None:
        b.call(self.mstore, [v, ptr, ir.Constant(I32, 4), mask])

    # --- microkernel ----------------------------------------------------------------------------
    def ukernel(self, amode: str, bmode: str) -> ir.Function:
        """ukernel(kc, a, lda, b, ldb, c, ldc, accumulate: i1, mr, nr, trans_c: i1, spill): C tile (+)= A @ B.
        amode "p": `a` is a packed panel (lda unused); "r"/"c": `a` points at A[i0, k0] of a row-/column-major
        A with leading dimension lda, and the tile has all MR rows (mr == MR). bmode "p": `b` is a packed panel
        (ldb unused); "r": `b` points at B[k0, j0] of a row-major B (masked loads past column nr)."""
        return self._cached(f"uk{amode}{bmode}", lambda: self._ukernel(amode, bmode))

    def _ukernel(self, amode: str, bmode: str) -> ir.Function:
        cfg = self.cfg
        fn, b = self._func(f"ukernel_{amode}{bmode}", [I64, PTR, I64, PTR, I64, PTR, I64, I1, I64, I64, I1, PTR])
        # inlined into its macro loop (one or two call sites): a call per tile costs ~1-2% of a 6x64x256 tile
        fn.attributes.discard("noinline")
        fn.attributes.add("alwaysinline")
        # spill: the workspace's tile slot (an alloca instead makes LLVM spill the 12x32 accumulators in the k
        # loop)
        kc, pa, lda, pb, ldb, pc, ldc, acc, mr, nr, tc, spill = fn.args
        if cfg.prefetch_c:
            with _if(b, b.not_(tc), "prefetch"):
                self._prefetch_tile(b, pc, ldc)
        if amode == "p":
            a_elem = lambda b, p, s, r: _gep(b, p, s * cfg.mr + r)  # noqa: E731
            a_step = cfg.mr
        elif amode == "r":
            rows = [_mul(b, lda, r) for r in range(cfg.mr)]  # loop invariant
            a_elem = lambda b, p, s, r: _gep(b, _gep(b, p, rows[r]), s)  # noqa: E731
            a_step = 1
        else:
            a_elem = lambda b, p, s, r: _gep(b, _gep(b, p, _mul(b, lda, s)), r)  # noqa: E731
            a_step = lda
        if bmode == "p":
            def b_vec(b, p, s, j):
                return self._vload(b, _gep(b, p, s * cfg.nr + j * cfg.vl), 4 * cfg.vl)
            b_step = cfg.nr
        else:
            masks = [self._lane_mask(b, b.sub(nr, _i64(j * cfg.vl))) for j in range(self.nv)]

            def b_vec(b, p, s, j):
                return self._masked_load(b, _gep(b, _gep(b, p, _mul(b, ldb, s)), j * cfg.vl), masks[j])
            b_step = ldb
        accs = [self.zero] * (cfg.mr * self.nv)
        u = cfg.unroll
        ops = (a_elem, a_step, b_vec, b_step)
        accs, pa, pb = self._kloop(b, accs, pa, pb, b.sdiv(kc, _i64(u)), u, ops, "kmain")
        accs, _, _ = self._kloop(b, accs, pa, pb, b.srem(kc, _i64(u)), 1, ops, "ktail")
        full = b.and_(b.icmp_signed("==", mr, _i64(cfg.mr)), b.icmp_signed("==", nr, _i64(cfg.nr)))

        def through_slot(routine: ir.Function):
            # edge tiles and column-major C: the tile goes through the workspace's slot to one shared store
            # routine per variant (inlined copies in every microkernel would double the module's compile time)
            def emit():
                for i, v in enumerate(accs):
                    b.store(v, b.gep(spill, [_i64(i)], source_etype=self.vty), align=4 * cfg.vl)
                b.call(routine, [spill, pc, ldc, acc, mr, nr])
            return emit

        def row_major():
            _either(b, full, lambda: self._store_full(b, accs, pc, ldc, acc), through_slot(self.store_edge()))

        if cfg.trans_c:
            _either(b, tc, through_slot(self.store_t()), row_major)
        else:
            row_major()
        b.ret_void()
        return fn

    def store_edge(self) -> ir.Function:
        """store_edge(tile, C, ldc, acc: i1, mr, nr): C[0:mr, 0:nr] (+)= the MR x NR tile at `tile` (row-major C)."""
        return self._cached("store_edge", self._store_edge_fn)

    def _store_edge_fn(self) -> ir.Function:
        fn, b = self._func("store_edge", [PTR, PTR, I64, I1, I64, I64])
        tile, c, ldc, acc, mr, nr = fn.args
        accs = [b.load(b.gep(tile, [_i64(i)], source_etype=self.vty), typ=self.vty, align=4 * self.cfg.vl)
                for i in range(self.cfg.mr * self.nv)]
        self._store_edge(b, accs, c, ldc, acc, mr, nr)
        b.ret_void()
        return fn

    def store_t(self) -> ir.Function:
        """store_t(tile, C, ldc, acc: i1, mr, nr): C^T (+)= the MR x NR tile (MR * NR/VL vectors at `tile`, row by
        row) for a column-major C: element (r, t) of the tile goes to C + r + t * ldc, for r < mr, t < nr.
        Per vl x vl block: a transpose, then one masked store of mr floats per C column."""
        return self._cached("store_t", self._store_t)

    def _store_t(self) -> ir.Function:
        cfg, vl = self.cfg, self.cfg.vl
        fn, b = self._func("store_t", [PTR, PTR, I64, I1, I64, I64])
        tile, c, ldc, acc, mr, nr = fn.args
        acc_v = self._broadcast(b, acc, self.mty)
        for g in range(-(-cfg.mr // vl)):  # groups of vl tile rows
            nrow = min(vl, cfg.mr - g * vl)
            mask = self._lane_mask(b, b.sub(mr, _i64(g * vl)))
            with _loop(b, 0, self.nv, 1, f"v{g}") as v:  # vl-column blocks of the tile
                rows = [b.load(b.gep(tile, [b.add(_i64((g * vl + r) * self.nv), v)], source_etype=self.vty),
                               typ=self.vty, align=4 * vl) for r in range(nrow)]
                rows += [self.zero] * (vl - nrow)
                for t, x in enumerate(self._transpose(b, rows)):
                    col = b.add(b.mul(v, _i64(vl)), _i64(t))
                    with _if(b, b.icmp_signed("<", col, nr), f"st{g}_{t}"):
                        p = _gep(b, c, b.add(b.mul(col, ldc), _i64(g * vl)))
                        old = self._masked_load(b, p, b.and_(mask, acc_v))
                        self._masked_store(b, b.fadd(x, old), p, mask)
        b.ret_void()
        return fn

    def _prefetch_tile(self, b: ir.IRBuilder, pc: ir.Value, ldc: ir.Value) -> None:
        # one prefetch per 64-byte line of the tile (write intent, keep in L1), so that the C rows
        # (ldc apart, often not in any cache) arrive while the k loop runs. Prefetches never
        # fault, so edge tiles may name lines past the matrix.
        for r in range(self.cfg.mr):
            row = _gep(b, pc, _mul(b, ldc, r))
            for line in range(0, self.cfg.nr, 16):
                args = [_gep(b, row, line), ir.Constant(I32, 1), ir.Constant(I32, 3), ir.Constant(I32, 1)]
                b.call(self.prefetch, args)

    def _kloop(self, b: ir.IRBuilder, accs, pa, pb, count, steps: int, ops, name: str):
        """`count` iterations of `steps` rank-1 updates; returns the accumulators and advanced pointers.
        The accumulators are loop phis, so they live in registers for the whole loop. ops = (a_elem, a_step,
        b_vec, b_step): a_elem(b, pa, s, r) is the address of A's element in row r, k-step s, b_vec(b, pb, s, j)
        loads B's vector j of k-step s; pa and pb advance by a_step and b_step (ints or values) per k-step."""
        cfg = self.cfg
        a_elem, a_step, b_vec, b_step = ops
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
            bv = [b_vec(b, b_ptr, s, j) for j in range(self.nv)]
            for r in range(cfg.mr):
                av = self._broadcast(b, b.load(a_elem(b, a_ptr, s, r), typ=F32, align=4), self.vty)
                for j in range(self.nv):
                    new[r * self.nv + j] = b.call(self.fma, [av, bv[j], new[r * self.nv + j]])

        def advance(ptr, step):
            return _gep(b, ptr, _i64(steps * step) if isinstance(step, int) else _mul(b, step, steps))

        nexts = [b.sub(n, _i64(1)), *new, advance(a_ptr, a_step), advance(b_ptr, b_step)]
        for phi, v in zip([n, *phis, a_ptr, b_ptr], nexts, strict=True):
            phi.add_incoming(v, body)
        b.branch(head)
        b.position_at_end(done)
        return phis, a_ptr, b_ptr

    def _store_full(self, b: ir.IRBuilder, accs, pc, ldc, acc) -> None:
        # separate store paths, so that `C = A @ B` never reads C
        def store(add: bool) -> None:
            for r in range(self.cfg.mr):
                row = _gep(b, pc, _mul(b, ldc, r))
                for j in range(self.nv):
                    p = _gep(b, row, j * self.cfg.vl)
                    v = accs[r * self.nv + j]
                    b.store(b.fadd(v, self._vload(b, p)) if add else v, p, align=4)

        _either(b, acc, lambda: store(True), lambda: store(False))

    def _store_edge(self, b: ir.IRBuilder, accs, pc, ldc, acc, mr, nr) -> None:
        # Columns past nr are masked off; the old C is loaded only when accumulating (mask & acc),
        # otherwise the masked load yields zeros. Rows past mr are skipped.
        masks = [self._lane_mask(b, b.sub(nr, _i64(j * self.cfg.vl))) for j in range(self.nv)]
        acc_v = self._broadcast(b, acc, self.mty)
        for r in range(self.cfg.mr):
            with _if(b, b.icmp_signed("<", _i64(r), mr), f"row{r}"):
                row = _gep(b, pc, _mul(b, ldc, r))
                for j in range(self.nv):
                    p = _gep(b, row, j * self.cfg.vl)
                    old = self._masked_load(b, p, b.and_(masks[j], acc_v))
                    self._masked_store(b, b.fadd(accs[r * self.nv + j], old), p, masks[j])

    # --- packing --------------------------------------------------------------------------------
    # Padding rows/columns of edge panels hold copies of the last valid row/column instead of zeros: row r of a
    # C tile depends only on row r of the A panel, column j only on column j of the B panel, and the edge
    # stores drop the padding rows and columns. One code path per routine keeps the module small (the JIT
    # compiles every variant at first use).
    def pack_b(self, trans: bool) -> ir.Function:
        """pack_b(kc, nc, B, ldb, dst): B[0:kc, 0:nc] -> NR-column panels, k-major. Row-major B (trans False):
        vector copies; column-major B: vl x vl in-register transposes."""
        return self._cached(f"pb{trans}", lambda: self._pack_b(trans))

    def _pack_b(self, trans: bool) -> ir.Function:
        cfg = self.cfg
        fn, b = self._func("pack_b_col" if trans else "pack_b_row", [I64, I64, PTR, I64, PTR])
        kc, nc, src, ldb, dst = fn.args
        with _loop(b, 0, nc, cfg.nr, "j0") as j0:
            cols = b.sub(nc, j0)
            panel, col0 = _gep(b, dst, b.mul(j0, kc)), _gep(b, src, b.mul(j0, ldb) if trans else j0)
            (self._pack_b_panel_t if trans else self._pack_b_panel)(b, kc, col0, ldb, panel, cols)
        b.ret_void()
        return fn

    def _pack_b_panel(self, b: ir.IRBuilder, kc, col0, ldb, panel, cols) -> None:
        # row-major B: NR floats per k; edge panels use masked loads (zeros past the last column)
        cfg = self.cfg

        def body(masks) -> None:
            with _loop(b, 0, kc, 1, "kb") as k:
                s, d = _gep(b, col0, b.mul(k, ldb)), _gep(b, panel, b.mul(k, _i64(cfg.nr)))
                for j in range(self.nv):
                    sp = _gep(b, s, j * cfg.vl)
                    v = self._vload(b, sp) if masks is None else self._masked_load(b, sp, masks[j])
                    b.store(v, _gep(b, d, j * cfg.vl), align=4 * cfg.vl)

        _either(b, b.icmp_signed(">=", cols, _i64(cfg.nr)), lambda: body(None),
                lambda: body([self._lane_mask(b, b.sub(cols, _i64(j * cfg.vl))) for j in range(self.nv)]))

    def _pack_b_panel_t(self, b: ir.IRBuilder, kc, col0, ldb, panel, cols) -> None:
        """Column-major B: column j of the panel is contiguous in k. Per group of vl columns and vl k-values:
        vl (masked) vector loads, one per column, a transpose, and a store per k."""
        cfg, vl = self.cfg, self.cfg.vl
        with _loop(b, 0, self.nv, 1, "g") as g:
            srcs = []
            for t in range(vl):
                j = _min(b, b.add(b.mul(g, _i64(vl)), _i64(t)), b.sub(cols, _i64(1)))
                srcs.append(_gep(b, col0, b.mul(j, ldb)))
            dg = _gep(b, panel, b.mul(g, _i64(vl)))
            with _loop(b, 0, kc, vl, "kbt") as k:
                rem = b.sub(kc, k)
                mask = self._lane_mask(b, rem)
                vecs = [self._masked_load(b, _gep(b, src, k), mask) for src in srcs]
                d = _gep(b, dg, b.mul(k, _i64(cfg.nr)))
                for kk, v in enumerate(self._transpose(b, vecs)):
                    with _if(b, b.icmp_signed("<", _i64(kk), rem), f"kt{kk}"):
                        b.store(v, _gep(b, d, kk * cfg.nr), align=4 * vl)

    def pack_a(self, trans: bool) -> ir.Function:
        """pack_a(kc, mc, A, lda, dst): A[0:mc, 0:kc] -> MR-row panels, k-major. Row-major A (trans False):
        in-register transposes; column-major A: MR contiguous floats per k, copied."""
        return self._cached(f"pa{trans}", lambda: self._pack_a(trans))

    def _pack_a(self, trans: bool) -> ir.Function:
        cfg = self.cfg
        fn, b = self._func("pack_a_col" if trans else "pack_a_row", [I64, I64, PTR, I64, PTR])
        kc, mc, src, lda, dst = fn.args
        with _loop(b, 0, mc, cfg.mr, "i0") as i0:
            rows = b.sub(mc, i0)
            panel, row0 = _gep(b, dst, b.mul(i0, kc)), _gep(b, src, i0 if trans else b.mul(i0, lda))
            (self._pack_a_panel_t if trans else self._pack_a_panel)(b, kc, row0, lda, panel, rows)
        b.ret_void()
        return fn

    def _pack_a_panel_t(self, b: ir.IRBuilder, kc, row0, lda, panel, rows) -> None:
        # column-major A: A[i0:i0+MR, k] is contiguous (masked loads past the last row: zeros)
        cfg, vl = self.cfg, self.cfg.vl
        nvec = -(-cfg.mr // vl)
        load_masks = [self._lane_mask(b, b.sub(rows, _i64(v * vl))) for v in range(nvec)]
        with _loop(b, 0, kc, 1, "kat") as k:
            s, d = _gep(b, row0, b.mul(k, lda)), _gep(b, panel, b.mul(k, _i64(cfg.mr)))
            for v in range(nvec):
                x = self._masked_load(b, _gep(b, s, v * vl), load_masks[v])
                if v * vl + vl <= cfg.mr:
                    b.store(x, _gep(b, d, v * vl), align=4)
                else:
                    self._masked_store(b, x, _gep(b, d, v * vl), self._const_mask(cfg.mr - v * vl))

    def _pack_a_panel(self, b: ir.IRBuilder, kc, row0, lda, panel, rows) -> None:
        # row-major A; missing rows of an edge panel re-read the last valid row (always in bounds). Full panels
        # have their own copy of the loops, with row pointers at constant multiples of lda (fewer registers).
        _either(b, b.icmp_signed(">=", rows, _i64(self.cfg.mr)),
                lambda: self._pack_a_rows(b, kc, row0, lda, panel, None),
                lambda: self._pack_a_rows(b, kc, row0, lda, panel, rows))

    def _pack_a_rows(self, b: ir.IRBuilder, kc, row0, lda, panel, rows) -> None:
        cfg = self.cfg
        ptrs = [_gep(b, row0, b.mul(_i64(r) if rows is None else _min(b, _i64(r), b.sub(rows, _i64(1))), lda))
                for r in range(cfg.mr)]
        k0 = _i64(0)
        if cfg.mr <= cfg.vl:
            k0 = b.mul(b.sdiv(kc, _i64(cfg.vl)), _i64(cfg.vl))
            self._pack_a_vector(b, k0, ptrs, panel)
        with _loop(b, k0, kc, 1, "ka") as k:
            d = _gep(b, panel, b.mul(k, _i64(self.cfg.mr)))
            for r, src in enumerate(ptrs):
                b.store(b.load(_gep(b, src, k), typ=F32, align=4), _gep(b, d, r), align=4)

    def _pack_a_vector(self, b: ir.IRBuilder, kend, ptrs, panel) -> None:
        """k in [0, kend), a multiple of vl: load vl k-values of each row, transpose in registers and
        store vl rows of MR floats (masked). ~5x faster than scalar copies, which matters when
        threads that split N each pack all of A."""
        cfg = self.cfg
        mask = self._const_mask(cfg.mr)
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
    def macro(self, amode: str, bmode: str) -> ir.Function:
        """macro(kc, mc, nc, a, lda, b, ldb, C, ldc, acc: i1, edge): C[0:mc, 0:nc] (+)= A @ B.
        amode "p": `a` is the packed MC x KC block; "r"/"c": `a` points at A[0, k0] in place, and a bottom edge
        tile (fewer than MR rows) is packed into `edge` (one panel) for the packed-A microkernel. bmode "p": `b`
        is the packed KC x NC block; "r": `b` points at B[k0, 0] of a row-major B, read in place."""
        return self._cached(f"mac{amode}{bmode}", lambda: self._macro(amode, bmode))

    def _macro(self, amode: str, bmode: str) -> ir.Function:
        cfg = self.cfg
        fn, b = self._func(f"macro_{amode}{bmode}", [I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, I1, PTR, I1, PTR])
        kc, mc, nc, a, lda, bm, ldb, c, ldc, acc, edge, tc, spill = fn.args
        rsc, csc = b.select(tc, _i64(1), ldc), b.select(tc, ldc, _i64(1))  # C[i, j] at c + i * rsc + j * csc
        uk = self.ukernel(amode, bmode)
        if amode == "p":
            mfull = mc
        else:
            # rows [0, mfull) in whole tiles read A in place; the rest (< MR rows) from a packed edge panel
            mfull = b.mul(b.sdiv(mc, _i64(cfg.mr)), _i64(cfg.mr))
            medge = b.sub(mc, mfull)
            with _if(b, b.icmp_signed(">", medge, _i64(0)), "edgepack"):
                src = _gep(b, a, mfull if amode == "c" else b.mul(mfull, lda))
                b.call(self.pack_a(amode == "c"), [kc, medge, src, lda, edge])
        with _loop(b, 0, nc, cfg.nr, "jr") as jr:
            nr = _min(b, _i64(cfg.nr), b.sub(nc, jr))
            bp, cj = _gep(b, bm, b.mul(jr, kc) if bmode == "p" else jr), _gep(b, c, b.mul(jr, csc))
            with _loop(b, 0, mfull, cfg.mr, "ir") as i:
                mr = _min(b, _i64(cfg.mr), b.sub(mc, i))
                if amode == "p":
                    ap = _gep(b, a, b.mul(i, kc))
                else:
                    ap = _gep(b, a, i if amode == "c" else b.mul(i, lda))
                b.call(uk, [kc, ap, lda, bp, ldb, _gep(b, cj, b.mul(i, rsc)), ldc, acc, mr, nr, tc, spill])
        if amode != "p":  # the edge rows: the packed-A macro kernel on the edge panel
            with _if(b, b.icmp_signed("<", mfull, mc), "edgetile"):
                args = [kc, b.sub(mc, mfull), nc, edge, lda, bm, ldb, _gep(b, c, b.mul(mfull, rsc)), ldc, acc, edge, tc,
                        spill]
                b.call(self.macro("p", bmode), args)
        b.ret_void()
        return fn

    def gemm_one(self) -> ir.Function:
        """gemm_one(M, N, K, A, lda, B, ldb, C, ldc, acc, trans_a, trans_b, direct_a, direct_b, trans_c: i1, apack,
        bpack, spill): one product. One loop nest; the layouts and packing modes choose, per block, which
        packing routine and macro kernel it calls."""
        cfg = self.cfg
        fn, b = self._func("one", [I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, I1, I1, I1, I1, I1, I1, PTR, PTR, PTR])
        m, n, k, a, lda, bm, ldb, c, ldc, acc, ta, tb, da, db, tc, apack, bpack, spill = fn.args
        false = ir.Constant(I1, 0)
        tc = tc if cfg.trans_c else false
        # the modes this call runs in: B in place only when row-major (and asked); A in place only when asked,
        # readable in its layout by this variant, and B packed
        db = b.and_(db, b.not_(tb)) if "row" in cfg.direct_b else false
        da_ok = b.select(ta, ir.Constant(I1, "col" in cfg.direct_a), ir.Constant(I1, "row" in cfg.direct_a))
        da = b.and_(b.and_(da, da_ok), b.not_(db))
        one = _i64(1)
        rsc, csc = b.select(tc, one, ldc), b.select(tc, ldc, one)  # C[i, j] at c + i * rsc + j * csc
        # element strides: A[i, k] at a + i * rsa + k * csa, B[k, j] at b + k * rsb + j * csb
        rsa, csa = b.select(ta, one, lda), b.select(ta, lda, one)
        rsb, csb = b.select(tb, one, ldb), b.select(tb, ldb, one)

        def call(cond, if_true: tuple, if_false: tuple) -> None:
            """b.call(*if_true) when cond else b.call(*if_false) (a function and its arguments each)."""
            _either(b, cond, lambda: b.call(*if_true), lambda: b.call(*if_false))

        with _loop(b, 0, n, cfg.nc, "jc") as jc:
            nc = _min(b, _i64(cfg.nc), b.sub(n, jc))
            # pc runs at least once, so that K == 0 still stores C = 0 (or leaves C with accumulate)
            blocks = b.sdiv(b.add(k, _i64(cfg.kc - 1)), _i64(cfg.kc))
            steps = b.add(blocks, b.zext(b.icmp_signed("==", k, _i64(0)), I64))
            # K blocks of (nearly) equal depth, a multiple of vl: K = 784 runs as 208+208+208+160, not
            # 256+256+256+16 (a block that short pays the C tile round trip and packing for few FMAs)
            kblk = _i64(cfg.kc)
            if cfg.balance_k:
                even = b.sdiv(b.add(k, b.sub(blocks, _i64(1))), b.select(b.icmp_signed(">", blocks, _i64(0)), blocks,
                                                                          _i64(1)))
                kblk = _min(b, _i64(cfg.kc), b.mul(b.sdiv(b.add(even, _i64(cfg.vl - 1)), _i64(cfg.vl)), _i64(cfg.vl)))
            with _loop(b, 0, steps, 1, "pc") as step:
                pc = b.mul(step, kblk)
                kc = _min(b, kblk, b.sub(k, pc))
                acc_pc = b.or_(acc, b.icmp_signed(">", step, _i64(0)))  # later K blocks add to the first
                bsrc = _gep(b, bm, b.add(b.mul(pc, rsb), b.mul(jc, csb)))
                pack_b = [kc, nc, bsrc, ldb, bpack]
                with _if(b, b.not_(db), "packb"):
                    call(tb, (self.pack_b(True), pack_b), (self.pack_b(False), pack_b))
                bb = b.select(db, bsrc, bpack)
                cblk = _gep(b, c, b.mul(jc, csc))

                def direct_a():  # all rows, A read in place
                    args = [kc, m, nc, _gep(b, a, b.mul(pc, csa)), lda, bb, ldb, cblk, ldc, acc_pc, apack, tc, spill]
                    if cfg.direct_a:
                        call(ta, (self.macro("c" if "col" in cfg.direct_a else "r", "p"), args),
                             (self.macro("r" if "row" in cfg.direct_a else "c", "p"), args))

                def packed_a():  # MC rows at a time: pack, then the macro kernel
                    with _loop(b, 0, m, cfg.mc, "ic") as ic:
                        mc = _min(b, _i64(cfg.mc), b.sub(m, ic))
                        pack_a = [kc, mc, _gep(b, a, b.add(b.mul(ic, rsa), b.mul(pc, csa))), lda, apack]
                        call(ta, (self.pack_a(True), pack_a), (self.pack_a(False), pack_a))
                        args = [kc, mc, nc, apack, lda, bb, ldb, _gep(b, cblk, b.mul(ic, rsc)), ldc, acc_pc, apack,
                                tc, spill]
                        if cfg.direct_b:
                            call(db, (self.macro("p", "r"), args), (self.macro("p", "p"), args))
                        else:
                            b.call(self.macro("p", "p"), args)

                _either(b, da, direct_a, packed_a)
        b.ret_void()
        return fn

    def entry(self, one: ir.Function) -> ir.Function:
        fn, b = self._func(self.cfg.symbol, [I64, I64, I64, I64, PTR, I64, I64, PTR, I64, I64, PTR, I64, I64, I32,
                                             PTR], internal=False)
        batch, m, n, k, a, lda, sa, bm, ldb, sb, c, ldc, sc, flags, work = fn.args
        spill = work
        apack = _gep(b, work, self.cfg._spill_floats)
        bpack = _gep(b, work, self.cfg._b_offset)

        def flag(bit: int) -> ir.Value:
            return b.icmp_signed("!=", b.and_(flags, ir.Constant(I32, bit)), ir.Constant(I32, 0))

        flags_ = [flag(f) for f in (FLAG_ACC, FLAG_TRANS_A, FLAG_TRANS_B, FLAG_DIRECT_A, FLAG_DIRECT_B, FLAG_TRANS_C)]
        with _loop(b, 0, batch, 1, "batch") as i:
            ptrs = [_gep(b, p, b.mul(i, s)) for p, s in ((a, sa), (bm, sb), (c, sc))]
            b.call(one, [m, n, k, ptrs[0], lda, ptrs[1], ldb, ptrs[2], ldc, *flags_, apack, bpack, spill])
        b.ret_void()
        return fn

    def build(self) -> ir.Module:
        self.entry(self.gemm_one())
        return self.m


def build_module(cfg: GemmConfig | None = None, *more: GemmConfig) -> ir.Module:
    """The module defining `cfg`'s exported function (default: the default variant), and those of `more`
    (no triple/data layout: compile_gemm sets them)."""
    module = ir.Module(name="spiraltorch.matmul")
    for c in (cfg or DEFAULT, *more):
        _Gen(c, module).build()
    return module


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
    cfg = cfg or DEFAULT
    tm = target_machine(cfg)
    return tm.emit_assembly(optimize(_module_text([cfg], tm), tm))


def _module_text(cfgs: list[GemmConfig], tm: llvm.TargetMachine) -> str:
    mod = build_module(*cfgs)
    mod.triple = llvm.get_process_triple()
    mod.data_layout = str(tm.target_data)
    return str(mod)
