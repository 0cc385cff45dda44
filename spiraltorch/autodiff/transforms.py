"""The user-facing transforms: `st.grad`, `st.value_and_grad`, `st.vjp`, `st.jvp`.

Called while tracing (inside `st.compile`, or inside another transform), a transform traces the user's
function into a private callee of the module being built and emits one `spiral.vjp` / `spiral.jvp` op;
the `autodiff` pass later expands it. Called on numpy arrays outside any trace, the transform compiles
itself (once per signature, like `st.compile`) for the default target and runs. So
`st.compile(st.grad(f))`, `st.grad(st.grad(f))`, `st.jvp(st.grad(f), ...)` and `st.grad(st.compile(f))`
all compose: each layer just adds ops to the trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from xdsl.dialects.builtin import SymbolRefAttr

from spiraltorch.frontend import pytree
from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.ops.common import as_tensor, cast, full
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops.autodiff import JvpOp, VjpOp
from spiraltorch.ir.ops.base import to_attr


# --- public API -------------------------------------------------------------------------------------
def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """A function returning (fn(*args), gradient of fn w.r.t. args[argnums]); fn must return a scalar
    (0-d float), or (scalar, aux) with has_aux=True, then the result is ((value, aux), grads).
    Gradients have the structure of the differentiated argument (a tuple of them if argnums is a tuple)."""
    _check_callable("value_and_grad", fn)

    @functools.wraps(fn)
    def value_and_grad_fn(*args, **kwargs):
        if tr.current() is None:
            return _eager(value_and_grad_fn, args, kwargs)
        return _value_and_grad(fn, argnums, has_aux, args, kwargs)

    return value_and_grad_fn


def grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function w.r.t. args[argnums] (with has_aux: (grads, aux))."""
    _check_callable("grad", fn)

    @functools.wraps(fn)
    def grad_fn(*args, **kwargs):
        if tr.current() is None:
            return _eager(grad_fn, args, kwargs)
        value, grads = _value_and_grad(fn, argnums, has_aux, args, kwargs)
        return (grads, value[1]) if has_aux else grads

    return grad_fn


def vjp(fn: Callable, *primals, has_aux: bool = False):
    """(fn(*primals), vjp_fn) where vjp_fn(cotangent) returns one gradient per primal (None for
    integer primals); the cotangent has the structure of fn's output."""
    _check_callable("vjp", fn)
    if tr.current() is None:
        return _eager_vjp(fn, primals, has_aux)
    out = fn(*primals)
    value, aux = _split_aux("vjp", out, has_aux)

    def vjp_fn(cotangent):
        return _vjp_traced(fn, primals, has_aux, cotangent)

    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jvp(fn: Callable, primals: Sequence, tangents: Sequence):
    """(fn(*primals), directional derivative of fn at primals along tangents): forward mode.
    primals and tangents are tuples of the same structure; integer primals take no tangent (pass None
    or anything: it is ignored)."""
    _check_callable("jvp", fn)
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise tr.user_error("st.jvp(fn, primals, tangents): primals and tangents must be tuples")
    if len(primals) != len(tangents):
        raise tr.user_error(f"st.jvp: {len(primals)} primals but {len(tangents)} tangents")
    if tr.current() is None:
        return _eager_jvp(fn, tuple(primals), tuple(tangents))
    return _jvp_traced(fn, tuple(primals), tuple(tangents))


# --- tracing ----------------------------------------------------------------------------------------
class _Callee:
    """fn traced into a private function of the module being built, with all leaves as arguments."""

    def __init__(self, what: str, fn: Callable, args: tuple, kwargs: dict, has_aux: bool):
        ctx = tr.current()
        leaves, self.in_tree = pytree.flatten((args, kwargs))
        self.inputs = [as_tensor(leaf) for leaf in leaves]
        names = pytree.leaf_paths(_named(fn, args, kwargs))
        sub = tr.TraceContext(getattr(fn, "__name__", what), [t.value.type for t in self.inputs], names, parent=ctx)
        with sub:
            proxies = [Tensor(a, sub, weak=t.weak) for a, t in zip(sub.args, self.inputs, strict=True)]
            p_args, p_kwargs = pytree.unflatten(self.in_tree, proxies)
            out = fn(*p_args, **p_kwargs)
            value, aux = _split_aux(what, out, has_aux)
            out_leaves, self.out_tree = pytree.flatten((value, aux))
            outs = [_as_output(what, leaf) for leaf in out_leaves]
            self.n_value = len(pytree.flatten(value)[0])
            self.func = sub.finish_callee([sub.lift(t.trace, t.value) for t in outs])
        self.ctx = ctx
        self.operands = [*(t.value for t in self.inputs), *sub.captured]
        self.out_types = [t.value.type for t in outs]
        self.weak = [t.weak for t in outs]

    @property
    def symbol(self) -> SymbolRefAttr:
        return SymbolRefAttr(self.func.sym_name.data)

    def emit(self, op_cls, seeds: list, wrt: list[int], extra_types: list):
        op = op_cls.build(
            operands=[self.operands, [s.value for s in seeds]],
            result_types=[[*self.out_types, *extra_types]],
            properties={"callee": self.symbol, "wrt": to_attr(tuple(wrt))},
        )
        self.ctx.add(op)
        results = [Tensor(r, self.ctx) for r in op.results]
        for t, weak in zip(results, self.weak, strict=False):
            t.weak = weak
        return results


