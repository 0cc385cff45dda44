"""Reductions on the CPU: one kernel per reduction, kept dims outside, reduced dims inside.

The input view is permuted so that kept dims come first, then each group is collapsed, giving
`for k in kept: acc = init; for r in reduced: acc = combine(acc, x[k, r]); out[k] = finish(acc)`.
Float sums and max/min carry `reassoc` so LLVM can vectorize them (numpy's pairwise summation is
not bit-identical either; tests compare with tolerances scaled by sqrt(n)).
"""

from __future__ import annotations

from xdsl.dialects import arith
from xdsl.dialects.builtin import IntegerType

from spiraltorch.ir.ops import reduction as rd
from spiraltorch.ir.shapes import normalize_axes, numel
from spiraltorch.kernels.builder import KernelBuilder, is_bool, is_float
from spiraltorch.kernels.lower import Lowerer, lowering
from spiraltorch.kernels.scalar import compute_type
from spiraltorch.kernels.view import View, collapse, contiguous_strides

REASSOC = arith.FastMathFlagsAttr(["reassoc", "contract"])


def split_view(src: View, axes) -> tuple[View, tuple[int, ...], tuple[int, ...]]:
    """src permuted to (kept..., reduced...), with both groups collapsed.

    Returns (view, kept_shape, reduced_shape); the view's dims are kept dims then reduced dims.
    """
    kept = [i for i in range(len(src.shape)) if i not in axes]
    red = [i for i in range(len(src.shape)) if i in axes]
    k_shape, (k_strides,) = collapse([src.shape[i] for i in kept], [src.strides[i] for i in kept])
    r_shape, (r_strides,) = collapse([src.shape[i] for i in red], [src.strides[i] for i in red])
    view = View(src.buffer, k_shape + r_shape, k_strides + r_strides, src.offset, src.element_type)
    return view, k_shape, r_shape


def reduce_loops(kb: KernelBuilder, shape, inits, body, outer_idx=()):
    """Nested loops over shape carrying accumulators; body(idx, accs) -> new accs."""
    if not shape:
        return list(body(list(outer_idx), list(inits)))
    with kb.loop(0, shape[0], inits=inits) as lp:
        lp.yield_(*reduce_loops(kb, shape[1:], lp.args, body, (*outer_idx, lp.iv)))
    return lp.results


def kept_loops(L: Lowerer, label: str, views: list[View], k_shape, emit_row):
    """A kernel over the kept dims (outer one split by [lo, hi)); emit_row(kb, refs, kept_idx)."""
    extent = k_shape[0] if k_shape else 1
    kb, refs, lo, hi = L.kernel(label, views, extent)
    with kb.loop(lo, hi) as outer:
        with kb.loops([(0, d) for d in k_shape[1:]]) as rest:
            emit_row(kb, refs, ([outer.iv] if k_shape else []) + rest)
    L.finish_kernel(kb)


def _identity(op, t):
    if isinstance(op, rd.SumOp | rd.MeanOp):
        return 0
    big = float("inf") if is_float(t) else (1 << (t.width.data - 1)) - 1
    if isinstance(op, rd.MaxOp | rd.LogSumExpOp):
        return -big - (0 if is_float(t) else 1)
    return big


def _combine(kb: KernelBuilder, op, acc, x):
    if isinstance(op, rd.SumOp | rd.MeanOp):
        cls = arith.AddfOp if is_float(x.type) else arith.AddiOp
        return kb.insert(cls(acc, x, REASSOC) if is_float(x.type) else cls(acc, x))
    if isinstance(op, rd.MaxOp | rd.LogSumExpOp):
        return kb.max(acc, x)
    return kb.min(acc, x)


def _reduce_views(L: Lowerer, op):
    """(input view as kept+reduced dims, result view, result as the kept dims, kept shape, reduced shape)."""
    src = L.view(op.input)
    axes = normalize_axes(op.props()["axes"], len(src.shape))
    out = L.result_view(op.result)
    view, k_shape, r_shape = split_view(src, axes)
    out_kept = View(out.buffer, k_shape, contiguous_strides(k_shape), out.offset, out.element_type)
    return view, out, out_kept, k_shape, r_shape


@lowering(rd.SumOp, rd.MeanOp, rd.MaxOp, rd.MinOp)
def lower_reduce(L: Lowerer, op) -> None:
    view, out, out_view, k_shape, r_shape = _reduce_views(L, op)
    ct = compute_type(out.element_type)
    if is_bool(ct):  # max/min of bools: compare as small ints (i1 is signed in arith)
        ct = IntegerType(32)
    n = numel(r_shape)
    if _columns(view, k_shape, r_shape, ct, out.element_type):
        _lower_columns(L, op, view, out_view, k_shape[0], r_shape, ct, n)
        return

    def row(kb, refs, kidx):
        x_ref, o_ref = refs
        init = kb.const(_identity(op, ct), ct)
        (acc,) = reduce_loops(kb, r_shape, [init],
                              lambda idx, accs: [_combine(kb, op, accs[0], kb.convert(kb.load(x_ref, idx), ct))],
                              kidx)
        if isinstance(op, rd.MeanOp):
            acc = kb.div(acc, kb.const(float(n), ct))
        kb.store(kb.convert(acc, out.element_type), o_ref, kidx)

    kept_loops(L, op.name.split(".")[1], [view, out_view], k_shape, row)


COLUMN_BLOCK = 512  # kept elements per task of a column reduction: 2 KiB of f32 accumulators stay in L1


