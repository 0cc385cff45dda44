"""Interpreter implementations of the shape ops (docs/ir/shape.md).

Results are fresh arrays, never views of an operand: a compiled function's output must not alias
its inputs, and numpy's broadcast views are read-only.
"""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import InterpreterFunctions, impl, register_impls

from spiraltorch.interp.numeric import _HALF, as_result
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import shape as sh


def _out_shape(op) -> tuple[int, ...]:
    return dtypes.shape_of(op.result.type)


def _fresh(value: np.ndarray, op) -> np.ndarray:
    return np.array(as_result(value, op), copy=True, order="C")


@register_impls
class ShapeFunctions(InterpreterFunctions):
    @impl(sh.ReshapeOp)
    def run_reshape(self, interpreter, op: sh.ReshapeOp, args):
        return (_fresh(args[0].reshape(_out_shape(op)), op),)

    @impl(sh.TransposeOp)
    def run_transpose(self, interpreter, op: sh.TransposeOp, args):
        return (_fresh(np.transpose(args[0], op.props()["perm"]), op),)

    @impl(sh.BroadcastToOp)
    def run_broadcast_to(self, interpreter, op: sh.BroadcastToOp, args):
        return (_fresh(np.broadcast_to(args[0], _out_shape(op)), op),)

    @impl(sh.SliceOp)
    def run_slice(self, interpreter, op: sh.SliceOp, args):
        p = op.props()
        return (_fresh(args[0][_window(_out_shape(op), p["start"], p["stride"])], op),)

    @impl(sh.ConcatenateOp)
    def run_concatenate(self, interpreter, op: sh.ConcatenateOp, args):
        return (_fresh(np.concatenate(args, axis=op.props()["axis"]), op),)

    @impl(sh.TakeAlongAxisOp)
    def run_take_along_axis(self, interpreter, op: sh.TakeAlongAxisOp, args):
        arr, idx = args
        axis = op.props()["axis"]
        n = arr.shape[axis]
        idx = idx.astype(np.int64)
        idx = np.clip(np.where(idx < 0, idx + n, idx), 0, max(n - 1, 0))
        if n == 0:  # the verifier allows this only when nothing is read
            return (np.zeros(_out_shape(op), arr.dtype),)
        return (_fresh(np.take_along_axis(arr, idx, axis=axis), op),)

    @impl(sh.ScatterAddOp)
    def run_scatter_add(self, interpreter, op: sh.ScatterAddOp, args):
        idx, upd = args
        axis = op.normalized_axis()
        out_shape = _out_shape(op)
        n = out_shape[axis]
        # f16/bf16 accumulate in f32 and are rounded once at the end (like the reductions).
        acc = np.zeros(out_shape, np.float32 if upd.dtype in _HALF else upd.dtype)
        if upd.size:
            idx = idx.astype(np.int64)
            idx = np.clip(np.where(idx < 0, idx + n, idx), 0, n - 1)  # take_along_axis's index rule
            grid = np.indices(upd.shape, sparse=True)
            where = tuple(idx if ax == axis else grid[ax] for ax in range(upd.ndim))
            # np.add.at adds unbuffered: repeated positions all count, in row-major order of updates.
            np.add.at(acc, where, upd.astype(acc.dtype, copy=False))
        return (_fresh(acc, op),)

    @impl(sh.SliceScatterOp)
    def run_slice_scatter(self, interpreter, op: sh.SliceScatterOp, args):
        base, src = args
        p = op.props()
        out = _fresh(base, op)
        out[_window(src.shape, p["start"], p["stride"])] = src
        return (out,)


def _window(counts, starts, strides) -> tuple[slice, ...]:
    """numpy basic index of the positions start + j * stride (0 <= j < count) of every axis."""
    index = []
    for count, start, stride in zip(counts, starts, strides, strict=True):
        if count == 0:
            index.append(slice(0, 0))
        else:
            stop = start + count * stride
            index.append(slice(start, stop if stop >= 0 else None, stride))
    return tuple(index)
