"""Public nn ops: softmax, log_softmax, cross_entropy, nll_loss, one_hot.

Each is emitted as ONE IR op (no decomposition here). Losses take scores of shape (*B, C) with the
class axis LAST (torch's (N, C) is the 2-D case) and integer labels of shape (*B). Integer scores
convert to float following numpy's np.exp rule. See docs/ir/nn.md.
"""

from __future__ import annotations

import operator

import numpy as np

from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.ops.common import as_tensor, cast, eager_ok, emit, numpy_dtype
from spiraltorch.frontend.ops.reduction import normalize_axis
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import nn

__all__ = ["softmax", "log_softmax", "cross_entropy", "nll_loss", "one_hot"]


def _float(x) -> Tensor:
    x = as_tensor(x)
    return cast(x, numpy_dtype(np.exp, x))


@eager_ok
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along one axis, computed without overflow."""
    x = _float(x)
    return emit(nn.SoftmaxOp, x, axis=normalize_axis("softmax", x, axis))


@eager_ok
def log_softmax(x, axis=-1):
    """x - logsumexp(x) along one axis, computed without overflow."""
    x = _float(x)
    return emit(nn.LogSoftmaxOp, x, axis=normalize_axis("log_softmax", x, axis))


def _labels(name: str, labels) -> Tensor:
    labels = as_tensor(labels)
    if labels.ir_dtype.kind != "i":
        raise tr.user_error(
            f"{name}: labels must be integer class indices (int32 or int64), got {labels.ir_dtype.name}"
        )
    return labels


def _loss(op_cls, name: str, scores, labels, reduction):
    if reduction not in nn.REDUCTIONS:
        raise tr.user_error(f'{name}: reduction must be "mean", "sum" or "none", got {reduction!r}')
    scores = _float(scores)
    return emit(op_cls, scores, _labels(name, labels), reduction=reduction)


@eager_ok
def cross_entropy(logits, labels, reduction="mean"):
    """Softmax cross-entropy: loss[b] = logsumexp(logits[b, :]) - logits[b, labels[b]].

    logits: (*B, C), class axis LAST; labels: integer (*B). reduction "mean" divides the sum by the
    number of labels, "sum" adds, "none" returns the (*B) losses. A label outside [0, C) gives NaN.
    """
    return _loss(nn.CrossEntropyOp, "cross_entropy", logits, labels, reduction)


@eager_ok
def nll_loss(log_probs, labels, reduction="mean"):
    """Negative log-likelihood: loss[b] = -log_probs[b, labels[b]] (shapes as cross_entropy)."""
    return _loss(nn.NllLossOp, "nll_loss", log_probs, labels, reduction)


@eager_ok
def one_hot(labels, num_classes, dtype=np.float32):
    """labels.shape + (num_classes,), 1 where the index equals the label; labels outside
    [0, num_classes) give an all-zero row (like jax.nn.one_hot)."""
    labels = _labels("one_hot", labels)
    if isinstance(num_classes, (bool, np.bool_)) or isinstance(num_classes, Tensor):
        raise tr.user_error(f"one_hot: num_classes must be a Python int, got {type(num_classes).__name__}")
    try:
        n = operator.index(num_classes)
    except TypeError:
        raise tr.user_error(f"one_hot: num_classes must be an int, got {num_classes!r}") from None
    if n < 1:
        raise tr.user_error(f"one_hot: num_classes must be >= 1, got {n}")
    try:
        d = dtypes.lookup(dtype)
    except dtypes.DTypeError as err:
        raise tr.user_error(f"one_hot: {err}") from None
    ty = dtypes.tensor_type((*labels.shape, n), d)
    return emit(nn.OneHotOp, labels, result_types=[ty], num_classes=n)