def _columns(view: View, k_shape, r_shape, ct, out_t) -> bool:
    """A reduction over leading axes of rows that are contiguous (x.sum(axis=0) of a row-major matrix, the bias
    gradient of a linear layer): the kept elements are adjacent in memory, the reduced ones are not."""
    return (len(k_shape) == 1 and bool(r_shape) and view.strides[0] == 1 and ct == out_t
            and not is_bool(ct) and all(s != 1 for s in view.strides[1:]))


def _lower_columns(L: Lowerer, op, view: View, out_view: View, k: int, r_shape, ct, n: int) -> None:
    def step(kb, refs, idx, acc):
        return _combine(kb, op, acc, kb.load(refs[0], idx))

    def finish(kb, refs, kidx, acc):
        if isinstance(op, rd.MeanOp):
            kb.store(kb.div(acc, kb.const(float(n), ct)), refs[1], kidx)

    column_kernel(L, op.name.split(".")[1] + "_columns", [view, out_view], 1, k, r_shape,
                  _identity(op, ct), ct, step, finish)


def column_kernel(L: Lowerer, label: str, views, acc_index: int, k: int, r_shape, init, ct, step, finish) -> None:
    """Accumulate whole rows: for r: for j in block: acc[j] = step(acc[j], element (j, r)), with the accumulators
    in views[acc_index] (k elements), then finish(kb, refs, [j], acc[j]) per j. The inner loop is contiguous and
    vectorizes; the row-by-row order reads the input once, sequentially. Used by plain and fused reductions."""
    width = min(k, COLUMN_BLOCK)
    blocks = -(-k // width)
    kb, refs, lo, hi = L.kernel(label, views, blocks)
    acc = refs[acc_index]
    with kb.loop(lo, hi) as blk:
        j0 = kb.mul(blk.iv, kb.index(width))
        wn = width if k % width == 0 else kb.min(kb.index(width), kb.sub(kb.index(k), j0))
        with kb.loop(0, wn) as w:
            kb.store(kb.const(init, ct), acc, [kb.add(j0, w.iv)])
        with kb.loops([(0, d) for d in r_shape]) as ridx, kb.loop(0, wn) as w:
            j = kb.add(j0, w.iv)
            kb.store(step(kb, refs, [j, *ridx], kb.load(acc, [j])), acc, [j])
        with kb.loop(0, wn) as w:
            j = kb.add(j0, w.iv)
            finish(kb, refs, [j], kb.load(acc, [j]))
    L.finish_kernel(kb)


@lowering(rd.LogSumExpOp)
def lower_logsumexp(L: Lowerer, op) -> None:
    view, out, out_view, k_shape, r_shape = _reduce_views(L, op)
    ct = compute_type(out.element_type)

    def row(kb, refs, kidx):
        x_ref, o_ref = refs
        load = lambda idx: kb.convert(kb.load(x_ref, idx), ct)  # noqa: E731
        (m,) = reduce_loops(kb, r_shape, [kb.const(float("-inf"), ct)],
                            lambda idx, a: [kb.max(a[0], load(idx))], kidx)
        # A non-finite max (all -inf, +inf or NaN) shifts by 0 instead, which yields -inf/inf/NaN.
        finite = kb.cmp("==", kb.sub(m, m), kb.const(0.0, ct))
        shift = kb.select(finite, m, kb.const(0.0, ct))
        (s,) = reduce_loops(kb, r_shape, [kb.const(0.0, ct)],
                            lambda idx, a: [kb.insert(arith.AddfOp(a[0], kb.exp(kb.sub(load(idx), shift)),
                                                                   REASSOC))], kidx)
        res = kb.add(shift, kb.log(s))
        kb.store(kb.convert(res, out.element_type), o_ref, kidx)

    kept_loops(L, "logsumexp", [view, out_view], k_shape, row)


@lowering(rd.ArgMaxOp, rd.ArgMinOp)
def lower_argreduce(L: Lowerer, op) -> None:
    src = L.view(op.input)
    axis = op.props().get("axis")
    axes = tuple(range(len(src.shape))) if axis is None else normalize_axes(axis, len(src.shape))
    out = L.result_view(op.result)
    # Reduced dims keep their original order so that a running counter is numpy's flat index.
    kept = [i for i in range(len(src.shape)) if i not in axes]
    red = list(axes)
    view = View(src.buffer, tuple(src.shape[i] for i in kept + red), tuple(src.strides[i] for i in kept + red),
                src.offset, src.element_type)
    k_shape = tuple(src.shape[i] for i in kept)
    r_shape = tuple(src.shape[i] for i in red)
    out_view = View(out.buffer, k_shape, contiguous_strides(k_shape), out.offset, out.element_type)
    ct = compute_type(src.element_type)
    better = ">" if isinstance(op, rd.ArgMaxOp) else "<"

    def row(kb, refs, kidx):
        x_ref, o_ref = refs
        first = kb.convert(kb.load(x_ref, [*kidx, *([kb.index(0)] * len(r_shape))]), ct)

        def step(idx, accs):
            best, best_i, count = accs
            x = kb.convert(kb.load(x_ref, idx), ct)
            take = kb.cmp(better, x, best)
            if is_float(ct):  # the first NaN wins, as in numpy
                x_nan = kb.cmp("!=", x, x)
                best_ok = kb.cmp("==", best, best)
                take = kb.insert(arith.OrIOp(take, kb.insert(arith.AndIOp(x_nan, best_ok))))
            nxt = kb.add(count, kb.index(1))
            return [kb.select(take, x, best), kb.select(take, count, best_i), nxt]

        _, best_i, _ = reduce_loops(kb, r_shape, [first, kb.index(0), kb.index(0)], step, kidx)
        kb.store(kb.convert(best_i, out.element_type), o_ref, kidx)

    kept_loops(L, op.name.split(".")[1], [view, out_view], k_shape, row)

