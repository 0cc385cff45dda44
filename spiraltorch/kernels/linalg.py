"""spiral.matmul on the CPU.

f32: our generated BLIS-style GEMM (`codegen/matmul.py`) through `kern.gemm`, in the variant and packing plan
that `matmul.choose` picks for the static shape. Row-major and column-major operand views (`x.T`, the
transposes autodiff produces) are passed as they are (trans_a / trans_b); only views that are neither are
copied first. Big products are split into one band per thread (over the batch when it is large enough, else
over rows, in whole register tiles); each band gets its own packing scratch slot in the workspace.
Other dtypes (f64, f16/bf16 computed in f32, integers): a plain loop kernel, correct but not tuned.
"""

from __future__ import annotations

import math

from spiraltorch import knobs
from spiraltorch.codegen import matmul as gemm
from spiraltorch.ir.kernel_dialect import GemmOp
from spiraltorch.ir.ops.linalg import MatmulOp
from spiraltorch.kernels.builder import F32
from spiraltorch.kernels.copy import copy_view
from spiraltorch.kernels.lower import Lowerer, lowering
from spiraltorch.kernels.reduction import REASSOC
from spiraltorch.kernels.scalar import compute_type
from spiraltorch.kernels.view import View, collapse


def _gemm_operand(L: Lowerer, v: View) -> tuple[View, bool]:
    """(view, trans): v itself when it is row-major (unit stride along the last dim: trans False) or column-major
    (unit stride along dim -2: trans True, e.g. `x.T`); otherwise a row-major copy."""
    if v.strides[-1] == 1 or v.shape[-1] == 1:
        return v, False
    if v.strides[-2] == 1 or v.shape[-2] == 1:
        return v, True
    tmp = View.of_buffer(L.temp(v.shape, v.element_type), v.shape, v.element_type)
    copy_view(L, v, tmp, "pack")
    return tmp, False


@lowering(MatmulOp)
def lower_matmul(L: Lowerer, op: MatmulOp) -> None:
    emit_matmul(L, L.view(op.lhs), L.view(op.rhs), L.result_view(op.result))


def emit_matmul(L: Lowerer, a: View, b: View, out: View, epilogue=None) -> None:
    """out = a @ b. `epilogue` (f32 2-D products only, see kernels/fusion.py) adds views to the GEMM kernel and
    emits code run on each band of C right after the GEMM computed it: epilogue.emit(kb, refs, c_at, rows, cols)
    with c_at(i, j) loading C[i, j] and rows / cols the band's (start, stop) in C's coordinates."""
    *batch, m, n = out.shape
    k = a.shape[-1]
    a = a.broadcast_to((*batch, m, k))
    b = b.broadcast_to((*batch, k, n))
    if out.element_type == F32:
        (a, ta), (b, tb) = _gemm_operand(L, a), _gemm_operand(L, b)
        nb = math.prod(batch)
        plan, split = _plan(m, n, k, ta, tb, nb, _threads(2 * nb * m * n * k))
        if plan.swap:  # C^T = B^T A^T: transposed views of the same buffers; C^T is column-major
            a, b, out = _t(b), _t(a), _t(out)
            ta, tb = not tb, not ta
        _gemm(L, a, b, out, ta, tb, plan, split, epilogue)
    else:
        assert epilogue is None, "matmul epilogues need the f32 GEMM"
        _loops(L, a, b, out)


def _threads(flops: int) -> int:
    """Threads a product of `flops` is split over."""
    return knobs.num_threads() if flops >= gemm.PARALLEL_MIN_FLOPS else 1


