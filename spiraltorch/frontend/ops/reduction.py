"""Public reductions (numpy names and dtype rules): sum, mean, max/amax, min/amin, argmax, argmin, logsumexp.

`axis` is an int, a tuple of ints or None (all axes); negative axes count from the end. argmax/argmin
take one int axis or None (an index into the flattened tensor). Result dtypes are numpy's: the
operand is cast first (sum of i32/bool -> i64, mean of ints -> f64, logsumexp follows np.exp).
"""

from __future__ import annotations

import operator

import numpy as np

from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.ops.common import as_tensor, cast, eager_ok, emit, numpy_dtype
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes, shapes
from spiraltorch.ir.ops import reduction as rd

__all__ = ["sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp"]


def _int_axis(name: str, a) -> int:
    if isinstance(a, (bool, np.bool_)) or isinstance(a, Tensor):
        raise tr.user_error(f"{name}: axis must be an int, got {type(a).__name__}")
    try:
        return operator.index(a)
    except TypeError:
        raise tr.user_error(f"{name}: axis must be an int, a tuple of ints or None, got {a!r}") from None


def normalize_axes(name: str, x: Tensor, axis) -> tuple[int, ...]:
    """None / int / tuple of ints -> sorted non-negative axes (user errors at the caller's line)."""
    if axis is None:
        return tuple(range(x.ndim))
    axes = tuple(_int_axis(name, a) for a in axis) if isinstance(axis, (tuple, list)) else (_int_axis(name, axis),)
    try:
        return shapes.normalize_axes(axes, x.ndim)
    except shapes.ShapeError as err:
        raise tr.user_error(f"{name}: {err}") from None


def normalize_axis(name: str, x: Tensor, axis) -> int:
    """One int axis -> non-negative axis."""
    if isinstance(axis, (tuple, list)):
        raise tr.user_error(f"{name}: axis must be a single int, got {axis!r}")
    try:
        return shapes.normalize_axis(_int_axis(name, axis), x.ndim)
    except shapes.ShapeError as err:
        raise tr.user_error(f"{name}: {err}") from None


def _keepdims(name: str, keepdims) -> bool | None:
    if not isinstance(keepdims, (bool, np.bool_)):
        raise tr.user_error(f"{name}: keepdims must be True or False, got {keepdims!r}")
    return True if keepdims else None  # absent property = false


def _reduce(op_cls, name: str, x, axis, keepdims, np_fn=None, dtype=None):
    x = as_tensor(x)
    axes = normalize_axes(name, x, axis)
    if dtype is not None:  # numpy's dtype=: the type to accumulate in and return
        try:
            d = dtypes.lookup(dtype)
        except dtypes.DTypeError as err:
            raise tr.user_error(f"{name}: {err}") from None
        if op_cls is rd.MeanOp and not d.is_float:
            raise tr.user_error(f"mean: dtype must be a floating-point type, got {d.name}")
        if op_cls is rd.SumOp and d.kind == "b":
            raise tr.user_error("sum: dtype must be numeric, got bool")
        x = cast(x, d)
    elif np_fn is not None:
        x = cast(x, numpy_dtype(np_fn, x))
    return emit(op_cls, x, axes=axes, keepdims=_keepdims(name, keepdims))


@eager_ok
def sum(x, axis=None, dtype=None, keepdims=False):  # noqa: A001 - numpy's name
    """numpy.sum: bool and i32 sum as i64, floats keep their dtype (f16/bf16 accumulate in f32);
    dtype= converts first and sums in that type."""
    return _reduce(rd.SumOp, "sum", x, axis, keepdims, np.sum, dtype)


@eager_ok
def mean(x, axis=None, dtype=None, keepdims=False):
    """numpy.mean: integers and bool give f64; an empty axis gives NaN; dtype= (a float type)
    converts first and averages in that type."""
    return _reduce(rd.MeanOp, "mean", x, axis, keepdims, np.mean, dtype)


@eager_ok
def max(x, axis=None, keepdims=False):  # noqa: A001 - numpy's name
    """numpy.max: keeps the dtype, NaN propagates; an empty axis is an error."""
    return _reduce(rd.MaxOp, "max", x, axis, keepdims)


@eager_ok
def min(x, axis=None, keepdims=False):  # noqa: A001 - numpy's name
    """numpy.min: keeps the dtype, NaN propagates; an empty axis is an error."""
    return _reduce(rd.MinOp, "min", x, axis, keepdims)


@eager_ok
def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) without overflow (scipy.special.logsumexp). Integers convert like np.exp."""
    return _reduce(rd.LogSumExpOp, "logsumexp", x, axis, keepdims, np.exp)


def _arg_reduce(op_cls, name: str, x, axis, keepdims):
    x = as_tensor(x)
    ax = None if axis is None else normalize_axis(name, x, axis)
    return emit(op_cls, x, axis=ax, keepdims=_keepdims(name, keepdims))


@eager_ok
def argmax(x, axis=None, keepdims=False):
    """numpy.argmax: i64 index of the first maximum (the first NaN if any); axis=None indexes the
    flattened tensor."""
    return _arg_reduce(rd.ArgMaxOp, "argmax", x, axis, keepdims)


@eager_ok
def argmin(x, axis=None, keepdims=False):
    """numpy.argmin: i64 index of the first minimum (the first NaN if any); axis=None indexes the
    flattened tensor."""
    return _arg_reduce(rd.ArgMinOp, "argmin", x, axis, keepdims)


amax = max
amin = min
