"""Parameter-free layers: activations (ReLU, Tanh, Sigmoid, GELU, Softmax, LogSoftmax) and Flatten.

Each has the parameter pytree `{}` (what `init()` returns) and ignores the params it is called with, so
it fits in `Sequential` like any layer: `ReLU()({}, x)`.
"""

from __future__ import annotations

import spiraltorch as st
from spiraltorch.errors import UsageError
from spiraltorch.frontend import trace as tr
from spiraltorch.nn.module import Module, shape_of


class ReLU(Module):
    """max(x, 0) (st.relu)."""

    def forward(self, params, x):
        return st.relu(x)


class Tanh(Module):
    """tanh(x) (st.tanh)."""

    def forward(self, params, x):
        return st.tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)) (st.sigmoid)."""

    def forward(self, params, x):
        return st.sigmoid(x)


class GELU(Module):
    """x * Phi(x) with the exact erf form, or approximate="tanh" (as torch.nn.GELU; st.gelu)."""

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise UsageError(f'GELU: approximate must be "none" or "tanh", got {approximate!r}')
        self.approximate = approximate

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, params, x):
        return st.gelu(x, approximate=self.approximate)


class Softmax(Module):
    """st.softmax along `axis` (default: the last axis)."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def forward(self, params, x):
        return st.softmax(x, axis=self.axis)


class LogSoftmax(Softmax):
    """st.log_softmax along `axis` (default: the last axis)."""

    def forward(self, params, x):
        return st.log_softmax(x, axis=self.axis)


class Flatten(Module):
    """Merge axes start_dim..end_dim (inclusive) into one, as torch.nn.Flatten (defaults 1, -1: keep the batch
    axis, flatten the rest)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim = start_dim
        self.end_dim = end_dim

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, params, x):
        shape = shape_of(x)
        nd = max(len(shape), 1)
        start, end = self.start_dim, self.end_dim
        if not (-nd <= start < nd and -nd <= end < nd):
            raise tr.user_error(f"{self!r}: dims out of range for an input of shape {shape}")
        start, end = start % nd, end % nd
        if start > end:
            raise tr.user_error(f"{self!r}: start_dim comes after end_dim for an input of shape {shape}")
        if not shape:
            return st.reshape(x, (1,))
        merged = 1
        for d in shape[start : end + 1]:
            merged *= d
        return st.reshape(x, (*shape[:start], merged, *shape[end + 1 :]))
