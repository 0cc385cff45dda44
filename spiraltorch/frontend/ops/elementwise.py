"""Public elementwise ops (numpy names): arithmetic, comparisons, logic, unary math, where, astype."""

from __future__ import annotations

import numpy as np

from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.ops.common import as_tensor, cast, eager_ok, emit, numpy_dtype, operands, promote
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import elementwise as ew

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "floor_divide",
    "mod",
    "power",
    "maximum",
    "minimum",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "invert",
    "negative",
    "abs",
    "relu",
    "exp",
    "log",
    "log1p",
    "tanh",
    "sigmoid",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "erf",
    "gelu",
    "where",
    "astype",
    "neg",
    "sub",
    "mul",
    "div",
    "true_divide",
    "remainder",
    "pow",
]


def _binary(op_cls, np_fn, a, b):
    dt = numpy_dtype(np_fn, a, b)
    return emit(op_cls, *operands(dt, a, b))


def _compare(op_cls, a, b):
    return emit(op_cls, *operands(promote(a, b), a, b))


def _logical(op_cls, a, b):
    return emit(op_cls, *operands(np.bool_, a, b))


def _float_unary(op_cls, x, **props):
    x = as_tensor(x)
    return emit(op_cls, cast(x, numpy_dtype(np.exp, x)), **props)


def _keep_unary(op_cls, x):
    return emit(op_cls, as_tensor(x))


# --- binary arithmetic ---------------------------------------------------------------------------
@eager_ok
def add(a, b):
    return _binary(ew.AddOp, np.add, a, b)


@eager_ok
def subtract(a, b):
    return _binary(ew.SubOp, np.subtract, a, b)


@eager_ok
def multiply(a, b):
    return _binary(ew.MulOp, np.multiply, a, b)


@eager_ok
def divide(a, b):
    return _binary(ew.DivOp, np.divide, a, b)


@eager_ok
def floor_divide(a, b):
    return _binary(ew.FloorDivOp, np.floor_divide, a, b)


@eager_ok
def mod(a, b):
    return _binary(ew.ModOp, np.mod, a, b)


@eager_ok
def power(a, b):
    return _binary(ew.PowOp, np.power, a, b)


@eager_ok
def maximum(a, b):
    return _binary(ew.MaximumOp, np.maximum, a, b)


@eager_ok
def minimum(a, b):
    return _binary(ew.MinimumOp, np.minimum, a, b)


# --- comparisons and logic -----------------------------------------------------------------------
@eager_ok
def equal(a, b):
    return _compare(ew.EqOp, a, b)


@eager_ok
def not_equal(a, b):
    return _compare(ew.NeOp, a, b)


@eager_ok
def less(a, b):
    return _compare(ew.LtOp, a, b)


@eager_ok
def less_equal(a, b):
    return _compare(ew.LeOp, a, b)


@eager_ok
def greater(a, b):
    return _compare(ew.GtOp, a, b)


@eager_ok
def greater_equal(a, b):
    return _compare(ew.GeOp, a, b)


def _truth(x) -> Tensor:
    """numpy's truth value of each element (x != 0), as bool."""
    x = as_tensor(x)
    return x if x.ir_dtype.kind == "b" else not_equal(x, 0)


@eager_ok
def logical_and(a, b):
    return emit(ew.LogicalAndOp, _truth(a), _truth(b))


@eager_ok
def logical_or(a, b):
    return emit(ew.LogicalOrOp, _truth(a), _truth(b))


@eager_ok
def logical_xor(a, b):
    return emit(ew.LogicalXorOp, _truth(a), _truth(b))


@eager_ok
def logical_not(x):
    return emit(ew.LogicalNotOp, _truth(x))


def _bool_only(name, *xs):
    for x in xs:
        if isinstance(x, Tensor) and x.ir_dtype.kind != "b":
            raise tr.user_error(
                f"{name} is supported on bool tensors only (got {x.ir_dtype.name}); integer bitwise ops "
                "are not in SpiralIR"
            )


@eager_ok
def bitwise_and(a, b):
    _bool_only("&", a, b)
    return _logical(ew.LogicalAndOp, a, b)


@eager_ok
def bitwise_or(a, b):
    _bool_only("|", a, b)
    return _logical(ew.LogicalOrOp, a, b)


@eager_ok
def bitwise_xor(a, b):
    _bool_only("^", a, b)
    return _logical(ew.LogicalXorOp, a, b)


@eager_ok
def invert(x):
    _bool_only("~", x)
    return emit(ew.LogicalNotOp, as_tensor(x))


# --- unary ---------------------------------------------------------------------------------------
@eager_ok
def negative(x):
    return _keep_unary(ew.NegOp, x)


@eager_ok
def abs(x):  # noqa: A001 - numpy's name
    return _keep_unary(ew.AbsOp, x)


@eager_ok
def relu(x):
    return _keep_unary(ew.ReluOp, x)


@eager_ok
def exp(x):
    return _float_unary(ew.ExpOp, x)


@eager_ok
def log(x):
    return _float_unary(ew.LogOp, x)


@eager_ok
def log1p(x):
    return _float_unary(ew.Log1pOp, x)


@eager_ok
def tanh(x):
    return _float_unary(ew.TanhOp, x)


@eager_ok
def sigmoid(x):
    return _float_unary(ew.SigmoidOp, x)


@eager_ok
def sqrt(x):
    return _float_unary(ew.SqrtOp, x)


@eager_ok
def rsqrt(x):
    return _float_unary(ew.RsqrtOp, x)


@eager_ok
def sin(x):
    return _float_unary(ew.SinOp, x)


@eager_ok
def cos(x):
    return _float_unary(ew.CosOp, x)


@eager_ok
def erf(x):
    return _float_unary(ew.ErfOp, x)


@eager_ok
def gelu(x, approximate: str = "none"):
    """x * Phi(x) (exact, with erf); approximate="tanh" uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise tr.user_error(f'gelu approximate must be "none" or "tanh", got {approximate!r}')
    return _float_unary(ew.GeluOp, x, approximate=None if approximate == "none" else approximate)


# --- where, astype -------------------------------------------------------------------------------
@eager_ok
def where(cond, a, b):
    dt = promote(a, b)
    return emit(ew.WhereOp, _truth(cond), *operands(dt, a, b))


@eager_ok
def astype(x, dtype):
    try:
        d = dtypes.lookup(dtype)
    except dtypes.DTypeError as err:
        raise tr.user_error(str(err)) from None
    return cast(as_tensor(x), d)


# numpy-style aliases
neg = negative
sub = subtract
mul = multiply
div = divide
true_divide = divide
remainder = mod
pow = power  # noqa: A001
