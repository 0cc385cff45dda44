"""Forward-mode rules: `JVP[op class](op, ins, outs, tans) -> one tangent (or None) per result`.

`tans` holds the tangent of each operand, None where the operand does not depend on the differentiated
arguments (a zero tangent). Linear ops apply themselves to the tangents; the others multiply by their
local derivative (spiraltorch/autodiff/derivatives.py, shared with reverse mode).
"""

from __future__ import annotations

from spiraltorch.autodiff import derivatives as D
from spiraltorch.autodiff.vjp_rules import NON_DIFFERENTIABLE, loss_row_scale
from spiraltorch.frontend import ops as F
from spiraltorch.frontend.ops.common import emit
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir.ops import elementwise as ew
from spiraltorch.ir.ops import linalg as la
from spiraltorch.ir.ops import nn
from spiraltorch.ir.ops import rankk as rk
from spiraltorch.ir.ops import reduction as red
from spiraltorch.ir.ops import shape as sh

JVP: dict = {}


def rule(*op_classes):
    def register(fn):
        for cls in op_classes:
            JVP[cls] = fn
        return fn

    return register


def _or_zeros(t: Tensor | None, like: Tensor) -> Tensor:
    return t if t is not None else F.zeros(like.shape, like.dtype)


def _same_op(op, tangents: list[Tensor], outs) -> Tensor:
    """A linear op applied to the tangents (same properties and result type)."""
    return emit(type(op), *tangents, result_types=[o.value.type for o in outs], **op.props())


def _add(x: Tensor | None, y: Tensor | None) -> Tensor | None:
    if x is None:
        return y
    return x if y is None else x + y


# --- elementwise ------------------------------------------------------------------------------------
@rule(ew.ReluOp)
def _relu(op, ins, outs, tans):
    (x,), (t,) = ins, tans
    return [F.where(x > 0, t, F.zeros((), t.dtype))]


@rule(*(c for c in D.UNARY if c is not ew.ReluOp))
def _unary(op, ins, outs, tans):
    (x,), (y,), (t,) = ins, outs, tans
    return [t * D.UNARY[type(op)](op, x, y)]


@rule(*D.BINARY)
def _binary(op, ins, outs, tans):
    (a, b), (y,), (ta, tb) = ins, outs, tans
    da, db = D.BINARY[type(op)](op, a, b, y)
    out = _add(None if ta is None else D.scale(ta, da), None if tb is None else D.scale(tb, db))
    return [D.expand_to(out, y.shape)]


@rule(ew.WhereOp)
def _where(op, ins, outs, tans):
    (c, _a, _b), (y,), (_, ta, tb) = ins, outs, tans
    zero = F.zeros((), y.dtype)
    return [D.expand_to(F.where(c, zero if ta is None else ta, zero if tb is None else tb), y.shape)]


@rule(ew.AstypeOp)
def _astype(op, ins, outs, tans):
    (_x,), (y,), (t,) = ins, outs, tans
    return [F.astype(t, y.dtype) if y.ir_dtype.is_float else None]


# --- reductions -----------------------------------------------------------------------------------
@rule(red.SumOp, red.MeanOp)
def _linear_reduce(op, ins, outs, tans):
    return [_same_op(op, tans, outs)]


