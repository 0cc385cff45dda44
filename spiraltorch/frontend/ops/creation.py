"""Public creation ops: zeros, ones, full, arange and their *_like forms.

They emit spiral.full (one value everywhere) or spiral.arange; numpy arrays and Python values used
inside a traced function become spiral.constant / spiral.full through `as_tensor` (common.py).

dtypes: full/arange/*_like with dtype=None follow numpy (np.full(shape, 1.5) is float64,
np.arange(5) is int64, *_like keep the prototype's dtype). zeros and ones default to float32
(SpiralTorch's default float; numpy's default is float64): pass dtype=st.float64 for numpy's.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.ops import common
from spiraltorch.frontend.ops.common import as_tensor, cast, eager_ok, emit, is_scalar
from spiraltorch.frontend.ops.shape import broadcast_to
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops.creation import ArangeOp

__all__ = ["zeros", "ones", "full", "arange", "zeros_like", "ones_like", "full_like"]

_INT_RANGE = {"i32": (-(2**31), 2**31 - 1), "i64": (-(2**63), 2**63 - 1)}


def _shape(name: str, shape) -> tuple[int, ...]:
    items = shape if isinstance(shape, (tuple, list)) else (shape,)
    out = []
    for d in items:
        if isinstance(d, (bool, np.bool_, Tensor)):
            raise tr.user_error(f"{name}: shape entries must be ints, got {type(d).__name__}")
        try:
            out.append(operator.index(d))
        except TypeError:
            raise tr.user_error(f"{name}: shape must be an int or a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in out):
        raise tr.user_error(f"{name}: negative dimensions are not allowed, got shape {tuple(out)}")
    return tuple(out)


def _dtype(name: str, dtype) -> dtypes.DType:
    try:
        return dtypes.lookup(dtype)
    except (dtypes.DTypeError, TypeError) as err:
        raise tr.user_error(f"{name}: {err}") from None


def _scalar_value(name: str, value, dt: dtypes.DType):
    """value converted to dt's Python type as numpy's full would (floats truncate toward zero into
    integers); values numpy would turn into garbage (inf/NaN or out of range into an integer) are errors."""
    if isinstance(value, np.ndarray):
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, complex):
        raise tr.user_error(f"{name}: complex values are not supported")
    if dt.kind == "f":
        return float(value)
    if dt.kind == "b":
        return bool(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise tr.user_error(f"{name}: cannot fill an {dt.name} tensor with {value}")
        value = int(value)  # truncation toward zero, like numpy's cast
    value = int(value)
    lo, hi = _INT_RANGE[dt.name]
    if not lo <= value <= hi:
        raise tr.user_error(f"{name}: {value} is out of range for {dt.name}")
    return value


def _fill(name: str, shape, value, dtype) -> Tensor:
    shape = _shape(name, shape)
    if isinstance(value, Tensor) or not (is_scalar(value) or np.ndim(value) == 0):
        # numpy.full broadcasts an array fill value to the shape.
        t = as_tensor(value)
        t = cast(t, _dtype(name, dtype)) if dtype is not None else t
        return broadcast_to(t, shape)
    if dtype is None:
        try:
            dt = dtypes.lookup(np.full((), value).dtype)
        except dtypes.DTypeError as err:
            raise tr.user_error(f"{name}: {err}") from None
    else:
        dt = _dtype(name, dtype)
    return common.full(shape, _scalar_value(name, value, dt), dt)


@eager_ok
def full(shape, fill_value, dtype=None):
    """numpy.full: dtype=None takes numpy's dtype for fill_value (Python float -> float64, int -> int64,
    bool -> bool, numpy scalars keep theirs). An array or tensor fill_value is broadcast to shape."""
    return _fill("full", shape, fill_value, dtype)


@eager_ok
def zeros(shape, dtype=np.float32):
    """A tensor of zeros (float32 unless dtype is given)."""
    return _fill("zeros", shape, 0, np.float32 if dtype is None else dtype)


@eager_ok
def ones(shape, dtype=np.float32):
    """A tensor of ones (float32 unless dtype is given)."""
    return _fill("ones", shape, 1, np.float32 if dtype is None else dtype)


def _prototype(x) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(x, Tensor):
        return x.shape, x.dtype
    arr = np.asarray(x)
    return arr.shape, arr.dtype


@eager_ok
def full_like(x, fill_value, dtype=None, shape=None):
    """numpy.full_like: x's shape and dtype unless given."""
    proto_shape, proto_dtype = _prototype(x)
    return _fill("full_like", proto_shape if shape is None else shape, fill_value,
                 proto_dtype if dtype is None else dtype)


@eager_ok
def zeros_like(x, dtype=None, shape=None):
    """numpy.zeros_like: x's shape and dtype unless given."""
    proto_shape, proto_dtype = _prototype(x)
    return _fill("zeros_like", proto_shape if shape is None else shape, 0, proto_dtype if dtype is None else dtype)


@eager_ok
def ones_like(x, dtype=None, shape=None):
    """numpy.ones_like: x's shape and dtype unless given."""
    proto_shape, proto_dtype = _prototype(x)
    return _fill("ones_like", proto_shape if shape is None else shape, 1, proto_dtype if dtype is None else dtype)


def _number(v):
    if isinstance(v, Tensor):
        raise tr.user_error("arange: start, stop and step must be Python or numpy numbers, not traced tensors")
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v[()]
    if not (is_scalar(v) or isinstance(v, (np.integer, np.floating, np.bool_))):
        raise tr.user_error(f"arange: start, stop and step must be real numbers, got {type(v).__name__}")
    return v


@eager_ok
def arange(start, stop=None, step=1, dtype=None):
    """numpy.arange: start, start + step, ... while < stop (> stop for a negative step); the length is
    ceil((stop - start) / step). dtype=None takes numpy's (ints -> int64, any float -> float64).
    As in numpy, element i is v0 + i * (v1 - v0) where v0, v1 are start and start + step converted to
    the dtype (so an integer dtype with a fractional step repeats values, like numpy)."""
    if stop is None:
        start, stop = 0, start
    start, stop, step = _number(start), _number(stop), _number(step)
    if step == 0:
        raise tr.user_error("arange: step must not be zero")
    try:
        n = max(0, math.ceil((stop - start) / step))
    except (OverflowError, ValueError):
        raise tr.user_error(f"arange: cannot compute the length of arange({start}, {stop}, {step})") from None
    if dtype is None:
        stand_ins = (type(start)(0), type(stop)(1), type(step)(1))
        try:
            dt = dtypes.lookup(np.arange(*stand_ins).dtype)
        except dtypes.DTypeError as err:
            raise tr.user_error(f"arange: {err}") from None
    else:
        dt = _dtype("arange", dtype)
    if dt.kind == "b":
        raise tr.user_error("arange: a bool dtype is not supported")

    # numpy fills v0 + i * (v1 - v0), with v0 = start and v1 = start + step in the dtype.
    try:
        with np.errstate(all="ignore"):
            v0 = np.array(start, dtype=dt.np)
            v1 = np.array(start + step, dtype=dt.np)
    except (OverflowError, ValueError) as err:
        raise tr.user_error(f"arange: {err}") from None
    if dt.kind == "i":
        first, delta = int(v0), int(v1) - int(v0)
    else:
        first = float(v0)
        work = np.float64 if dt.name == "f64" else np.float32
        delta = float(work(v1) - work(v0))
    if delta == 0 or n == 1:
        return common.full((n,), first, dt)
    return emit(ArangeOp, result_types=[dtypes.tensor_type((n,), dt)], start=first, step=delta)
