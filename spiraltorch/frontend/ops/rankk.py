"""Public Rank-K ops: topk, midk, bottomk and the single entry point rankk; each returns (values, indices).

All four emit one `spiral.rankk` op (never a sort + slice), see docs/ir/rankk.md. k and axis are Python
ints known while tracing (the result shape depends on k).
"""

from __future__ import annotations

import operator

from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.ops.common import as_tensor, eager_ok, emit
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir.ops.rankk import RankKOp, check_rankk
from spiraltorch.ir.shapes import ShapeError

__all__ = ["topk", "midk", "bottomk", "rankk"]

_KIND_NAMES = {"top": "top", "topk": "top", "mid": "mid", "midk": "mid", "bottom": "bottom", "bottomk": "bottom"}


def _static_int(fn_name: str, what: str, value) -> int:
    """A Python int (or numpy integer) argument; a traced tensor or anything else is a TraceError."""
    if isinstance(value, Tensor):
        raise tr.user_error(
            f"{fn_name} {what} must be a Python int known while compiling, got a traced tensor "
            "(pass it as a static argument: static_argnums)"
        )
    if isinstance(value, bool):
        raise tr.user_error(f"{fn_name} {what} must be an int, got a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise tr.user_error(f"{fn_name} {what} must be an int, got {type(value).__name__} {value!r}") from None


def _kind(kind) -> str:
    if isinstance(kind, str) and kind in _KIND_NAMES:
        return _KIND_NAMES[kind]
    raise tr.user_error(
        f'rankk kind must be one of "top", "mid", "bottom" (or "topk", "midk", "bottomk"), got {kind!r}'
    )


def _select(fn_name: str, kind: str, x, k, axis):
    k = _static_int(fn_name, "k", k)
    axis = _static_int(fn_name, "axis", axis)
    return _emit_rankk(fn_name, kind, x, k, axis)


@eager_ok
def _emit_rankk(fn_name: str, kind: str, x, k: int, axis: int):
    x = as_tensor(x)
    try:
        ax = check_rankk(fn_name, x.shape, x.ir_dtype, kind, k, axis)
    except ShapeError as err:
        raise tr.user_error(str(err)) from None
    # Canonical IR: the last axis is the default (omitted); any other axis is stored non-negative.
    stored = None if ax == x.ndim - 1 else ax
    values, indices = emit(RankKOp, x, kind=kind, k=k, axis=stored)
    return values, indices


def topk(x, k, axis=-1):
    """The k largest elements along `axis`, in descending order, and their positions (i64).

    Equal elements keep index order (the lower index ranks first); NaN ranks above +inf (torch.topk)."""
    return _select("topk", "top", x, k, axis)


def bottomk(x, k, axis=-1):
    """The k smallest elements along `axis`, in ascending order (ties: lower index first; NaN largest)."""
    return _select("bottomk", "bottom", x, k, axis)


def midk(x, k, axis=-1):
    """The k elements at descending ranks [(n-k)//2, (n-k)//2 + k) along `axis` (n its length), descending."""
    return _select("midk", "mid", x, k, axis)


def rankk(kind, x, k, axis=-1):
    """kind in "top", "mid", "bottom" (also "topk", "midk", "bottomk"): topk / midk / bottomk."""
    kind = _kind(kind)
    return _select(f"{kind}k", kind, x, k, axis)
