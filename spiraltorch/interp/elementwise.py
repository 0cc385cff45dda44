"""Interpreter implementations of the elementwise ops (numpy semantics; see docs/ir.md)."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import InterpreterFunctions, impl, register_impls

from spiraltorch.interp import numeric
from spiraltorch.interp.numeric import as_result, float_math, result_dtype
from spiraltorch.ir.ops import elementwise as ew

_SQRT_2_OVER_PI = np.sqrt(2 / np.pi)


def _gelu_exact(x):
    return 0.5 * x * (1 + numeric.erf(x / np.sqrt(2).astype(x.dtype)))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI.astype(x.dtype) * (x + 0.044715 * x**3)))


def _int_power(a, b):
    # numpy raises on negative integer exponents; SpiralIR defines x**-n for integers as
    # truncation toward zero of the real result (1, -1 stay exact, everything else is 0).
    neg = b < 0
    safe = np.power(a, np.where(neg, 0, b))
    inv = np.where(np.abs(a) == 1, np.where(b % 2 == 0, 1, a), 0)
    return np.where(neg, inv, safe)


_FLOAT_UNARY = {
    ew.ExpOp: np.exp, ew.LogOp: np.log, ew.Log1pOp: np.log1p, ew.TanhOp: np.tanh,
    ew.SqrtOp: np.sqrt, ew.RsqrtOp: lambda x: 1 / np.sqrt(x), ew.SinOp: np.sin, ew.CosOp: np.cos,
    ew.ErfOp: numeric.erf, ew.SigmoidOp: numeric.sigmoid,
}
_KEEP_UNARY = {
    ew.NegOp: np.negative, ew.AbsOp: np.abs, ew.LogicalNotOp: np.logical_not,
    ew.ReluOp: lambda x: np.maximum(x, np.zeros((), x.dtype)),
}
_BINARY = {
    ew.AddOp: np.add, ew.SubOp: np.subtract, ew.MulOp: np.multiply, ew.DivOp: np.divide,
    ew.FloorDivOp: np.floor_divide, ew.ModOp: np.mod, ew.MaximumOp: np.maximum, ew.MinimumOp: np.minimum,
    ew.EqOp: np.equal, ew.NeOp: np.not_equal, ew.LtOp: np.less, ew.LeOp: np.less_equal,
    ew.GtOp: np.greater, ew.GeOp: np.greater_equal, ew.LogicalAndOp: np.logical_and,
    ew.LogicalOrOp: np.logical_or, ew.LogicalXorOp: np.logical_xor,
}


def _make_impls():
    # One implementation per op class from the tables above; register_impls reads the
    # methods marked by @impl, so build them as methods of a subclass.
    body = {}
    for cls, fn in _FLOAT_UNARY.items():
        body[f"run_{cls.name}"] = impl(cls)(_unary(fn, half_in_f32=True))
    for cls, fn in _KEEP_UNARY.items():
        body[f"run_{cls.name}"] = impl(cls)(_unary(fn, half_in_f32=False))
    for cls, fn in _BINARY.items():
        body[f"run_{cls.name}"] = impl(cls)(_binary(fn))
    body["run_pow"] = impl(ew.PowOp)(_binary(_power))
    body["run_gelu"] = impl(ew.GeluOp)(_gelu)
    body["run_where"] = impl(ew.WhereOp)(_where)
    body["run_astype"] = impl(ew.AstypeOp)(_astype)
    return register_impls(type("ElementwiseFunctions", (InterpreterFunctions,), body))


def _unary(fn, half_in_f32):
    def run(self, interpreter, op, args):
        x = args[0]
        return (as_result(float_math(fn, x) if half_in_f32 else fn(x), op),)

    return run


def _binary(fn):
    def run(self, interpreter, op, args):
        a, b = args
        if a.dtype in numeric._HALF:
            return (as_result(fn(a.astype(np.float32), b.astype(np.float32)), op),)
        return (as_result(fn(a, b), op),)

    return run


def _power(a, b):
    if a.dtype.kind in "iu":
        return _int_power(a, b)
    out = np.power(a, b)
    # When the exponent is a single element, numpy computes x ** 0.5 as sqrt(x) and x ** -0.5 as 1/sqrt(x),
    # which differ from C pow (SpiralIR's semantics) at -inf and -0.0: pow gives +inf/+0 and +0/+inf.
    half = np.abs(b) == 0.5
    if np.any(half):
        out = np.where(half & (a == -np.inf), np.where(b > 0, np.inf, 0.0), out)
        out = np.where(half & (a == 0), np.where(b > 0, 0.0, np.inf), out)
    return out


def _gelu(self, interpreter, op, args):
    fn = _gelu_tanh if op.props().get("approximate") == "tanh" else _gelu_exact
    return (as_result(float_math(fn, args[0]), op),)


def _where(self, interpreter, op, args):
    c, a, b = args
    return (as_result(np.where(c, a, b), op),)


def _astype(self, interpreter, op, args):
    return (args[0].astype(result_dtype(op)),)


ElementwiseFunctions = _make_impls()
