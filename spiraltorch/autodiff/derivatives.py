"""Local derivatives shared by the reverse- and forward-mode rules, written with the public ops.

Elementwise ops are diagonal, so one formula serves both modes: reverse multiplies the cotangent by
the partial derivative (then sums broadcast axes away), forward multiplies the tangent by it.

Conventions at non-differentiable points (documented in docs/passes/autodiff.md):
  * relu'(0) = 0, abs'(0) = 0, floor_divide' = 0, mod: d/da = 1, d/db = -floor(a / b);
  * maximum/minimum (elementwise) split the gradient equally between the operands on ties, and
    max/min reductions split it equally among all tied maximal (minimal) elements;
  * power: d/da = b * a**(b-1) (0 where b == 0), d/db = log(a) * a**b with log(0) read as 0.
"""

from __future__ import annotations

import math

from spiraltorch.frontend import ops as F
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import shapes
from spiraltorch.ir.ops import elementwise as ew

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _mask(cond: Tensor, like: Tensor) -> Tensor:
    return F.astype(cond, like.dtype)


def _gelu(op, x: Tensor, y: Tensor) -> Tensor:
    if op.props().get("approximate", "none") == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
        t = F.tanh(inner)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
    cdf = 0.5 * (1.0 + F.erf(x * (1.0 / math.sqrt(2.0))))
    return cdf + x * F.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _abs(op, x: Tensor, y: Tensor) -> Tensor:
    return _mask(x > 0, x) - _mask(x < 0, x)


# op class -> f(op, x, y) = dy/dx, elementwise
UNARY = {
    ew.NegOp: lambda op, x, y: F.full_like(x, -1.0),
    ew.AbsOp: _abs,
    ew.ReluOp: lambda op, x, y: _mask(x > 0, x),
    ew.ExpOp: lambda op, x, y: y,
    ew.LogOp: lambda op, x, y: 1.0 / x,
    ew.Log1pOp: lambda op, x, y: 1.0 / (1.0 + x),
    ew.TanhOp: lambda op, x, y: 1.0 - y * y,
    ew.SigmoidOp: lambda op, x, y: y * (1.0 - y),
    ew.SqrtOp: lambda op, x, y: 0.5 / y,
    ew.RsqrtOp: lambda op, x, y: -0.5 * y * y * y,
    ew.SinOp: lambda op, x, y: F.cos(x),
    ew.CosOp: lambda op, x, y: -F.sin(x),
    ew.ErfOp: lambda op, x, y: (2.0 / math.sqrt(math.pi)) * F.exp(-(x * x)),
    ew.GeluOp: _gelu,
}


def splat(t: Tensor) -> float | None:
    """The value of a tensor known to be one constant everywhere (a spiral.full), else None."""
    from spiraltorch.ir.ops.creation import FullOp

    owner = t.value.owner
    return owner.props()["value"] if isinstance(owner, FullOp) else None


def _pow(op, a, b, y):
    db = F.log(F.where(a == 0, F.ones_like(a), a)) * y
    c = splat(b)
    if c is not None:  # x ** 2 and friends: no select on a constant exponent
        c = float(c)
        if c == 0.0:
            return F.zeros_like(a), db
        if c == 1.0:
            return F.ones_like(a), db
        return (2.0 * a if c == 2.0 else c * F.power(a, c - 1.0)), db
    return F.where(b == 0, F.zeros_like(y), b * F.power(a, b - 1.0)), db


def _tie(first_wins, ties, like):
    return _mask(first_wins, like) + 0.5 * _mask(ties, like)


# op class -> f(op, a, b, y) = (dy/da, dy/db), each broadcastable to y; None means "exactly 1"
BINARY = {
    ew.AddOp: lambda op, a, b, y: (None, None),
    ew.SubOp: lambda op, a, b, y: (None, -1.0),
    ew.MulOp: lambda op, a, b, y: (b, a),
    ew.DivOp: lambda op, a, b, y: (1.0 / b, -(y / b)),
    ew.FloorDivOp: lambda op, a, b, y: (0.0, 0.0),
    ew.ModOp: lambda op, a, b, y: (None, -F.floor_divide(a, b)),
    ew.PowOp: _pow,
    ew.MaximumOp: lambda op, a, b, y: (_tie(a > b, a == b, y), _tie(b > a, a == b, y)),
    ew.MinimumOp: lambda op, a, b, y: (_tie(a < b, a == b, y), _tie(b < a, a == b, y)),
}


def scale(g: Tensor, d) -> Tensor:
    """g * d where d is a partial from BINARY (None = 1, a Python float, or a tensor)."""
    if d is None:
        return g
    if isinstance(d, float) and d == 0.0:
        return F.zeros_like(g)
    if isinstance(d, float) and d == -1.0:
        return -g
    return g * d


def unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum g over the axes that broadcasting added or stretched, to get back a tensor of `shape`."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    out = F.sum(g, axis=axes) if axes else g
    return F.reshape(out, shape) if out.shape != shape else out


def expand_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    return g if g.shape == tuple(shape) else F.broadcast_to(g, shape)


def keepdims_shape(in_shape, axes) -> tuple[int, ...]:
    return shapes.reduce(tuple(in_shape), tuple(axes), True)


def with_kept_dims(g: Tensor, in_shape, axes) -> Tensor:
    """A reduction's result (or cotangent) reshaped so it broadcasts against the reduction's input."""
    kept = keepdims_shape(in_shape, axes)
    return g if g.shape == kept else F.reshape(g, kept)


def count(in_shape, axes) -> int:
    n = 1
    for a in axes:
        n *= in_shape[a]
    return n


def extremum_mask(x: Tensor, y_kept: Tensor, axes) -> Tensor:
    """1/(number of ties) at the positions holding the max (min), 0 elsewhere."""
    hit = F.astype(x == y_kept, x.dtype)
    return hit / F.sum(hit, axis=tuple(axes), keepdims=True)