def _reduce_like(op, t: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """sum of t over the op's axes, shaped like the op's result."""
    return F.reshape(F.sum(t, axis=op.normalized_axes(), keepdims=True), y.shape)


@rule(red.MaxOp, red.MinOp)
def _extremum(op, ins, outs, tans):
    (x,), (y,), (t,) = ins, outs, tans
    axes = op.normalized_axes()
    mask = D.extremum_mask(x, D.with_kept_dims(y, x.shape, axes), axes)
    return [_reduce_like(op, t * mask, x, y)]


@rule(red.LogSumExpOp)
def _logsumexp(op, ins, outs, tans):
    (x,), (y,), (t,) = ins, outs, tans
    p = F.exp(x - D.with_kept_dims(y, x.shape, op.normalized_axes()))
    return [_reduce_like(op, t * p, x, y)]


# --- nn -------------------------------------------------------------------------------------------
@rule(nn.SoftmaxOp)
def _softmax(op, ins, outs, tans):
    (y,), (t,) = outs, tans
    axis = op.props()["axis"]
    return [y * (t - F.sum(t * y, axis=axis, keepdims=True))]


@rule(nn.LogSoftmaxOp)
def _log_softmax(op, ins, outs, tans):
    (y,), (t,) = outs, tans
    axis = op.props()["axis"]
    return [t - F.sum(F.exp(y) * t, axis=axis, keepdims=True)]


def _loss_tangent(op, per_class: Tensor, y: Tensor) -> Tensor:
    """Contract a (*B, C) per-class derivative with the loss's reduction."""
    batch = per_class.shape[:-1]
    ones = F.ones(y.shape, y.dtype)
    weighted = per_class * loss_row_scale(op, ones, batch)
    per_row = F.sum(weighted, axis=-1)
    return per_row if y.shape == batch else F.sum(per_row)


@rule(nn.CrossEntropyOp)
def _cross_entropy(op, ins, outs, tans):
    (x, labels), (y,), (t, _) = ins, outs, tans
    d = F.softmax(x, axis=-1) - F.one_hot(labels, x.shape[-1], dtype=x.dtype)
    return [_loss_tangent(op, d * t, y)]


@rule(nn.CrossEntropyGradOp)
def _cross_entropy_grad(op, ins, outs, tans):
    (x, labels, g), (tx, _, tg) = ins, tans
    scale = loss_row_scale(op, g, x.shape[:-1])
    p = F.softmax(x, axis=-1)
    out = None
    if tx is not None:
        out = p * (tx - F.sum(tx * p, axis=-1, keepdims=True)) * scale
    if tg is not None:
        d = p - F.one_hot(labels, x.shape[-1], dtype=x.dtype)
        part = d * loss_row_scale(op, tg, x.shape[:-1])
        out = part if out is None else out + part
    return [out]


@rule(nn.NllLossOp)
def _nll_loss(op, ins, outs, tans):
    (x, labels), (y,), (t, _) = ins, outs, tans
    return [_loss_tangent(op, -(F.one_hot(labels, x.shape[-1], dtype=x.dtype) * t), y)]


# --- linalg ---------------------------------------------------------------------------------------
@rule(la.MatmulOp)
def _matmul(op, ins, outs, tans):
    (a, b), (y,), (ta, tb) = ins, outs, tans
    left = None if ta is None else emit(la.MatmulOp, ta, b)
    right = None if tb is None else emit(la.MatmulOp, a, tb)
    return [D.expand_to(_add(left, right), y.shape)]


# --- shape ----------------------------------------------------------------------------------------
@rule(sh.ReshapeOp, sh.TransposeOp, sh.BroadcastToOp, sh.SliceOp)
def _linear_unary(op, ins, outs, tans):
    return [_same_op(op, tans, outs)]


@rule(sh.ConcatenateOp, sh.SliceScatterOp)
def _linear_nary(op, ins, outs, tans):
    return [_same_op(op, [_or_zeros(t, x) for t, x in zip(tans, ins, strict=True)], outs)]


@rule(sh.TakeAlongAxisOp)
def _take_along_axis(op, ins, outs, tans):
    (_, idx), (t, _) = ins, tans
    return [emit(sh.TakeAlongAxisOp, t, idx, **op.props())]


@rule(sh.ScatterAddOp)
def _scatter_add(op, ins, outs, tans):
    (idx, _), (_, t) = ins, tans
    return [_same_op(op, [idx, t], outs)]


@rule(rk.RankKOp)
def _rankk(op, ins, outs, tans):
    (x,), (_, idx), (t,) = ins, outs, tans
    axis = op.props().get("axis", rk.RankKOp.DEFAULT_AXIS) % x.ndim
    return [emit(sh.TakeAlongAxisOp, t, idx, axis=axis), None]


@rule(*NON_DIFFERENTIABLE)
def _none(op, ins, outs, tans):
    return [None] * len(outs)