def _value_and_grad(fn, argnums, has_aux, args, kwargs):
    argnums_t = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    _check_argnums(argnums_t, len(args))
    callee = _Callee("grad", fn, args, kwargs, has_aux)
    if callee.n_value != 1 or not _is_float_scalar(callee.out_types[0]):
        what = "a tuple" if callee.n_value != 1 else str(callee.out_types[0])
        raise tr.user_error(
            f"st.grad needs a function returning a scalar (a 0-d float tensor), but {_name(fn)} returned {what}; "
            "use has_aux=True to return (loss, aux), or st.vjp for non-scalar outputs"
        )
    spans = _arg_spans(args)
    wrt = [i for a in argnums_t for i in range(*spans[a])]
    for i in wrt:
        _require_float(fn, callee.inputs[i], i)
    seeds = [_seed(ty, i == 0) for i, ty in enumerate(callee.out_types)]
    results = callee.emit(VjpOp, seeds, wrt, [callee.inputs[i].value.type for i in wrt])
    n = len(callee.out_types)
    value, aux = pytree.unflatten(callee.out_tree, results[:n])
    grads_flat = iter(results[n:])
    grads = tuple(pytree.unflatten(pytree.flatten(args[a])[1], [next(grads_flat) for _ in range(*spans[a])])
                  for a in argnums_t)
    grads = grads[0] if isinstance(argnums, int) else grads
    return ((value, aux) if has_aux else value), grads


def _vjp_traced(fn, primals, has_aux, cotangent):
    callee = _Callee("vjp", fn, primals, {}, has_aux)
    ct_leaves, ct_tree = pytree.flatten(cotangent)
    value_tree = pytree.unflatten(callee.out_tree, callee.out_types)[0]
    n = callee.n_value
    if len(ct_leaves) != n:
        raise tr.user_error(f"st.vjp: the cotangent has {len(ct_leaves)} leaves but {_name(fn)} returned {n} "
                            f"(structure {value_tree!r})")
    seeds = [cast(as_tensor(c), dtypes.dtype_of(ty)) for c, ty in zip(ct_leaves, callee.out_types, strict=False)]
    seeds = [_shaped(s, ty) for s, ty in zip(seeds, callee.out_types, strict=False)]
    seeds += [_seed(ty, False) for ty in callee.out_types[n:]]
    wrt = [i for i, t in enumerate(callee.inputs) if t.ir_dtype.is_float]
    results = callee.emit(VjpOp, seeds, wrt, [callee.inputs[i].value.type for i in wrt])
    by_leaf = dict(zip(wrt, results[len(callee.out_types):], strict=True))
    spans = _arg_spans(primals)
    return tuple(pytree.unflatten(pytree.flatten(p)[1], [by_leaf.get(i) for i in range(*spans[k])])
                 for k, p in enumerate(primals))


def _jvp_traced(fn, primals, tangents):
    callee = _Callee("jvp", fn, primals, {}, False)
    t_leaves = []
    for k, (p, t) in enumerate(zip(primals, tangents, strict=True)):
        p_leaves, p_tree = pytree.flatten(p)
        leaves, tree = pytree.flatten(t)
        if tree != p_tree:
            raise tr.user_error(f"st.jvp: tangent {k} must have the structure of primal {k}")
        t_leaves += leaves
    wrt = [i for i, t in enumerate(callee.inputs) if t.ir_dtype.is_float]
    seeds = [_shaped(cast(as_tensor(t_leaves[i]), callee.inputs[i].ir_dtype), callee.inputs[i].value.type)
             for i in wrt]
    results = callee.emit(JvpOp, seeds, wrt, callee.out_types)
    n = len(callee.out_types)
    out, _ = pytree.unflatten(callee.out_tree, results[:n])
    tan, _ = pytree.unflatten(callee.out_tree, results[n:])
    return out, tan


