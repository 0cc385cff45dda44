"""Helpers shared by the public op functions: finding the trace, turning Python/numpy values into
tensors, numpy's dtype promotion, emitting ops, and eager evaluation outside a trace.

dtype rules are numpy's, obtained by asking numpy itself on 0-d stand-ins (Python scalars stay
Python scalars so they are "weak" as in NEP 50). That way `x_f32 * 2.0` stays f32 and
`x_i32 / 2` is f64 exactly as numpy computes, without a hand-kept table that can drift.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr

from spiraltorch.errors import TraceError
from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes

PyScalar = (bool, int, float)
_OUTSIDE = ("a traced tensor was used outside the function being compiled (it leaked through a global, a closure "
            "or a container); return it from the compiled function instead")


def trace_of(*xs) -> tr.TraceContext:
    """The active trace; tensors from another (finished or outer) trace are rejected."""
    ctx = tr.current()
    if ctx is None:
        raise tr.user_error(_OUTSIDE)
    for x in xs:
        if isinstance(x, Tensor) and not ctx.encloses(x.trace):
            raise tr.user_error(
                "this tensor belongs to another traced function (a tensor leaked out of a trace, e.g. "
                "through a global or a closure); pass it as an argument instead"
            )
    return ctx


def is_scalar(x) -> bool:
    return isinstance(x, PyScalar) and not isinstance(x, np.generic)


def stand_in(x):
    """What numpy should see for x when working out a result dtype."""
    if isinstance(x, Tensor):
        if x.weak:
            return {"f": 1.0, "i": 1, "b": True}[x.ir_dtype.kind]
        return np.ones((), x.dtype)
    if is_scalar(x):
        return x
    return np.ones((), np.asarray(x).dtype)


def numpy_dtype(np_fn: Callable, *xs) -> np.dtype:
    """The dtype numpy's np_fn would produce for these operands."""
    try:
        out = np_fn(*map(stand_in, xs))
        return dtypes.lookup(out if isinstance(out, np.dtype) else np.asarray(out).dtype).np
    except dtypes.DTypeError as err:
        raise tr.user_error(str(err)) from None
    except TypeError as err:
        raise tr.user_error(f"{getattr(np_fn, '__name__', np_fn)}: {err}") from None


def promote(*xs) -> np.dtype:
    return numpy_dtype(np.result_type, *xs)


def emit(op_cls, *operands: Tensor, result_types=None, **props):
    """Emit an op on the active trace; returns a Tensor, or a tuple for several results."""
    ctx = trace_of(*operands)
    op = ctx.emit(op_cls, *(ctx.lift(t.trace, t.value) for t in operands), result_types=result_types, **props)
    if len(op.results) == 1:
        return Tensor(op.results[0], ctx)
    return tuple(Tensor(r, ctx) for r in op.results)


def full(shape, value, dt) -> Tensor:
    from spiraltorch.ir.ops.creation import FullOp

    d = dtypes.lookup(dt)
    if d.kind == "f":
        value = float(value)
    elif d.kind == "b":
        value = bool(value)
    else:
        value = int(value)
    return emit(FullOp, result_types=[dtypes.tensor_type(shape, d)], value=value)


def constant(array: np.ndarray) -> Tensor:
    from spiraltorch.ir.ops.creation import ConstantOp

    array = np.asarray(array)
    d = dtypes.lookup(array.dtype)
    if array.size and np.all(array.reshape(-1)[0] == array):  # a splat prints and lowers better
        return full(array.shape, array.reshape(-1)[0].item(), d)
    ty = dtypes.tensor_type(array.shape, d)
    flat = array.astype(np.float32 if d.name == "bf16" else array.dtype).reshape(-1).tolist()
    attr = DenseIntOrFPElementsAttr.from_list(ty, flat)
    return emit(ConstantOp, result_types=[ty], value=attr)


def as_tensor(x, dt=None) -> Tensor:
    """Tensor, Python scalar, numpy array/scalar or nested list -> Tensor (cast to dt if given)."""
    if isinstance(x, Tensor):
        return x if dt is None else cast(x, dt)
    trace_of()
    if is_scalar(x):
        if dt is None:
            dt = {bool: "i1", int: "i64", float: "f64"}[type(x)]
            t = full((), x, dt)
            t.weak = True
            return t
        return full((), x, dt)
    try:
        arr = np.asarray(x)
    except Exception:
        arr = None
    if arr is None or arr.dtype == object:
        raise tr.user_error(f"cannot use a value of type {type(x).__name__} as a tensor")
    try:
        dtypes.lookup(arr.dtype)
    except dtypes.DTypeError as err:
        raise tr.user_error(str(err)) from None
    t = constant(arr)
    return t if dt is None else cast(t, dt)


def cast(t: Tensor, dt) -> Tensor:
    from spiraltorch.ir.ops.elementwise import AstypeOp

    d = dtypes.lookup(dt)
    if t.ir_dtype == d:
        return t
    return emit(AstypeOp, t, result_types=[dtypes.tensor_type(t.shape, d)])


def operands(dt, *xs) -> list[Tensor]:
    """Each operand as a tensor of dtype dt (scalars become constants of dt directly)."""
    return [as_tensor(x, dt) for x in xs]


# ---------------------------------------------------------------------------------------------
# Eager evaluation: st.exp(np_array) outside any trace runs the op through the interpreter, so the
# public functions behave like numpy's when called on arrays.


def eager_ok(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if tr.current() is not None:
            return fn(*args, **kwargs)
        return _run_eagerly(fn, args, kwargs)

    return wrapper


_EAGER_CACHE: dict = {}


def _run_eagerly(fn, args, kwargs):
    from spiraltorch.frontend import pytree
    from spiraltorch.frontend.api import compile as st_compile

    leaves, treedef = pytree.flatten((args, kwargs))
    if any(isinstance(leaf, Tensor) for leaf in leaves):
        raise tr.user_error(_OUTSIDE)
    is_array = [isinstance(leaf, (np.ndarray, np.generic)) for leaf in leaves]
    statics = tuple(leaf for leaf, a in zip(leaves, is_array, strict=True) if not a)
    key = (fn, treedef, tuple(is_array), _hashable(statics))

    compiled = _EAGER_CACHE.get(key)
    if compiled is None:
        def call(*arrays):
            it = iter(arrays)
            st = iter(statics)
            full_leaves = [next(it) if a else next(st) for a in is_array]
            a, k = pytree.unflatten(treedef, full_leaves)
            return fn(*a, **k)

        call.__name__ = fn.__name__
        compiled = _EAGER_CACHE[key] = st_compile(call, target="interp")
    return compiled(*[leaf for leaf, a in zip(leaves, is_array, strict=True) if a])


def _hashable(values):
    try:
        hash(values)
        return values
    except TypeError:
        raise TraceError("eager SpiralTorch calls take arrays and hashable Python values") from None
