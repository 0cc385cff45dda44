"""`Linear`: y = x @ W + b, with W stored (in_features, out_features) so the forward needs no transpose."""

from __future__ import annotations

import math

import spiraltorch as st
from spiraltorch.frontend import trace as tr
from spiraltorch.nn.module import Module, positive_int, shape_of, uniform


class Linear(Module):
    """Fully connected layer on the last axis: x (..., in_features) -> (..., out_features).

    Parameters: {"weight": (in_features, out_features), "bias": (out_features,)} (no "bias" when
    bias=False), float32. NOTE: the weight is the TRANSPOSE of torch's (out, in) `weight`.
    Init as torch.nn.Linear: weight and bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features)), weight drawn
    first (row-major over (in, out)), then bias.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        self.in_features = positive_int("Linear", "in_features", in_features)
        self.out_features = positive_int("Linear", "out_features", out_features)
        self.bias = bool(bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"

    def init_params(self, rng):
        bound = 1.0 / math.sqrt(self.in_features)
        params = {"weight": uniform(rng, bound, (self.in_features, self.out_features))}
        if self.bias:
            params["bias"] = uniform(rng, bound, (self.out_features,))
        return params

    def forward(self, params, x):
        shape = shape_of(x)
        if not shape or shape[-1] != self.in_features:
            raise tr.user_error(
                f"{self!r} expects an input whose last dimension is {self.in_features}, got shape {shape}"
            )
        w = self.param(params, "weight", (self.in_features, self.out_features))
        y = st.matmul(x, w)
        if self.bias:
            y = st.add(y, self.param(params, "bias", (self.out_features,)))
        return y