def _plan(m: int, n: int, k: int, ta: bool, tb: bool, nb: int, threads: int) -> tuple[gemm.Plan, str]:
    """The GEMM plan (matmul.choose) and how its threads split it: "batch", "rows" or "cols" (of C, after a
    swap: C^T's columns are C's rows). Like gemm_driver.split: columns when N >= M, so that each thread packs
    only its part of B and, its part of N being narrower, may read A in place (W6's (256,784) @ (784,512): two
    (256,784) @ (784,256) bands with A in place take 627 us each, two (128,784) @ (784,512) bands 709 us)."""
    if threads <= 1 or nb >= threads:
        return gemm.choose(m, n, k, ta, tb), "batch"
    if n >= m:
        plan = gemm.choose(m, -(-n // threads), k, ta, tb)
        if not plan.swap and n >= threads * plan.cfg.nr:
            return plan, "cols"
    plan = gemm.choose(m, n, k, ta, tb)
    if plan.swap:
        return plan, "cols" if m >= threads * plan.cfg.nr else "rows"
    return plan, "rows"


def _t(v: View) -> View:
    """v with its last two dims swapped."""
    nd = len(v.shape)
    return v.transpose((*range(nd - 2), nd - 1, nd - 2))


def _gemm(L: Lowerer, a: View, b: View, c: View, ta: bool, tb: bool, plan: gemm.Plan, split: str,
          epilogue=None) -> None:
    """c = a @ b with the plan, split over threads by `split` (see _plan); ta / tb: a / b column-major; c is
    column-major when the plan swaps."""
    *batch, m, n = c.shape
    k = a.shape[-1]
    bshape, (sa, sb, sc) = collapse(tuple(batch), a.strides[:-2], b.strides[:-2], c.strides[:-2])
    if len(bshape) > 1:  # batch dims that no single stride describes: one product per outer index
        for idx in _indices(bshape[:-1]):
            start = list(idx) + [0] * 3
            sub = [_take(v, start, len(bshape) - 1) for v in (a, b, c)]
            _gemm(L, *sub, ta, tb, plan, split, epilogue)
        return
    nb = bshape[0] if bshape else 1
    sa, sb, sc = (s[0] if s else 0 for s in (sa, sb, sc))
    threads = _threads(2 * nb * m * n * k)
    cfg = plan.cfg
    tc = plan.swap
    by_batch = nb >= threads or split == "batch"
    extent = nb if by_batch else -(-n // cfg.nr) if split == "cols" else -(-m // cfg.mr)
    bands = max(1, min(threads, extent))
    slot = cfg.workspace_for(m, n, k)
    work = View.of_buffer(L.temp((bands * slot,), F32), (bands * slot,), F32)
    flat = [View(v.buffer, v.shape[-2:], v.strides[-2:], v.offset, v.element_type) for v in (a, b, c)]
    # bands > 1 only for products worth splitting (flops, not bytes, decide for a GEMM)
    extra = list(epilogue.views) if epilogue is not None else []
    kb, refs, lo, hi = L.kernel("matmul" if epilogue is None else "matmul_epilogue", [*flat, work, *extra], bands,
                                parallel=bands > 1)
    ra, rb, rc, rw = refs[:4]
    with kb.loop(lo, hi) as band:
        nxt = kb.add(band.iv, kb.index(1))
        (b0, b1), (r0, r1), (c0, c1) = ((kb.index(0), kb.index(x)) for x in (nb, m, n))
        if by_batch:
            b0, b1 = _split(kb, band.iv, nb, bands, 1), _split(kb, nxt, nb, bands, 1)
        elif split == "cols":
            c0, c1 = _split(kb, band.iv, n, bands, cfg.nr), _split(kb, nxt, n, bands, cfg.nr)
        else:
            r0, r1 = _split(kb, band.iv, m, bands, cfg.mr), _split(kb, nxt, m, bands, cfg.mr)
        kb.insert(GemmOp(ra, rb, rc, rw, b0, b1, r0, r1, c0, c1, lo, kernel=plan.symbol, n=n, k=k,
                         lda=a.strides[-1 if ta else -2], ldb=b.strides[-1 if tb else -2],
                         ldc=c.strides[-1 if tc else -2], sa=sa, sb=sb, sc=sc, trans_a=ta, trans_b=tb, trans_c=tc,
                         direct_a=plan.direct_a, direct_b=plan.direct_b,
                         work_floats=slot))
        if epilogue is not None:
            # C's band in C's own coordinates: a swapped plan computed rows [r0, r1) of C^T, i.e. C's columns. C is
            # read through the GEMM's own parameter (the same noalias pointer the GEMM wrote through).
            rows, cols = ((c0, c1), (r0, r1)) if tc else ((r0, r1), (c0, c1))

            def c_at(i, j):
                return kb.load(rc, [j, i] if tc else [i, j])

            epilogue.emit(kb, refs[4:], c_at, rows, cols)
    L.finish_kernel(kb)


def _split(kb, i, total: int, parts: int, align: int):
    """Start of part i of [0, total) in `parts` pieces, rounded down to a multiple of align (part
    `parts` starts at total)."""
    raw = kb.insert(_divsi(kb.mul(i, kb.index(total)), kb.index(parts)))
    aligned = kb.mul(kb.insert(_divsi(raw, kb.index(align))), kb.index(align))
    return kb.select(kb.cmp(">=", i, kb.index(parts)), kb.index(total), aligned)


def _divsi(a, b):
    from xdsl.dialects import arith

    return arith.DivSIOp(a, b)


def _indices(shape):
    import itertools

    return itertools.product(*[range(d) for d in shape])


def _take(v: View, start, ndrop: int) -> View:
    """The sub-view at the leading indices `start[:ndrop]`, dropping those dims."""
    offset = v.offset + sum(i * s for i, s in zip(start[:ndrop], v.strides[:ndrop], strict=False))
    return View(v.buffer, v.shape[ndrop:], v.strides[ndrop:], offset, v.element_type)


def _loops(L: Lowerer, a: View, b: View, c: View) -> None:
    """c[..., i, j] = sum_k a[..., i, k] b[..., k, j], accumulated in the compute type."""
    *batch, m, n = c.shape
    k = a.shape[-1]
    ct = compute_type(c.element_type)
    outer = [*batch, m]
    extent = outer[0]
    kb, (ra, rb, rc), lo, hi = L.kernel("matmul", [a, b, c], extent)
    with kb.loop(lo, hi) as first:
        with kb.loops([(0, d) for d in outer[1:]] + [(0, n)]) as rest:
            *idx_outer, j = [first.iv, *rest]
            *bidx, i = idx_outer
            with kb.loop(0, k, inits=[kb.const(0, ct)]) as red:
                x = kb.convert(kb.load(ra, [*bidx, i, red.iv]), ct)
                y = kb.convert(kb.load(rb, [*bidx, red.iv, j]), ct)
                red.yield_(_acc(kb, red.args[0], kb.mul(x, y)))
            kb.store(kb.convert(red.results[0], c.element_type), rc, [*bidx, i, j])
    L.finish_kernel(kb)


def _acc(kb, acc, x):
    from xdsl.dialects import arith

    from spiraltorch.kernels.builder import is_float

    if is_float(x.type):
        return kb.insert(arith.AddfOp(acc, x, REASSOC))
    return kb.add(acc, x)
