"""The scalar meaning of each elementwise spiral op, as arith/math IR on one element.

Used by the elementwise kernels now and by fused kernels later: a fused loop body is a composition
of these functions. Half types (f16, bf16) are computed in f32 and rounded once when stored,
which is what the reference interpreter does.
"""

from __future__ import annotations

import math as pymath

from xdsl.dialects import arith, math
from xdsl.dialects.builtin import BFloat16Type, Float16Type
from xdsl.ir import Attribute, SSAValue

from spiraltorch.errors import CompileError
from spiraltorch.ir.kernel_dialect import RemFOp
from spiraltorch.ir.ops import elementwise as ew
from spiraltorch.kernels.builder import F32, KernelBuilder, is_bool, is_float


def compute_type(t: Attribute) -> Attribute:
    return F32 if isinstance(t, Float16Type | BFloat16Type) else t


def _relu(kb: KernelBuilder, x):
    return kb.max(x, kb.const(0, x.type))


def _abs(kb: KernelBuilder, x):
    if is_float(x.type):
        return kb.math(math.AbsFOp, x)
    return kb.math(math.AbsIOp, x)


def _sigmoid(kb: KernelBuilder, x):
    # 1 / (1 + exp(-x)): exp overflows to inf for very negative x, giving exactly 0, never NaN.
    one = kb.const(1.0, x.type)
    return kb.div(one, kb.add(one, kb.exp(kb.neg(x))))


def _rsqrt(kb: KernelBuilder, x):
    return kb.div(kb.const(1.0, x.type), kb.math(math.SqrtOp, x))


def _gelu(kb: KernelBuilder, x, approximate: str):
    half = kb.const(0.5, x.type)
    one = kb.const(1.0, x.type)
    if approximate == "tanh":
        x3 = kb.mul(kb.mul(x, x), x)
        inner = kb.mul(kb.const(pymath.sqrt(2 / pymath.pi), x.type), kb.add(x, kb.mul(kb.const(0.044715, x.type), x3)))
        return kb.mul(kb.mul(half, x), kb.add(one, kb.math(math.TanhOp, inner)))
    phi = kb.add(one, kb.math(math.ErfOp, kb.mul(x, kb.const(1 / pymath.sqrt(2), x.type))))
    return kb.mul(kb.mul(half, x), phi)


def _logical_not(kb: KernelBuilder, x):
    return kb.insert(arith.XOrIOp(x, kb.const(1, x.type)))


_UNARY = {
    ew.NegOp: lambda kb, x: kb.neg(x),
    ew.AbsOp: _abs,
    ew.ReluOp: _relu,
    ew.ExpOp: lambda kb, x: kb.math(math.ExpOp, x),
    ew.LogOp: lambda kb, x: kb.math(math.LogOp, x),
    ew.Log1pOp: lambda kb, x: kb.math(math.Log1pOp, x),
    ew.TanhOp: lambda kb, x: kb.math(math.TanhOp, x),
    ew.SinOp: lambda kb, x: kb.math(math.SinOp, x),
    ew.CosOp: lambda kb, x: kb.math(math.CosOp, x),
    ew.ErfOp: lambda kb, x: kb.math(math.ErfOp, x),
    ew.SqrtOp: lambda kb, x: kb.math(math.SqrtOp, x),
    ew.RsqrtOp: _rsqrt,
    ew.SigmoidOp: _sigmoid,
    ew.LogicalNotOp: _logical_not,
}


def _int_divmod(kb: KernelBuilder, a, b):
    """numpy's floor division and modulo for signed ints, with x // 0 == x % 0 == 0 as numpy gives."""
    zero = kb.const(0, a.type)
    is_zero = kb.cmp("==", b, zero)
    safe_b = kb.select(is_zero, kb.const(1, a.type), b)
    q = kb.insert(arith.FloorDivSIOp(a, safe_b))
    r = kb.sub(a, kb.mul(q, safe_b))
    return kb.select(is_zero, zero, q), kb.select(is_zero, zero, r)


def _float_divmod(kb: KernelBuilder, a, b):
    """numpy's npy_divmod for floats: mod has the sign of b; floordiv is exact when b divides a."""
    fmod = kb.insert(RemFOp(a, b))
    zero = kb.const(0.0, a.type)
    div = kb.div(kb.sub(a, fmod), b)
    fix = kb.insert(arith.AndIOp(kb.cmp("!=", fmod, zero),
                                 kb.cmp("!=", kb.cmp("<", b, zero), kb.cmp("<", fmod, zero))))
    mod = kb.select(fix, kb.add(fmod, b), fmod)
    div = kb.select(fix, kb.sub(div, kb.const(1.0, a.type)), div)
    floordiv = kb.math(math.FloorOp, div)
    floordiv = kb.select(kb.cmp(">", kb.sub(div, floordiv), kb.const(0.5, a.type)),
                         kb.add(floordiv, kb.const(1.0, a.type)), floordiv)
    # b == 0: numpy gives a / 0 (inf or nan) for floordiv and nan for mod.
    b_zero = kb.cmp("==", b, zero)
    floordiv = kb.select(b_zero, kb.div(a, b), floordiv)
    mod = kb.select(b_zero, kb.const(float("nan"), a.type), mod)
    return floordiv, mod


