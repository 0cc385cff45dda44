"""check_grads: compare reverse mode, forward mode and central finite differences (like
torch.autograd.gradcheck / jax.test_util.check_grads), in float64 on the reference interpreter.

A function with array outputs is made scalar by a fixed random weighting of its float outputs, then for
random directions v: <grad L(x), v> (reverse), jvp(L, x, v) (forward) and (L(x + h v) - L(x - h v)) / 2h
must agree. order=2 repeats the check on the gradient function itself (grad of grad, jvp of grad).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from spiraltorch.frontend import pytree


def _is_float(a) -> bool:
    return np.asarray(a).dtype.kind == "f"


def _to64(a):
    return np.asarray(a, np.float64) if _is_float(a) else a


def _weighted_sum(fn: Callable, weights_seed: int) -> Callable:
    """L(*args) = sum over float outputs of sum(output * R) with fixed random R per output."""
    import spiraltorch as st

    cache: dict = {}

    def scalar(*args):
        out = fn(*args)
        leaves, _ = pytree.flatten(out)
        total = None
        for i, leaf in enumerate(leaves):
            if leaf.dtype.kind != "f":
                continue
            key = (i, leaf.shape)
            if key not in cache:
                cache[key] = np.random.default_rng(weights_seed + i).uniform(0.5, 1.5, leaf.shape)
            term = st.sum(leaf * cache[key].astype(leaf.dtype))
            total = term if total is None else total + term
        if total is None:
            raise ValueError("check_grads: the function has no floating-point output")
        return total

    scalar.__name__ = f"weighted_{getattr(fn, '__name__', 'fn')}"
    return scalar


def check_grads(fn: Callable, args: Sequence, *, order: int = 1, modes=("rev", "fwd"), directions: int = 2,
                eps: float = 1e-5, rtol: float = 1e-5, atol: float = 1e-8, target: str = "interp",
                seed: int = 0) -> None:
    """Raise AssertionError when a derivative of fn at args disagrees with finite differences.

    Positional arguments whose leaves are all floating point are differentiated (converted to
    float64); the others (integer labels, indices) are held fixed.
    """
    import spiraltorch as st

    args = tuple(pytree.tree_map(_to64, a) for a in args)
    diff = tuple(i for i, a in enumerate(args) if all(_is_float(x) for x in pytree.flatten(a)[0]))
    if not diff:
        raise ValueError("check_grads: no floating-point argument to differentiate")
    loss = _weighted_sum(fn, seed + 1000)
    value = st.compile(loss, target=target)
    rng = np.random.default_rng(seed)
    grads = st.compile(st.grad(loss, argnums=diff), target=target)(*args) if "rev" in modes else None
    for k in range(directions):
        v = {i: pytree.tree_map(lambda a: rng.standard_normal(np.shape(a)), args[i]) for i in diff}
        plus = tuple(_axpy(a, v.get(i), eps) for i, a in enumerate(args))
        minus = tuple(_axpy(a, v.get(i), -eps) for i, a in enumerate(args))
        fd = (float(value(*plus)) - float(value(*minus))) / (2 * eps)
        tol = atol + rtol * max(abs(fd), 1.0)
        if grads is not None:
            rev = sum(_dot(g, v[i]) for g, i in zip(grads, diff, strict=True))
            assert abs(rev - fd) <= tol, f"reverse mode {rev!r} vs finite differences {fd!r} (direction {k})"
        if "fwd" in modes:
            tangents = tuple(v[i] if i in v else _zeros_like(a) for i, a in enumerate(args))
            fwd = st.compile(lambda a, t: st.jvp(loss, a, t)[1], target=target)(args, tangents)
            assert abs(float(fwd) - fd) <= tol, f"forward mode {float(fwd)!r} vs finite differences {fd!r}"
    if order > 1:
        check_grads(st.grad(loss, argnums=diff), args, order=order - 1, modes=modes, directions=directions,
                    eps=eps, rtol=rtol, atol=atol, target=target, seed=seed + 1)


def _axpy(a, v, h):
    if v is None:
        return a
    return pytree.tree_map(lambda x, d: x + h * d, a, v)


def _dot(g, v) -> float:
    gl, _ = pytree.flatten(g)
    vl, _ = pytree.flatten(v)
    return float(sum(np.sum(np.asarray(x, np.float64) * y) for x, y in zip(gl, vl, strict=True)))


def _zeros_like(a):
    return pytree.tree_map(lambda x: np.zeros_like(x), a)
