"""Interpreter implementations of the nn ops (see docs/ir/nn.md).

Everything is shifted by the maximum before exp, so logits like 1e4 do not overflow. Half types
are computed in f32 and rounded once.
"""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import InterpreterFunctions, impl, register_impls

from spiraltorch.interp.numeric import _HALF, as_result, result_dtype
from spiraltorch.ir.ops import nn


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) if x.dtype in _HALF else x


def _shifted(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(x - max, log(sum(exp(x - max)))) along axis (kept). A row holding NaN or +inf, or only -inf,
    makes x - max NaN somewhere, so the whole row's results are NaN."""
    m = np.max(x, axis=axis, keepdims=True)
    z = x - m
    return z, np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    if x.shape[axis] == 0:
        return x.copy()
    z, lse = _shifted(x, axis)
    return z - lse


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    if x.shape[axis] == 0:
        return x.copy()
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _pick(v: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """v[..., labels[...]] with NaN where the label is outside [0, C)."""
    c = v.shape[-1]
    ok = (labels >= 0) & (labels < c)
    safe = np.where(ok, labels, 0).astype(np.int64)
    got = np.take_along_axis(v, safe[..., None], axis=-1)[..., 0]
    return np.where(ok, got, np.array(np.nan, v.dtype))


def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return losses
    total = np.sum(losses, dtype=losses.dtype)
    if reduction == "sum":
        return total
    return total / losses.dtype.type(losses.size)  # no labels: 0 / 0 = NaN


@register_impls
class NNFunctions(InterpreterFunctions):
    @impl(nn.SoftmaxOp)
    def run_softmax(self, interpreter, op: nn.SoftmaxOp, args):
        (x,) = args
        return (as_result(softmax(_wide(x), op.props()["axis"] % x.ndim), op),)

    @impl(nn.LogSoftmaxOp)
    def run_log_softmax(self, interpreter, op: nn.LogSoftmaxOp, args):
        (x,) = args
        return (as_result(log_softmax(_wide(x), op.props()["axis"] % x.ndim), op),)

    @impl(nn.CrossEntropyOp)
    def run_cross_entropy(self, interpreter, op: nn.CrossEntropyOp, args):
        logits, labels = args
        z, lse = _shifted(_wide(logits), -1)
        losses = lse[..., 0] - _pick(z, labels)
        return (as_result(_reduce(losses, op.props()["reduction"]), op),)

    @impl(nn.NllLossOp)
    def run_nll_loss(self, interpreter, op: nn.NllLossOp, args):
        log_probs, labels = args
        losses = -_pick(_wide(log_probs), labels)
        return (as_result(_reduce(losses, op.props()["reduction"]), op),)

    @impl(nn.CrossEntropyGradOp)
    def run_cross_entropy_grad(self, interpreter, op: nn.CrossEntropyGradOp, args):
        logits, labels, g = (_wide(a) if a.dtype.kind == "f" else a for a in args)
        c = logits.shape[-1]
        onehot = (labels[..., None].astype(np.int64) == np.arange(c, dtype=np.int64)).astype(logits.dtype)
        reduction = op.props()["reduction"]
        if reduction == "none":
            scale = g[..., None]
        else:
            scale = g / logits.dtype.type(max(labels.size, 1)) if reduction == "mean" else g
        return (as_result((softmax(logits, -1) - onehot) * scale, op),)

    @impl(nn.OneHotOp)
    def run_one_hot(self, interpreter, op: nn.OneHotOp, args):
        (labels,) = args
        classes = np.arange(op.props()["num_classes"], dtype=np.int64)
        return ((labels[..., None].astype(np.int64) == classes).astype(result_dtype(op)),)