def constant_exponent(op) -> float | None:
    """The exponent of a pow whose right operand is a splat constant (x ** 3 in user code)."""
    from spiraltorch.ir.ops.creation import FullOp

    if not isinstance(op, ew.PowOp):
        return None
    owner = op.rhs.owner
    return float(owner.props()["value"]) if isinstance(owner, FullOp) else None


def _pow(kb: KernelBuilder, op, a, b):
    if not is_float(a.type):
        return _int_pow(kb, a, b)
    e = constant_exponent(op)
    # Small constant exponents become multiplies (exact, vectorizable); pow() proper is a scalar libm call.
    if e in (1.0, 2.0, 3.0, 4.0):
        out = a
        for _ in range(int(e) - 1):
            out = kb.mul(out, a)
        return out
    if e == 0.5:
        return kb.math(math.SqrtOp, a)
    if e == -1.0:
        return kb.div(kb.const(1.0, a.type), a)
    return kb.insert(math.PowFOp(a, b))


def _int_pow(kb: KernelBuilder, a, b):
    """Exponentiation by squaring over the exponent's bits (branch-free); negative exponents follow the
    interpreter: 1 -> 1, -1 -> +-1, anything else -> 0."""
    t = a.type
    one, zero = kb.const(1, t), kb.const(0, t)
    width = t.width.data
    with kb.loop(0, width - 1, inits=[one, a, b]) as lp:
        acc, base, e = lp.args
        bit = kb.insert(arith.AndIOp(e, one))
        acc = kb.select(kb.cmp("!=", bit, zero), kb.mul(acc, base), acc)
        lp.yield_(acc, kb.mul(base, base), kb.insert(arith.ShRSIOp(e, one)))
    positive = lp.results[0]
    odd = kb.cmp("!=", kb.insert(arith.AndIOp(b, one)), zero)
    neg_one = kb.const(-1, t)
    inverse = kb.select(kb.cmp("==", a, one), one,
                        kb.select(kb.cmp("==", a, neg_one), kb.select(odd, neg_one, one), zero))
    return kb.select(kb.cmp("<", b, zero), inverse, positive)


def _binary(kb: KernelBuilder, op, a, b):
    t = type(op)
    if t is ew.AddOp:
        return kb.add(a, b)
    if t is ew.SubOp:
        return kb.sub(a, b)
    if t is ew.MulOp:
        return kb.mul(a, b)
    if t is ew.DivOp:
        return kb.div(a, b)
    if t is ew.MaximumOp:
        return kb.max(a, b)
    if t is ew.MinimumOp:
        return kb.min(a, b)
    if t in (ew.FloorDivOp, ew.ModOp):
        q, r = (_float_divmod if is_float(a.type) else _int_divmod)(kb, a, b)
        return q if t is ew.FloorDivOp else r
    if t is ew.PowOp:
        return _pow(kb, op, a, b)
    cmp = {ew.EqOp: "==", ew.NeOp: "!=", ew.LtOp: "<", ew.LeOp: "<=", ew.GtOp: ">", ew.GeOp: ">="}.get(t)
    if cmp:
        return kb.cmp(cmp, a, b)
    logical = {ew.LogicalAndOp: arith.AndIOp, ew.LogicalOrOp: arith.OrIOp, ew.LogicalXorOp: arith.XOrIOp}.get(t)
    if logical:
        return kb.insert(logical(a, b))
    raise CompileError(f"CPU backend: no scalar lowering for {op.name}")


def scalar(kb: KernelBuilder, op, args: list[SSAValue]) -> SSAValue:
    """Emit the scalar computation of elementwise op `op` on already-converted args."""
    t = type(op)
    if t in _UNARY:
        return _UNARY[t](kb, args[0])
    if t is ew.GeluOp:
        return _gelu(kb, args[0], op.props().get("approximate", "none"))
    if t is ew.WhereOp:
        return kb.select(*args)
    if t is ew.AstypeOp:
        return args[0]  # the conversion happens on load/store
    if len(args) == 2:
        return _binary(kb, op, *args)
    raise CompileError(f"CPU backend: no scalar lowering for {op.name}")


def operand_compute_types(op) -> list[Attribute]:
    """The type each operand is converted to before the scalar computation."""
    from spiraltorch.ir import dtypes

    if isinstance(op, ew.AstypeOp):
        return [_compute_for_astype(op)]
    if isinstance(op, ew.WhereOp):
        t = compute_type(dtypes.dtype_of(op.lhs.type).ir)
        return [op.cond.type.element_type, t, t]
    return [compute_type(o.type.element_type) for o in op.operands]


def _compute_for_astype(op) -> Attribute:
    src = op.input.type.element_type
    return compute_type(src) if not is_bool(src) else src
