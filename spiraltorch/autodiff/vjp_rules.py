"""Reverse-mode rules: `VJP[op class](op, ins, outs, cts) -> one cotangent (or None) per operand`.

`ins`/`outs` are the op's operands/results (as Tensors of the derivative code), `cts` the cotangents of
the results (None for a result nothing depends on). None for an operand means "no gradient flows"
(integer operands, or a zero derivative). Rules use the public ops, so numpy's dtype rules and the
shape checks apply to derivative code too, and every rule is itself differentiable (grad of grad).
"""

from __future__ import annotations

from spiraltorch.autodiff import derivatives as D
from spiraltorch.frontend import ops as F
from spiraltorch.frontend.ops.common import emit
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import elementwise as ew
from spiraltorch.ir.ops import linalg as la
from spiraltorch.ir.ops import nn
from spiraltorch.ir.ops import rankk as rk
from spiraltorch.ir.ops import reduction as red
from spiraltorch.ir.ops import shape as sh

VJP: dict = {}


def rule(*op_classes):
    def register(fn):
        for cls in op_classes:
            VJP[cls] = fn
        return fn

    return register


def _zeros(x: Tensor) -> Tensor:
    return F.zeros(x.shape, x.dtype)


# --- elementwise ------------------------------------------------------------------------------------
@rule(ew.ReluOp)
def _relu(op, ins, outs, cts):
    (x,), (g,) = ins, cts
    return [F.where(x > 0, g, F.zeros((), g.dtype))]  # one select instead of a cast and a multiply


@rule(*(c for c in D.UNARY if c is not ew.ReluOp))
def _unary(op, ins, outs, cts):
    (x,), (y,), (g,) = ins, outs, cts
    return [g * D.UNARY[type(op)](op, x, y)]


@rule(*D.BINARY)
def _binary(op, ins, outs, cts):
    (a, b), (y,), (g,) = ins, outs, cts
    da, db = D.BINARY[type(op)](op, a, b, y)
    return [D.unbroadcast(D.scale(g, da), a.shape), D.unbroadcast(D.scale(g, db), b.shape)]


@rule(ew.WhereOp)
def _where(op, ins, outs, cts):
    (c, a, b), (g,) = ins, cts
    zero = F.zeros((), g.dtype)
    return [None, D.unbroadcast(F.where(c, g, zero), a.shape), D.unbroadcast(F.where(c, zero, g), b.shape)]


@rule(ew.AstypeOp)
def _astype(op, ins, outs, cts):
    (x,), (g,) = ins, cts
    if not x.ir_dtype.is_float:
        return [None]
    return [F.astype(g, x.dtype)]


# --- reductions -----------------------------------------------------------------------------------
def _axes(op) -> tuple[int, ...]:
    return op.normalized_axes()


@rule(red.SumOp)
def _sum(op, ins, outs, cts):
    (x,), (g,) = ins, cts
    return [D.expand_to(D.with_kept_dims(g, x.shape, _axes(op)), x.shape)]


@rule(red.MeanOp)
def _mean(op, ins, outs, cts):
    (x,), (g,) = ins, cts
    axes = _axes(op)
    return [D.expand_to(D.with_kept_dims(g, x.shape, axes) * (1.0 / max(D.count(x.shape, axes), 1)), x.shape)]


@rule(red.MaxOp, red.MinOp)
def _extremum(op, ins, outs, cts):
    (x,), (y,), (g,) = ins, outs, cts
    axes = _axes(op)
    y_k = D.with_kept_dims(y, x.shape, axes)
    return [D.with_kept_dims(g, x.shape, axes) * D.extremum_mask(x, y_k, axes)]


@rule(red.LogSumExpOp)
def _logsumexp(op, ins, outs, cts):
    (x,), (y,), (g,) = ins, outs, cts
    axes = _axes(op)
    return [D.with_kept_dims(g, x.shape, axes) * F.exp(x - D.with_kept_dims(y, x.shape, axes))]


# --- nn -------------------------------------------------------------------------------------------
@rule(nn.SoftmaxOp)
def _softmax(op, ins, outs, cts):
    (y,), (g,) = outs, cts
    axis = op.props()["axis"]
    return [y * (g - F.sum(g * y, axis=axis, keepdims=True))]


@rule(nn.LogSoftmaxOp)
def _log_softmax(op, ins, outs, cts):
    (y,), (g,) = outs, cts
    axis = op.props()["axis"]
    return [g - F.exp(y) * F.sum(g, axis=axis, keepdims=True)]


def loss_row_scale(op, g: Tensor, batch_shape) -> Tensor:
    """The cotangent of a loss as a (*B, 1) factor per row, from its reduction."""
    reduction = op.props().get("reduction", "mean")
    if reduction == "none":
        return F.reshape(g, (*batch_shape, 1))
    per_row = g * (1.0 / max(D.count(batch_shape, range(len(batch_shape))), 1)) if reduction == "mean" else g
    return F.reshape(per_row, (1,) * len(batch_shape) + (1,))


@rule(nn.CrossEntropyOp)
def _cross_entropy(op, ins, outs, cts):
    (x, labels), (g,) = ins, cts
    # One op, one pass per row (and one kernel together with the forward loss after fusion).
    return [emit(nn.CrossEntropyGradOp, x, labels, g, reduction=op.props().get("reduction", "mean")), None]


