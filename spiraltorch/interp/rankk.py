"""Interpreter implementation of spiral.rankk (semantics: docs/ir/rankk.md).

Orders come from numpy's stable argsort, which ranks NaN above +inf and keeps equal elements (every
NaN equals every other NaN, -0.0 equals +0.0) in index order. The descending order with ties broken by
the LOWER index is built without negating anything (negating INT_MIN overflows, negating NaN changes
nothing): sort the reversed axis ascending, stably, and reverse the result.
"""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import InterpreterFunctions, impl, register_impls

from spiraltorch.interp.numeric import _HALF, as_result
from spiraltorch.ir.ops.rankk import RankKOp


def descending_order(x: np.ndarray, axis: int) -> np.ndarray:
    """Positions along `axis` sorted by descending value, equal values by ascending position."""
    n = x.shape[axis]
    rev = np.argsort(np.flip(x, axis), axis=axis, kind="stable")  # ties: higher original index first
    return (n - 1) - np.flip(rev, axis)


def ascending_order(x: np.ndarray, axis: int) -> np.ndarray:
    """Positions along `axis` sorted by ascending value, equal values by ascending position."""
    return np.argsort(x, axis=axis, kind="stable")


def rankk(x: np.ndarray, kind: str, k: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, indices) of a rank-k selection; axis may be negative."""
    axis = axis % x.ndim
    # f16 -> f32 and bf16 -> f32 are exact, and numpy's sort of float32 handles NaN reliably.
    keys = x.astype(np.float32) if x.dtype in _HALF else x
    n = x.shape[axis]
    if kind == "bottom":
        order, start = ascending_order(keys, axis), 0
    else:
        order = descending_order(keys, axis)
        start = 0 if kind == "top" else (n - k) // 2
    idx = np.take(order, np.arange(start, start + k), axis=axis).astype(np.int64)
    return np.take_along_axis(x, idx, axis=axis), idx


@register_impls
class RankKFunctions(InterpreterFunctions):
    @impl(RankKOp)
    def run_rankk(self, interpreter, op: RankKOp, args):
        p = op.props()
        values, indices = rankk(args[0], p["kind"], p["k"], p.get("axis", RankKOp.DEFAULT_AXIS))
        return as_result(values, op, 0), as_result(indices, op, 1)
