"""`Conv1d`: torch.nn.Conv1d's cross-correlation, built from existing ops (im2col + one matmul).

For input (N, C_in, L): zero padding is a concatenate with zeros on both ends of the length axis; each
kernel tap k is one strided slice xp[:, :, k : k + stride*(L_out-1) + 1 : stride] of shape (N, C_in, L_out);
the K taps are stacked on axis 2 and reshaped to (N, C_in*K, L_out) (row c*K + k), and the weight reshaped
to (C_out, C_in*K) multiplies them: (C_out, C_in*K) @ (N, C_in*K, L_out) -> (N, C_out, L_out). Every
op used is an ordinary differentiable SpiralIR op.
"""

from __future__ import annotations

import math

import numpy as np

import spiraltorch as st
from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.nn.module import Module, positive_int, shape_of, uniform


class Conv1d(Module):
    """1-D convolution (cross-correlation, as torch): (N, C_in, L) -> (N, C_out, L_out), also (C_in, L) ->
    (C_out, L_out) for an unbatched input, with L_out = (L + 2*padding - kernel_size) // stride + 1.

    out[n, o, t] = bias[o] + sum_{c, k} weight[o, c, k] * xpad[n, c, t*stride + k], xpad = x with `padding`
    zeros on each end of the length axis.

    Parameters: {"weight": (C_out, C_in, K), "bias": (C_out,)} (torch's layout; no "bias" when bias=False),
    float32. Init as torch: weight, then bias, ~ U(-1/sqrt(C_in*K), 1/sqrt(C_in*K)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True):
        self.in_channels = positive_int("Conv1d", "in_channels", in_channels)
        self.out_channels = positive_int("Conv1d", "out_channels", out_channels)
        self.kernel_size = positive_int("Conv1d", "kernel_size", kernel_size)
        self.stride = positive_int("Conv1d", "stride", stride)
        self.padding = positive_int("Conv1d", "padding", padding, minimum=0)
        self.bias = bool(bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias}")

    @property
    def weight_shape(self) -> tuple[int, int, int]:
        return (self.out_channels, self.in_channels, self.kernel_size)

    def output_length(self, length: int) -> int:
        return (length + 2 * self.padding - self.kernel_size) // self.stride + 1

    def init_params(self, rng):
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size)
        params = {"weight": uniform(rng, bound, self.weight_shape)}
        if self.bias:
            params["bias"] = uniform(rng, bound, (self.out_channels,))
        return params

    def forward(self, params, x):
        if not isinstance(x, Tensor):
            x = np.asarray(x)  # eager call on an array-like
        shape = shape_of(x)
        if len(shape) not in (2, 3) or shape[-2] != self.in_channels:
            raise tr.user_error(
                f"{self!r} expects an input of shape (N, {self.in_channels}, L) or ({self.in_channels}, L), "
                f"got shape {shape}"
            )
        unbatched = len(shape) == 2
        if unbatched:
            x = st.reshape(x, (1, *shape))
        n, c, length = shape_of(x)
        k, s, p = self.kernel_size, self.stride, self.padding
        l_out = self.output_length(length)
        if l_out < 1:
            raise tr.user_error(
                f"{self!r}: input length {length} (padded to {length + 2 * p}) is shorter than the kernel "
                f"({k}), so there is no output position"
            )
        w = self.param(params, "weight", self.weight_shape)

        if p:
            zeros = st.zeros((n, c, p), dtype=x.dtype)
            x = st.concatenate([zeros, x, zeros], axis=2)
        span = s * (l_out - 1) + 1
        taps = [x[:, :, j : j + span : s] for j in range(k)]  # K x (N, C_in, L_out)
        cols = taps[0] if k == 1 else st.stack(taps, axis=2)  # (N, C_in, K, L_out)
        cols = st.reshape(cols, (n, c * k, l_out))
        y = st.matmul(st.reshape(w, (self.out_channels, c * k)), cols)  # (N, C_out, L_out)
        if self.bias:
            b = self.param(params, "bias", (self.out_channels,))
            y = st.add(y, st.reshape(b, (self.out_channels, 1)))
        if unbatched:
            y = st.reshape(y, (self.out_channels, l_out))
        return y
