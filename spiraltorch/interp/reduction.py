"""Interpreter implementations of the reduction ops (numpy semantics; see docs/ir/reduction.md).

f16/bf16 are accumulated in f32 and rounded once; max/min/argmax/argmin on half types go through
f32 too (exact), since numpy's reductions on ml_dtypes' bfloat16 are not all reliable.
"""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import InterpreterFunctions, impl, register_impls

from spiraltorch.interp.numeric import _HALF, as_result
from spiraltorch.ir.ops import reduction as rd


def _wide(x: np.ndarray) -> np.ndarray:
    """Half types as f32 (exact); everything else unchanged."""
    return x.astype(np.float32) if x.dtype in _HALF else x


def _reduce_args(op: rd.ReduceOp) -> tuple[tuple[int, ...], bool]:
    return op.normalized_axes(), bool(op.props().get("keepdims", False))


def logsumexp(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Stable log(sum(exp(x))): shift by the (finite) maximum. All -inf -> -inf, any +inf -> +inf,
    NaN -> NaN, empty -> -inf."""
    if any(x.shape[a] == 0 for a in axes):
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        out = np.full(out_shape, -np.inf, x.dtype)
    else:
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, np.zeros((), x.dtype))
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axes)


@register_impls
class ReductionFunctions(InterpreterFunctions):
    @impl(rd.SumOp)
    def run_sum(self, interpreter, op: rd.SumOp, args):
        (x,) = args
        axes, kd = _reduce_args(op)
        w = _wide(x)
        # dtype= keeps integer sums in their own type (wrap-around), like the IR says.
        return (as_result(np.sum(w, axis=axes, keepdims=kd, dtype=w.dtype), op),)

    @impl(rd.MeanOp)
    def run_mean(self, interpreter, op: rd.MeanOp, args):
        (x,) = args
        axes, kd = _reduce_args(op)
        w = _wide(x)
        count = 1
        for a in axes:
            count *= x.shape[a]
        total = np.sum(w, axis=axes, keepdims=kd, dtype=w.dtype)
        return (as_result(total / w.dtype.type(count), op),)  # 0 / 0 = NaN for empty axes

    @impl(rd.MaxOp)
    def run_max(self, interpreter, op: rd.MaxOp, args):
        (x,) = args
        axes, kd = _reduce_args(op)
        return (as_result(np.max(_wide(x), axis=axes, keepdims=kd), op),)

    @impl(rd.MinOp)
    def run_min(self, interpreter, op: rd.MinOp, args):
        (x,) = args
        axes, kd = _reduce_args(op)
        return (as_result(np.min(_wide(x), axis=axes, keepdims=kd), op),)

    @impl(rd.ArgMaxOp)
    def run_argmax(self, interpreter, op: rd.ArgMaxOp, args):
        return (_arg_reduce(np.argmax, op, args[0]),)

    @impl(rd.ArgMinOp)
    def run_argmin(self, interpreter, op: rd.ArgMinOp, args):
        return (_arg_reduce(np.argmin, op, args[0]),)

    @impl(rd.LogSumExpOp)
    def run_logsumexp(self, interpreter, op: rd.LogSumExpOp, args):
        (x,) = args
        axes, kd = _reduce_args(op)
        return (as_result(logsumexp(_wide(x), axes, kd), op),)


def _arg_reduce(np_fn, op: rd.ArgReduceOp, x: np.ndarray) -> np.ndarray:
    p = op.props()
    axis = p.get("axis")
    if axis is not None:
        axis = axis % x.ndim
    # numpy: first index of the extreme value, a NaN beats everything (the first NaN wins).
    return as_result(np_fn(_wide(x), axis=axis, keepdims=bool(p.get("keepdims", False))), op)
