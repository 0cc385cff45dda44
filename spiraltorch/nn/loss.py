"""Losses: MSELoss, CrossEntropyLoss, NLLLoss. Parameter-free callables `loss(input, target)`.

They are not Modules (no params argument): `loss = CrossEntropyLoss(); l = loss(model(params, x), y)`.
reduction is "mean" (default), "sum" or "none", as in torch.
"""

from __future__ import annotations

import spiraltorch as st
from spiraltorch.errors import UsageError
from spiraltorch.frontend import trace as tr
from spiraltorch.nn.module import shape_of

REDUCTIONS = ("mean", "sum", "none")


class _Loss:
    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise UsageError(f'{type(self).__name__}: reduction must be "mean", "sum" or "none", got {reduction!r}')
        self.reduction = reduction

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MSELoss(_Loss):
    """Squared error (input - target)**2, averaged ("mean", over ALL elements), summed ("sum") or elementwise
    ("none"). input and target must have the same shape (torch would broadcast with a warning; here it is an
    error). The result dtype is numpy's for input - target."""

    def __call__(self, input, target):
        a, b = shape_of(input), shape_of(target)
        if a != b:
            raise tr.user_error(f"MSELoss: input shape {a} and target shape {b} differ")
        d = st.subtract(input, target)
        sq = st.multiply(d, d)
        if self.reduction == "mean":
            return st.mean(sq)
        if self.reduction == "sum":
            return st.sum(sq)
        return sq


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (*B, C) (class axis LAST; torch's (N, C) is the 2-D case) and integer
    labels (*B): loss[b] = logsumexp(logits[b]) - logits[b, labels[b]], reduced; st.cross_entropy (one op).
    No class weights, ignore_index or label smoothing; a label outside [0, C) gives NaN."""

    def __call__(self, input, target):
        return st.cross_entropy(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (*B, C) and integer labels (*B): loss[b] = -input[b, labels[b]],
    reduced; st.nll_loss (one op)."""

    def __call__(self, input, target):
        return st.nll_loss(input, target, reduction=self.reduction)
