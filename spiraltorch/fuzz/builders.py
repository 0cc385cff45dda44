"""One builder per op: draws the op's arguments from the environment, with its error analysis."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as hs

from spiraltorch.fuzz.generator import (
    _COMPARES,
    Var,
    _an_argreduce,
    _an_elementwise,
    _an_exact,
    _an_loss,
    _an_matmul,
    _an_rankk,
    _an_reduce,
    _an_shape,
    _an_softmax,
    _bcast,
    _Gen,
    _promote,
)
from spiraltorch.fuzz.params import _NP, INTS, MAX_RANK, MAX_SIZE
from spiraltorch.fuzz.program import Const, DType, Index, Ref, Step
from spiraltorch.fuzz.support import _PROBES

# ---------------------------------------------------------------------------------------------------
# Builders: draw one op's arguments from the environment (return the steps, or None when nothing fits)
# ---------------------------------------------------------------------------------------------------

UNARY_FLOAT = ("exp", "log", "log1p", "tanh", "sigmoid", "sqrt", "rsqrt", "sin", "cos", "erf", "gelu")
ARITH = ("add", "subtract", "multiply", "divide", "floor_divide", "mod", "power", "maximum", "minimum")
LOGICAL = ("logical_and", "logical_or", "logical_xor")
BITWISE = ("bitwise_and", "bitwise_or", "bitwise_xor")
REDUCTIONS = ("sum", "mean", "max", "min", "logsumexp")
SHAPE_OPS = ("reshape", "ravel", "transpose", "broadcast_to", "expand_dims", "squeeze", "concatenate", "stack",
             "moveaxis", "swapaxes", "take_along_axis", "getitem")
CREATION = ("zeros", "ones", "full", "arange", "zeros_like", "ones_like", "full_like")
RANKK = ("topk", "midk", "bottomk")

_NP_FN = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
          "floor_divide": np.floor_divide, "mod": np.mod, "power": np.power, "maximum": np.maximum,
          "minimum": np.minimum}
_SYMBOL = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "floor_divide": "//", "mod": "%",
           "power": "**", "equal": "==", "not_equal": "!=", "less": "<", "less_equal": "<=", "greater": ">",
           "greater_equal": ">=", "bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^"}


def _literal(g: _Gen, like: Var | None, nonzero: bool = False):
    kind = like.dtype if like is not None else "f32"
    if kind == "i1":
        return g.choice([True, False])
    if kind in INTS or (like is not None and g.int(0, 3) == 0):
        return g.choice([2, 1, 3, -1, 5] if nonzero else [2, 1, 3, -1, 0, 5])
    return g.choice([2.0, 0.5, -1.0, 3.0, 1.5, -2.5, 0.25, 10.0])


def _partner(g: _Gen, a: Var, pred=lambda v: True) -> Var | None:
    """Another operand broadcastable with a."""
    return g.pick(lambda v: pred(v) and _bcast(a.shape, v.shape) is not None)


def _b_unary_float(op):
    def build(g: _Gen):
        x = g.pick()
        if x is None:
            return None
        kwargs = ()
        if op == "gelu" and g.coin():
            kwargs = (("approximate", "tanh"),)
        if op in ("exp", "log", "sqrt", "tanh") and not kwargs and g.int(0, 3) == 0:
            return [Step((g.fresh(),), op, "method" if op in ("exp", "log") else "call", op, (Ref(x.name),))]
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),), kwargs)]
    return build


def _b_keep_unary(op):
    def build(g: _Gen):
        x = g.pick(lambda v: v.dtype != "i1")
        if x is None:
            return None
        if op == "negative" and g.coin():
            return [Step((g.fresh(),), op, "unop", "-", (Ref(x.name),))]
        if op == "abs" and g.coin():
            return [Step((g.fresh(),), op, "unop", "abs", (Ref(x.name),))]
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),))]
    return build


def _b_logical_not(g: _Gen):
    x = g.pick()
    return None if x is None else [Step((g.fresh(),), "logical_not", "call", "logical_not", (Ref(x.name),))]


def _b_invert(g: _Gen):
    x = g.pick(lambda v: v.dtype == "i1")
    if x is None:
        return None
    if g.coin():
        return [Step((g.fresh(),), "invert", "unop", "~", (Ref(x.name),))]
    return [Step((g.fresh(),), "invert", "call", "invert", (Ref(x.name),))]


def _binary_step(g: _Gen, op: str, a: Var, b, np_fn, symbol: str | None) -> list[Step] | None:
    if _promote(np_fn, a, b) is None:
        return None
    bref = Ref(b.name) if isinstance(b, Var) else b
    out = (g.fresh(),)
    if symbol is not None and g.coin():
        if not isinstance(b, Var) and g.coin():  # scalar on the left: the reflected operator
            return [Step(out, op, "binop", symbol, (bref, Ref(a.name)))]
        return [Step(out, op, "binop", symbol, (Ref(a.name), bref))]
    if g.int(0, 5) == 0:
        return [Step(out, op, "call", op, (bref, Ref(a.name)))]
    return [Step(out, op, "call", op, (Ref(a.name), bref))]


def _b_arith(op):
    def build(g: _Gen):
        a = g.pick(lambda v: v.dtype != "i1")
        if a is None:
            return None
        r = g.int(0, 9)
        nonzero = op in ("divide", "floor_divide", "mod")  # (x / 0 with a literal 0: numpy warns while tracing)
        if r < 3:
            b = _literal(g, a, nonzero)
        elif r < 4:
            b = a
        else:
            b = _partner(g, a, lambda v: v.dtype != "i1") or _literal(g, a, nonzero)
        return _binary_step(g, op, a, b, _NP_FN[op], _SYMBOL.get(op))
    return build


def _b_compare(op):
    def build(g: _Gen):
        a = g.pick()
        if a is None:
            return None
        b = _literal(g, a) if g.int(0, 3) == 0 else (_partner(g, a) or _literal(g, a))
        return _binary_step(g, op, a, b, np.result_type, _SYMBOL[op])
    return build


def _b_logical(op):
    def build(g: _Gen):
        a = g.pick()
        if a is None:
            return None
        b = _partner(g, a) or a
        return [Step((g.fresh(),), op, "call", op, (Ref(a.name), Ref(b.name)))]
    return build


def _b_bitwise(op):
    def build(g: _Gen):
        a = g.pick(lambda v: v.dtype == "i1")
        if a is None:
            return None
        b = _partner(g, a, lambda v: v.dtype == "i1") or a
        if g.coin():
            return [Step((g.fresh(),), op, "binop", _SYMBOL[op], (Ref(a.name), Ref(b.name)))]
        return [Step((g.fresh(),), op, "call", op, (Ref(a.name), Ref(b.name)))]
    return build


def _b_where(g: _Gen):
    bools = [v for v in g.env if v.dtype == "i1"]
    cond = g.pick(lambda v: v.dtype == "i1") if bools and g.int(0, 3) > 0 else g.pick()
    if cond is None:
        return None
    a = _partner(g, cond) if g.int(0, 3) else None
    if a is None:
        a = cond if cond.dtype != "i1" or g.coin() else None
    a_arg = a if a is not None else _literal(g, None)
    like = a if isinstance(a, Var) else None
    b = (_partner(g, cond, lambda v: _bcast(v.shape, a.shape) is not None) if a is not None and g.coin() else None)
    b_arg = b if b is not None else _literal(g, like)
    if not any(isinstance(x, Var) for x in (a_arg, b_arg)) or _promote(np.result_type, a_arg, b_arg) is None:
        return None
    args = tuple(Ref(x.name) if isinstance(x, Var) else x for x in (cond, a_arg, b_arg))
    return [Step((g.fresh(),), "where", "call", "where", args)]


def _b_astype(g: _Gen):
    x = g.pick()
    if x is None:
        return None
    dst = g.choice(["f32", "i32", "f16", "i64", "f64", "i1", "bf16"])
    if g.int(0, 3) == 0:
        return [Step((g.fresh(),), "astype", "method", "astype", (Ref(x.name), DType(dst)))]
    return [Step((g.fresh(),), "astype", "call", "astype", (Ref(x.name), DType(dst)))]


def _draw_axes(g: _Gen, ndim: int, allow_tuple: bool = True):
    r = g.int(0, 4)
    if r == 0 or ndim == 0:
        return None if (ndim == 0 or not allow_tuple or g.coin()) else ()
    if r <= 2 or not allow_tuple:
        a = g.int(0, ndim - 1)
        return a - ndim if g.coin() else a
    k = g.int(1, ndim)
    axes = sorted(g.draw(hs.permutations(range(ndim)))[:k])
    return tuple(a - ndim if g.int(0, 3) == 0 else a for a in axes)


def _b_reduce(op):
    def build(g: _Gen):
        x = g.pick()
        if x is None:
            return None
        axis = _draw_axes(g, x.ndim)
        keep = g.int(0, 2) == 0
        kwargs = []
        if axis is not None or g.coin():
            kwargs.append(("axis", axis))
        if keep:
            kwargs.append(("keepdims", True))
        if op in ("sum", "mean", "max", "min") and g.int(0, 3) == 0:
            return [Step((g.fresh(),), op, "method", op, (Ref(x.name),), tuple(kwargs))]
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),), tuple(kwargs))]
    return build


def _b_argreduce(op):
    def build(g: _Gen):
        x = g.pick()
        if x is None:
            return None
        kwargs = []
        if x.ndim and g.int(0, 3) > 0:
            a = g.int(0, x.ndim - 1)
            kwargs.append(("axis", a - x.ndim if g.coin() else a))
        if g.int(0, 2) == 0:
            kwargs.append(("keepdims", True))
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),), tuple(kwargs))]
    return build


def _b_softmax(op):
    def build(g: _Gen):
        x = g.pick(lambda v: v.ndim >= 1)
        if x is None:
            return None
        a = g.int(0, x.ndim - 1)
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),), (("axis", a - x.ndim if g.coin() else a),))]
    return build


def _labels(g: _Gen, shape: tuple, n: int):
    """Integer class labels of shape (an int variable of that shape, or a constant), mostly in [0, n)."""
    v = g.pick(lambda v: v.dtype in INTS and v.shape == shape) if g.coin() else None
    if v is not None:
        return Ref(v.name)
    lab = g.rng.integers(0, n, size=shape)
    if g.int(0, 3) == 0:
        lab = np.where(g.rng.random(shape) < 0.2, g.rng.choice([-1, n], size=shape), lab)
    return Const(np.asarray(lab, dtype=_NP[g.choice(["i64", "i32"])]))


def _b_loss(op):
    def build(g: _Gen):
        x = g.pick(lambda v: v.ndim >= 1 and v.ndim <= 4)
        if x is None:
            return None
        labels = _labels(g, x.shape[:-1], x.shape[-1])
        red = g.choice(["mean", "sum", "none"])
        kwargs = (("reduction", red),) if red != "mean" or g.coin() else ()
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name), labels), kwargs)]
    return build


def _b_one_hot(g: _Gen):
    v = g.pick(lambda v: v.dtype in INTS and v.ndim <= 3)
    n = g.int(1, 7)
    labels = Ref(v.name) if v is not None and g.coin() else _labels(g, g.draw_shape(2), n)
    kwargs = (("dtype", DType(g.choice(["f32", "i32", "i1", "f64", "i64", "f16"]))),) if g.coin() else ()
    return [Step((g.fresh(),), "one_hot", "call", "one_hot", (labels, n), kwargs)]


def _matmul_ok(a: Var, b: Var) -> bool:
    if a.ndim == 0 or b.ndim == 0:
        return False
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != kb:
        return False
    batch = _bcast(a.shape[:-2], b.shape[:-2])
    return batch is not None and len(batch) + 2 <= MAX_RANK and _promote(np.result_type, a, b) is not None


def _b_matmul(g: _Gen):
    a = g.pick(lambda v: v.ndim >= 1)
    if a is None:
        return None
    b = g.pick(lambda v: _matmul_ok(a, v)) if g.int(0, 3) > 0 else None
    steps = []
    if b is None:  # a @ a^T (or a @ a for vectors)
        if a.ndim == 1:
            b_ref = Ref(a.name)
        else:
            t = g.fresh()
            steps.append(Step((t,), "swapaxes", "call", "swapaxes", (Ref(a.name), -1, -2)))
            b_ref = Ref(t)
    else:
        b_ref = Ref(b.name)
    out = (g.fresh(),)
    steps.append(Step(out, "matmul", "binop", "@", (Ref(a.name), b_ref)) if g.coin()
                 else Step(out, "matmul", "call", "matmul", (Ref(a.name), b_ref)))
    return steps


def _factor_shape(g: _Gen, size: int) -> tuple:
    factors = []
    n, p = size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    rank = g.int(1 if size > 1 else 0, 4)
    if rank == 0:
        return ()
    dims = [1] * rank
    for f in factors:
        dims[g.int(0, rank - 1)] *= f
    return tuple(dims)


def _b_reshape(g: _Gen):
    x = g.pick()
    if x is None:
        return None
    shape = _factor_shape(g, x.value.size)
    if shape and g.int(0, 3) == 0:
        j = g.int(0, len(shape) - 1)
        shape = shape[:j] + (-1,) + shape[j + 1:]
    if g.int(0, 3) == 0:
        return [Step((g.fresh(),), "reshape", "method", "reshape", (Ref(x.name), shape))]
    return [Step((g.fresh(),), "reshape", "call", "reshape", (Ref(x.name), shape))]


def _b_ravel(g: _Gen):
    x = g.pick()
    return None if x is None else [Step((g.fresh(),), "ravel", "call", "ravel", (Ref(x.name),))]


def _b_transpose(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 2)
    if x is None:
        return None
    r = g.int(0, 3)
    if r == 0:
        return [Step((g.fresh(),), "transpose", "attr", "T", (Ref(x.name),))]
    if r == 1:
        return [Step((g.fresh(),), "transpose", "call", "transpose", (Ref(x.name),))]
    perm = tuple(g.draw(hs.permutations(range(x.ndim))))
    return [Step((g.fresh(),), "transpose", "call", "transpose", (Ref(x.name), perm))]


def _b_broadcast_to(g: _Gen):
    x = g.pick()
    if x is None:
        return None
    shape = [g.int(2, 4) if d == 1 and g.coin() else d for d in x.shape]
    while len(shape) < MAX_RANK and g.int(0, 2) == 0:
        shape.insert(0, g.int(1, 4))
    shape = tuple(shape)
    if shape == x.shape or int(np.prod(shape)) > MAX_SIZE:
        return None
    return [Step((g.fresh(),), "broadcast_to", "call", "broadcast_to", (Ref(x.name), shape))]


def _b_expand_dims(g: _Gen):
    x = g.pick(lambda v: v.ndim < MAX_RANK)
    if x is None:
        return None
    if x.ndim + 2 <= MAX_RANK and g.int(0, 3) == 0:
        axes = tuple(sorted(g.draw(hs.permutations(range(x.ndim + 2)))[:2]))
        return [Step((g.fresh(),), "expand_dims", "call", "expand_dims", (Ref(x.name), axes))]
    a = g.int(0, x.ndim)
    return [Step((g.fresh(),), "expand_dims", "call", "expand_dims", (Ref(x.name), a - x.ndim - 1 if g.coin() else a))]


def _b_squeeze(g: _Gen):
    x = g.pick(lambda v: 1 in v.shape)
    if x is None:
        return None
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    r = g.int(0, 2)
    if r == 0:
        return [Step((g.fresh(),), "squeeze", "call", "squeeze", (Ref(x.name),))]
    if r == 1:
        return [Step((g.fresh(),), "squeeze", "method", "squeeze", (Ref(x.name), g.choice(ones)))]
    k = g.int(1, len(ones))
    return [Step((g.fresh(),), "squeeze", "call", "squeeze", (Ref(x.name), tuple(ones[:k])))]


def _b_concatenate(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    axis = g.int(0, x.ndim - 1)

    def fits(v):
        return (v.ndim == x.ndim and _promote(np.result_type, v, x) is not None
                and all(a == b for i, (a, b) in enumerate(zip(v.shape, x.shape, strict=True)) if i != axis))

    parts = [x]
    for _ in range(g.int(1, 2)):
        parts.append(g.pick(fits) if g.coin() else x)
    if any(p is None for p in parts):
        return None
    if _promote(np.result_type, *parts) is None:
        return None
    size = x.value.size // x.shape[axis] * sum(p.shape[axis] for p in parts)
    if size > MAX_SIZE:
        return None
    if g.coin():
        axis -= x.ndim
    return [Step((g.fresh(),), "concatenate", "call", "concatenate", ([Ref(p.name) for p in parts],),
                 (("axis", axis),))]


def _b_stack(g: _Gen):
    x = g.pick(lambda v: v.ndim < MAX_RANK)
    if x is None:
        return None
    parts = [x]
    for _ in range(g.int(1, 2)):
        parts.append(g.pick(lambda v: v.shape == x.shape and _promote(np.result_type, v, x) is not None)
                     if g.coin() else x)
    if any(p is None for p in parts) or _promote(np.result_type, *parts) is None:
        return None
    axis = g.int(0, x.ndim)
    return [Step((g.fresh(),), "stack", "call", "stack", ([Ref(p.name) for p in parts],),
                 (("axis", axis - x.ndim - 1 if g.coin() else axis),))]


def _b_moveaxis(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 2)
    if x is None:
        return None
    return [Step((g.fresh(),), "moveaxis", "call", "moveaxis", (Ref(x.name), g.int(0, x.ndim - 1),
                                                                 g.int(-x.ndim, x.ndim - 1)))]


def _b_swapaxes(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 2)
    if x is None:
        return None
    return [Step((g.fresh(),), "swapaxes", "call", "swapaxes", (Ref(x.name), g.int(0, x.ndim - 1),
                                                                 g.int(-x.ndim, x.ndim - 1)))]


def _b_take_along_axis(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    axis = g.int(0, x.ndim - 1)
    n = x.shape[axis]

    def fits(v):
        return v.dtype in INTS and v.ndim == x.ndim and all(
            i == axis or a == b or 1 in (a, b) for i, (a, b) in enumerate(zip(x.shape, v.shape, strict=True)))

    idx = g.pick(fits) if g.coin() else None
    if idx is not None:
        ind = Ref(idx.name)
    else:
        shape = tuple(g.int(1, 5) if i == axis else (d if g.int(0, 3) else 1) for i, d in enumerate(x.shape))
        vals = g.rng.integers(-n, n, size=shape)
        if g.int(0, 4) == 0:
            vals = np.where(g.rng.random(shape) < 0.2, g.rng.choice([-n - 3, n, n + 2], size=shape), vals)
        ind = Const(np.asarray(vals, dtype=_NP[g.choice(["i64", "i32"])]))
    return [Step((g.fresh(),), "take_along_axis", "call", "take_along_axis", (Ref(x.name), ind),
                 (("axis", axis - x.ndim if g.coin() else axis),))]


def _b_getitem(g: _Gen):
    x = g.pick()
    if x is None:
        return None
    items = []
    for d in x.shape:
        r = g.int(0, 3)
        if r == 0:
            items.append(slice(None))
        elif r == 1:
            i = g.int(-d, d - 1)
            items.append(i)
        else:
            step = g.choice([1, 2, -1, 3, -2, None])
            start = g.choice([None, g.int(-d - 1, d)])
            stop = g.choice([None, g.int(-d - 1, d + 1)])
            s = slice(start, stop, step)
            if len(range(*s.indices(d))) == 0:
                s = slice(None, None, step)
            items.append(s)
    if len(items) < MAX_RANK and g.int(0, 3) == 0:
        items.insert(g.int(0, len(items)), None)
    while items and items[-1] == slice(None) and g.coin():
        items.pop()
    if items and g.int(0, 4) == 0:  # an Ellipsis standing for some of the full slices
        k = g.int(0, len(items))
        items = items[:k] + [Ellipsis] + [i for i in items[k:] if not (isinstance(i, slice) and i == slice(None))]
    if not items:
        items = [Ellipsis] if g.coin() else [slice(None)] if x.ndim else [None]
    return [Step((g.fresh(),), "getitem", "getitem", "getitem", (Ref(x.name), Index(tuple(items))))]


def _creation_shape(g: _Gen) -> tuple:
    v = g.pick()
    if v is None or g.int(0, 3) == 0:
        return g.draw_shape(3)
    return v.shape[g.int(0, v.ndim):]


def _b_creation(op):
    def build(g: _Gen):
        out = (g.fresh(),)
        if op in ("zeros", "ones"):
            shape = _creation_shape(g)
            kwargs = (("dtype", DType(g.choice(["f32", "i32", "f64", "i1", "i64", "f16", "bf16"]))),) \
                if g.coin() else ()
            return [Step(out, op, "call", op, (shape,), kwargs)]
        if op == "full":
            shape = _creation_shape(g)
            value = g.choice([1.5, 2, -3.0, True, 0.25, 7])
            kwargs = (("dtype", DType(g.choice(["f32", "f64", "i32", "f16"]))),) if g.coin() else ()
            return [Step(out, op, "call", op, (shape, value), kwargs)]
        if op == "arange":
            v = g.pick(lambda v: v.ndim >= 1)
            n = v.shape[-1] if v is not None else g.int(1, 7)
            r = g.int(0, 3)
            if r == 0:
                return [Step(out, op, "call", op, (n,))]
            if r == 1:
                return [Step(out, op, "call", op, (n,), (("dtype", DType(g.choice(["f32", "i32", "f16"]))),))]
            if r == 2:
                return [Step(out, op, "call", op, (0.5, 0.5 * (n + 1), 0.5))]
            return [Step(out, op, "call", op, (n - 1, -1, -1))]
        x = g.pick()
        if x is None:
            return None
        kwargs = (("dtype", DType(g.choice(["f32", "i32", "f64", "i1"]))),) if g.coin() else ()
        args = (Ref(x.name), g.choice([2.0, -1, 0.5])) if op == "full_like" else (Ref(x.name),)
        return [Step(out, op, "call", op, args, kwargs)]
    return build


def _b_rankk(op):
    def build(g: _Gen):
        x = g.pick(lambda v: v.ndim >= 1 and v.dtype != "i1")
        if x is None:
            return None
        axis = g.int(0, x.ndim - 1)
        k = g.int(1, x.shape[axis])
        kwargs = (("axis", axis - x.ndim if g.coin() else axis),) if axis != x.ndim - 1 or g.coin() else ()
        return [Step((g.fresh(), g.fresh()), op, "call", op, (Ref(x.name), k), kwargs)]
    return build


BUILDERS: dict[str, Callable] = {}
ANALYSIS: dict[str, Callable] = {}
for _op in UNARY_FLOAT:
    BUILDERS[_op], ANALYSIS[_op] = _b_unary_float(_op), _an_elementwise
for _op in ("negative", "abs", "relu"):
    BUILDERS[_op], ANALYSIS[_op] = _b_keep_unary(_op), _an_elementwise
BUILDERS["logical_not"], ANALYSIS["logical_not"] = _b_logical_not, _an_elementwise
BUILDERS["invert"], ANALYSIS["invert"] = _b_invert, _an_elementwise
for _op in ARITH:
    BUILDERS[_op], ANALYSIS[_op] = _b_arith(_op), _an_elementwise
for _op in _COMPARES:
    BUILDERS[_op], ANALYSIS[_op] = _b_compare(_op), _an_elementwise
for _op in LOGICAL:
    BUILDERS[_op], ANALYSIS[_op] = _b_logical(_op), _an_elementwise
for _op in BITWISE:
    BUILDERS[_op], ANALYSIS[_op] = _b_bitwise(_op), _an_elementwise
BUILDERS["where"], ANALYSIS["where"] = _b_where, _an_elementwise
BUILDERS["astype"], ANALYSIS["astype"] = _b_astype, _an_elementwise
for _op in REDUCTIONS:
    BUILDERS[_op], ANALYSIS[_op] = _b_reduce(_op), _an_reduce
for _op in ("argmax", "argmin"):
    BUILDERS[_op], ANALYSIS[_op] = _b_argreduce(_op), _an_argreduce
for _op in ("softmax", "log_softmax"):
    BUILDERS[_op], ANALYSIS[_op] = _b_softmax(_op), _an_softmax
for _op in ("cross_entropy", "nll_loss"):
    BUILDERS[_op], ANALYSIS[_op] = _b_loss(_op), _an_loss
BUILDERS["one_hot"], ANALYSIS["one_hot"] = _b_one_hot, _an_exact
BUILDERS["matmul"], ANALYSIS["matmul"] = _b_matmul, _an_matmul
for _op, _b in [("reshape", _b_reshape), ("ravel", _b_ravel), ("transpose", _b_transpose),
                ("broadcast_to", _b_broadcast_to), ("expand_dims", _b_expand_dims), ("squeeze", _b_squeeze),
                ("concatenate", _b_concatenate), ("stack", _b_stack), ("moveaxis", _b_moveaxis),
                ("swapaxes", _b_swapaxes), ("take_along_axis", _b_take_along_axis), ("getitem", _b_getitem)]:
    BUILDERS[_op], ANALYSIS[_op] = _b, _an_shape
for _op in CREATION:
    BUILDERS[_op], ANALYSIS[_op] = _b_creation(_op), _an_exact
for _op in RANKK:
    BUILDERS[_op], ANALYSIS[_op] = _b_rankk(_op), _an_rankk

# Every op the fuzzer knows, simplest first (hypothesis shrinks towards the front of the list).
ALL_OPS: tuple[str, ...] = (
    "add", "multiply", "subtract", "negative", "abs", "relu", "exp", "maximum", "minimum", "divide",
    "less", "greater", "equal", "not_equal", "less_equal", "greater_equal", "where", "astype",
    "log", "log1p", "tanh", "sigmoid", "sqrt", "rsqrt", "sin", "cos", "erf", "gelu", "floor_divide", "mod", "power",
    "logical_not", "logical_and", "logical_or", "logical_xor", "invert", "bitwise_and", "bitwise_or",
    "bitwise_xor", "sum", "mean", "max", "min", "argmax", "argmin", "logsumexp", "softmax", "log_softmax",
    "cross_entropy", "nll_loss", "one_hot", "matmul", "reshape", "ravel", "transpose", "broadcast_to",
    "expand_dims", "squeeze", "concatenate", "stack", "moveaxis", "swapaxes", "take_along_axis", "getitem",
    "zeros", "ones", "full", "arange", "zeros_like", "ones_like", "full_like", "topk", "midk", "bottomk",
)
assert set(ALL_OPS) == set(BUILDERS) == set(_PROBES), set(ALL_OPS) ^ set(BUILDERS) ^ set(_PROBES)


