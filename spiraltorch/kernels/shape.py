"""Shape ops on the CPU: views where the data need not move, copies where it must."""

from __future__ import annotations

from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import shape as sh
from spiraltorch.ir.shapes import numel
from spiraltorch.kernels.copy import copy_view
from spiraltorch.kernels.lower import Lowerer, lowering
from spiraltorch.kernels.view import View


@lowering(sh.TransposeOp)
def lower_transpose(L: Lowerer, op) -> None:
    L.set_view(op.result, L.view(op.input).transpose(op.props()["perm"]))


@lowering(sh.BroadcastToOp)
def lower_broadcast_to(L: Lowerer, op) -> None:
    L.set_view(op.result, L.view(op.input).broadcast_to(dtypes.shape_of(op.result.type)))


@lowering(sh.SliceOp)
def lower_slice(L: Lowerer, op) -> None:
    p = op.props()
    L.set_view(op.result, L.view(op.input).slice(p["start"], p["stride"], dtypes.shape_of(op.result.type)))


@lowering(sh.ReshapeOp)
def lower_reshape(L: Lowerer, op) -> None:
    src = L.view(op.input)
    shape = dtypes.shape_of(op.result.type)
    view = src.reshape(shape)
    if view is None:  # strides cannot express it: make the input contiguous first
        tmp = View.of_buffer(L.temp(src.shape, src.element_type), src.shape, src.element_type)
        copy_view(L, src, tmp, "relayout")
        view = tmp.reshape(shape)
    L.set_view(op.result, view)


@lowering(sh.ConcatenateOp)
def lower_concatenate(L: Lowerer, op) -> None:
    out = L.result_view(op.result)
    axis = op.props()["axis"] % len(out.shape)
    pos = 0
    for operand in op.operands:
        src = L.view(operand)
        start = [0] * len(out.shape)
        start[axis] = pos
        dst = out.slice(start, [1] * len(out.shape), src.shape)
        copy_view(L, src, dst, "concat")
        pos += src.shape[axis]


@lowering(sh.TakeAlongAxisOp)
def lower_take_along_axis(L: Lowerer, op) -> None:
    from spiraltorch.kernels.builder import INDEX

    out = L.result_view(op.result)
    arr = L.view(op.input)
    rank = len(out.shape)
    axis = op.props()["axis"] % rank
    n = arr.shape[axis]
    # Broadcast the non-axis dims of both operands to the output; the axis dim of arr is indexed.
    arr_shape = list(out.shape)
    arr_shape[axis] = n
    arr_b = arr.broadcast_to(arr_shape)
    idx_b = L.view(op.indices).broadcast_to(out.shape)
    extent = out.shape[0] if rank else 1
    kb, (a_ref, i_ref, o_ref), lo, hi = L.kernel("take_along_axis", [arr_b, idx_b, out], extent)
    with kb.loop(lo, hi) as outer:
        with kb.loops([(0, d) for d in out.shape[1:]]) as rest:
            ivs = [outer.iv, *rest]
            i = kb.convert(kb.load(i_ref, ivs), INDEX)
            nn = kb.index(n)
            i = kb.select(kb.cmp("<", i, kb.index(0)), kb.add(i, nn), i)  # numpy negative indices
            i = kb.max(kb.min(i, kb.index(n - 1)), kb.index(0))  # out of range clamps
            src_idx = list(ivs)
            src_idx[axis] = i
            kb.store(kb.load(a_ref, src_idx), o_ref, ivs)
    L.finish_kernel(kb)


@lowering(sh.ScatterAddOp)
def lower_scatter_add(L: Lowerer, op: sh.ScatterAddOp) -> None:
    """Zero the result, then one kernel: for each position p of updates, acc[q] += updates[p] (q = p with q[axis]
    the normalized index). The outer (thread-split) loop runs over a dim other than the axis, so two threads
    never touch one result element; the axis is looped in increasing order, the interpreter's order of
    accumulation. f16/bf16 accumulate in an f32 temporary that is rounded into the result once."""
    from spiraltorch.kernels.builder import INDEX
    from spiraltorch.kernels.elementwise import loop_nest
    from spiraltorch.kernels.scalar import compute_type

    out = L.result_view(op.result)
    rank = len(out.shape)
    axis = op.normalized_axis()
    n = out.shape[axis]
    ct = compute_type(out.element_type)
    acc = out if ct == out.element_type else View.of_buffer(L.temp(out.shape, ct), out.shape, ct)
    loop_nest(L, "zeros", [], acc, lambda kb, vals: kb.const(0, ct), key=("zeros",))
    idx = L.view(op.indices)
    upd = L.view(op.updates)
    shape = upd.shape
    if numel(shape):
        # outer loop: the largest dim other than the axis (none when rank 1: one call covers everything)
        others = [ax for ax in range(rank) if ax != axis]
        outer_ax = max(others, key=lambda ax: shape[ax]) if others else None
        extent = shape[outer_ax] if outer_ax is not None else 1
        inner_axes = [ax for ax in range(rank) if ax != outer_ax]
        kb, (i_ref, u_ref, a_ref), lo, hi = L.kernel("scatter_add", [idx, upd, acc], extent)
        with kb.loop(lo, hi) as outer:
            with kb.loops([(0, shape[ax]) for ax in inner_axes]) as rest:
                ivs = [None] * rank
                for ax, iv in zip(inner_axes, rest, strict=True):
                    ivs[ax] = iv
                if outer_ax is not None:
                    ivs[outer_ax] = outer.iv
                i = kb.convert(kb.load(i_ref, ivs), INDEX)
                i = kb.select(kb.cmp("<", i, kb.index(0)), kb.add(i, kb.index(n)), i)  # numpy negative indices
                i = kb.max(kb.min(i, kb.index(n - 1)), kb.index(0))  # out of range clamps
                dst = list(ivs)
                dst[axis] = i
                u = kb.convert(kb.load(u_ref, ivs), ct)
                kb.store(kb.add(kb.load(a_ref, dst), u), a_ref, dst)
        L.finish_kernel(kb)
    if acc is not out:
        copy_view(L, acc, out, "round")


@lowering(sh.SliceScatterOp)
def lower_slice_scatter(L: Lowerer, op: sh.SliceScatterOp) -> None:
    """Copy base into the result, then src into the result's strided window (base's copy is skipped when the
    window is the whole result)."""
    p = op.props()
    out = L.result_view(op.result)
    base, src = L.view(op.base), L.view(op.src)
    if src.shape != out.shape:
        copy_view(L, base, out, "slice_scatter_base")
    copy_view(L, src, out.slice(p["start"], p["stride"], src.shape), "slice_scatter")