@rule(nn.CrossEntropyGradOp)
def _cross_entropy_grad(op, ins, outs, cts):
    """y = (p - onehot) * s with p = softmax(x): dx = s * p * (h - sum(h * p)) for h = cotangent; ds = the
    contraction of h with (p - onehot), reduced like the loss."""
    (x, labels, g), (h,) = ins, cts
    scale = loss_row_scale(op, g, x.shape[:-1])
    p = F.softmax(x, axis=-1)
    dx = p * (h * scale - F.sum(h * scale * p, axis=-1, keepdims=True))
    d = p - F.one_hot(labels, x.shape[-1], dtype=x.dtype)
    ones = F.ones(g.shape, g.dtype)
    per_row = F.sum(h * d * loss_row_scale(op, ones, x.shape[:-1]), axis=-1)
    dg = per_row if g.shape == per_row.shape else F.sum(per_row)
    return [dx, None, dg]


@rule(nn.NllLossOp)
def _nll_loss(op, ins, outs, cts):
    (x, labels), (g,) = ins, cts
    onehot = F.one_hot(labels, x.shape[-1], dtype=x.dtype)
    return [-(onehot * loss_row_scale(op, g, x.shape[:-1])), None]


# --- linalg ---------------------------------------------------------------------------------------
@rule(la.MatmulOp)
def _matmul(op, ins, outs, cts):
    (a, b), (g,) = ins, cts
    ga = emit(la.MatmulOp, g, F.swapaxes(b, -1, -2))
    gb = emit(la.MatmulOp, F.swapaxes(a, -1, -2), g)
    return [D.unbroadcast(ga, a.shape), D.unbroadcast(gb, b.shape)]


# --- shape ----------------------------------------------------------------------------------------
@rule(sh.ReshapeOp)
def _reshape(op, ins, outs, cts):
    return [F.reshape(cts[0], ins[0].shape)]


@rule(sh.TransposeOp)
def _transpose(op, ins, outs, cts):
    perm = op.props()["perm"]
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return [F.transpose(cts[0], tuple(inverse))]


@rule(sh.BroadcastToOp)
def _broadcast_to(op, ins, outs, cts):
    return [D.unbroadcast(cts[0], ins[0].shape)]


@rule(sh.SliceOp)
def _slice(op, ins, outs, cts):
    (x,), (g,) = ins, cts
    p = op.props()
    return [emit(sh.SliceScatterOp, _zeros(x), g, start=p["start"], stride=p["stride"])]


@rule(sh.SliceScatterOp)
def _slice_scatter(op, ins, outs, cts):
    (_base, src), (g,) = ins, cts
    p = op.props()
    g_base = emit(sh.SliceScatterOp, g, _zeros(src), start=p["start"], stride=p["stride"])
    g_src = emit(sh.SliceOp, g, result_types=[src.value.type], start=p["start"], stride=p["stride"])
    return [g_base, g_src]


@rule(sh.ConcatenateOp)
def _concatenate(op, ins, outs, cts):
    (g,) = cts
    axis = op.props()["axis"] % g.ndim
    grads, pos = [], 0
    for x in ins:
        start = [0] * g.ndim
        start[axis] = pos
        grads.append(emit(sh.SliceOp, g, result_types=[x.value.type], start=start, stride=[1] * g.ndim))
        pos += x.shape[axis]
    return grads


def _scatter_add(indices: Tensor, updates: Tensor, axis: int, length: int) -> Tensor:
    shape = list(updates.shape)
    shape[axis] = length
    ty = dtypes.tensor_type(shape, updates.ir_dtype)
    return emit(sh.ScatterAddOp, indices, updates, result_types=[ty], axis=axis)


@rule(sh.TakeAlongAxisOp)
def _take_along_axis(op, ins, outs, cts):
    (x, idx), (g,) = ins, cts
    axis = op.props()["axis"] % x.ndim
    full = _scatter_add(F.broadcast_to(idx, g.shape), g, axis, x.shape[axis])
    return [D.unbroadcast(full, x.shape), None]


@rule(sh.ScatterAddOp)
def _scatter_add_rule(op, ins, outs, cts):
    (idx, upd), (g,) = ins, cts
    axis = op.props()["axis"] % upd.ndim
    return [None, emit(sh.TakeAlongAxisOp, g, idx, axis=axis)]


@rule(rk.RankKOp)
def _rankk(op, ins, outs, cts):
    (x,), (_, idx), (g, _) = ins, outs, cts
    axis = op.props().get("axis", rk.RankKOp.DEFAULT_AXIS) % x.ndim
    if g is None:
        return [None]
    return [_scatter_add(idx, g, axis, x.shape[axis])]


# Ops whose results are integers/bools or constants: nothing flows back (listed so that a missing rule
# for a new op is an error rather than a silent zero).
NON_DIFFERENTIABLE = [
    *(c for c in ew.BINARY_OPS if issubclass(c, (ew.CompareOp, ew.LogicalOp))),
    ew.LogicalNotOp, red.ArgMaxOp, red.ArgMinOp, nn.OneHotOp,
]


@rule(*NON_DIFFERENTIABLE)
def _none(op, ins, outs, cts):
    return [None] * len(ins)
