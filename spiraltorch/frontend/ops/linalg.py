"""Public linalg ops: matmul (also `a @ b`) with numpy.matmul semantics.

spiral.matmul takes operands of rank >= 2; a 1-D operand is made a matrix here ((K,) -> (1, K) on the
left, (K, 1) on the right) and the added axis is removed from the result, as numpy does. Operands are
cast to numpy's result dtype. A bool matmul (numpy: OR of ANDs) is an i32 matmul followed by `!= 0`.
"""

from __future__ import annotations

from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.ops.common import as_tensor, cast, eager_ok, emit, promote
from spiraltorch.frontend.ops.elementwise import not_equal
from spiraltorch.frontend.ops.shape import reshape
from spiraltorch.ir import dtypes, shapes
from spiraltorch.ir.ops import linalg as la

__all__ = ["matmul"]


@eager_ok
def matmul(a, b):
    """numpy.matmul: matrix product of the last two axes, batch axes broadcast; 1-D operands are
    vectors. 0-d operands are rejected (use * to scale)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise tr.user_error("matmul does not accept 0-d operands (use * to multiply by a scalar)")
    ka, kb = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        where_b = "axis 0" if b.ndim == 1 else f"axis {b.ndim - 2}"
        raise tr.user_error(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: {ka} (last axis of the first) "
            f"!= {kb} ({where_b} of the second)"
        )
    try:
        batch = shapes.broadcast(a.shape[:-2], b.shape[:-2])
    except shapes.ShapeError:
        raise tr.user_error(
            f"matmul: the batch axes of {a.shape} and {b.shape} do not broadcast: {a.shape[:-2]} vs {b.shape[:-2]}"
        ) from None
    rows = a.shape[-2:-1]  # () for a 1-D lhs
    cols = b.shape[-1:] if b.ndim > 1 else ()
    out_shape = (*batch, *rows, *cols)

    dt = dtypes.lookup(promote(a, b))
    compute = dtypes.lookup("i32") if dt.kind == "b" else dt
    a2 = cast(reshape(a, (1, ka)) if a.ndim == 1 else a, compute)
    b2 = cast(reshape(b, (kb, 1)) if b.ndim == 1 else b, compute)
    out = reshape(emit(la.MatmulOp, a2, b2), out_shape)
    return not_equal(out, 0) if dt.kind == "b" else out