# --- eager calls --------------------------------------------------------------------------------------
def _eager(transformed, args, kwargs):
    from spiraltorch.frontend.api import compile as st_compile

    compiled = getattr(transformed, "_st_compiled", None)
    if compiled is None:
        compiled = transformed._st_compiled = st_compile(transformed)
    return compiled(*args, **kwargs)


_EAGER: dict = {}


def _eager_vjp(fn, primals, has_aux):
    from spiraltorch.frontend.api import compile as st_compile

    fwd = _cached(("fwd", fn), lambda: st_compile(fn))
    out = fwd(*primals)
    value, aux = _split_aux("vjp", out, has_aux)
    back = _cached(("vjp", fn, has_aux), lambda: st_compile(lambda ps, ct: vjp(fn, *ps, has_aux=has_aux)[1](ct)))

    def vjp_fn(cotangent):
        return back(tuple(primals), cotangent)

    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def _eager_jvp(fn, primals, tangents):
    from spiraltorch.frontend.api import compile as st_compile

    run = _cached(("jvp", fn), lambda: st_compile(lambda ps, ts: jvp(fn, ps, ts)))
    return run(primals, tangents)


def _cached(key, make):
    """One compiled function per (transform, user function): built on first use only."""
    compiled = _EAGER.get(key)
    if compiled is None:
        compiled = _EAGER[key] = make()
    return compiled


# --- helpers --------------------------------------------------------------------------------------
def _check_callable(what: str, fn) -> None:
    if not callable(fn):
        raise tr.user_error(f"st.{what} expects a function, got {type(fn).__name__}")


def _check_argnums(argnums: tuple[int, ...], n: int) -> None:
    for a in argnums:
        if not isinstance(a, int) or not 0 <= a < n:
            raise tr.user_error(f"st.grad argnums {a} is out of range: the function was called with {n} "
                                "positional argument(s)")


def _arg_spans(args) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for a in args:
        n = len(pytree.flatten(a)[0])
        spans.append((pos, pos + n))
        pos += n
    return spans


def _require_float(fn, t: Tensor, i: int) -> None:
    if not t.ir_dtype.is_float:
        raise tr.user_error(
            f"st.grad of {_name(fn)}: cannot differentiate with respect to an argument of dtype {t.dtype} "
            f"(leaf {i}); only floating-point arguments have gradients (cast it, or leave it out of argnums)"
        )


def _is_float_scalar(ty) -> bool:
    return dtypes.shape_of(ty) == () and dtypes.dtype_of(ty).is_float


def _seed(ty, one: bool) -> Tensor:
    dt = dtypes.dtype_of(ty)
    value = (1.0 if one else 0.0) if dt.is_float else (False if dt.kind == "b" else 0)
    return full(dtypes.shape_of(ty), value, dt)


def _shaped(t: Tensor, ty) -> Tensor:
    from spiraltorch.frontend.ops import broadcast_to

    shape = dtypes.shape_of(ty)
    if t.shape == shape:
        return t
    try:
        return broadcast_to(t, shape)
    except Exception:
        raise tr.user_error(f"a cotangent/tangent of shape {t.shape} does not match the value's shape {shape}") \
            from None


def _split_aux(what: str, out, has_aux: bool):
    if not has_aux:
        return out, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise tr.user_error(f"st.{what}(..., has_aux=True) needs the function to return a pair (value, aux)")
    return out[0], out[1]


def _as_output(what: str, leaf) -> Tensor:
    if isinstance(leaf, Tensor):
        return leaf
    try:
        return as_tensor(leaf)
    except Exception:
        raise tr.user_error(f"st.{what}: the function returned a {type(leaf).__name__}; return tensors") from None


def _name(fn) -> str:
    return getattr(fn, "__name__", repr(fn))


def _named(fn, args, kwargs):
    from spiraltorch.frontend.api import _Ordered, _signature_of

    sig = _signature_of(fn)
    params = list(sig.parameters) if sig else []
    named = _Ordered()
    for i, a in enumerate(args):
        named[params[i] if i < len(params) and params[i] not in kwargs else f"arg{i}"] = a
    named.update(kwargs)
    return named
