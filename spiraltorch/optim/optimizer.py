"""The `Optimizer` protocol and the pytree plumbing SGD and Adam share.

An optimizer is a description (hyper-parameters, Python floats baked into the traced code) with two pure
functions: `state = opt.init(params)` and `params, state = opt.update(params, grads, state)`. params, grads
and state are pytrees of arrays: numpy arrays eagerly, traced Tensors inside `st.compile`, where the update
becomes part of the compiled training step. Eager calls run the same code through the interpreter and return
numpy arrays.
"""

from __future__ import annotations

import numpy as np

import spiraltorch as st
from spiraltorch.errors import UsageError
from spiraltorch.frontend import pytree
from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.tensor import Tensor


def check_float(owner: str, name: str, value, *, low: float = 0.0, high: float | None = None,
                high_open: bool = True) -> float:
    """A hyper-parameter: a real number in [low, high) (or [low, high])."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UsageError(f"{owner}: {name} must be a number, got {value!r}")
    value = float(value)
    bad = not value >= low or (high is not None and (value >= high if high_open else value > high))
    if bad:
        bound = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise UsageError(f"{owner}: {name} must be >= {low}{bound}, got {value}")
    return value


def zeros_like(x):
    """Zeros of x's shape and dtype: a Tensor inside a trace, a numpy array otherwise."""
    if isinstance(x, Tensor):
        return st.zeros_like(x)
    return np.zeros_like(np.asarray(x))


def scalar_zero():
    """The float32 0-d step counter, as a Tensor inside a trace, else a numpy array."""
    if tr.current() is not None:
        return st.zeros((), dtype=np.float32)
    return np.zeros((), np.float32)


def like(x, ref):
    """x cast to ref's dtype (so params and state keep their dtypes step after step)."""
    return x if x.dtype == ref.dtype else st.astype(x, ref.dtype)


def finish(tree):
    """Eagerly, make every leaf an ndarray (numpy arithmetic on 0-d arrays returns numpy scalars)."""
    if tr.current() is not None:
        return tree
    return pytree.tree_map(np.asarray, tree)


class Optimizer:
    """Base class: subclasses implement init(params) and update(params, grads, state)."""

    name = "Optimizer"

    def init(self, params):
        raise NotImplementedError

    def update(self, params, grads, state, *, lr=None):
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({fields})"

    def hyper(self) -> dict:
        return {}

    # -- pytree helpers ------------------------------------------------------------------------
    def param_leaves(self, params) -> tuple[list, pytree.TreeDef]:
        leaves, td = pytree.flatten(params)
        names = pytree.leaf_paths(params)
        for leaf, name in zip(leaves, names, strict=True):
            dt = getattr(leaf, "dtype", None)
            if dt is None or (np.dtype(dt).kind != "f" and not _is_bfloat16(dt)):
                what = f"dtype {dt}" if dt is not None else f"a {type(leaf).__name__}"
                raise tr.user_error(f"{type(self).__name__}: parameter {name!r} is {what}; only floating-point "
                                    "arrays can be optimized")
        return leaves, td

    def matching_leaves(self, what: str, tree, td: pytree.TreeDef) -> list:
        leaves, other = pytree.flatten(tree)
        if other != td:
            raise tr.user_error(f"{type(self).__name__}.update: {what} have the structure {other} but the "
                                f"params have {td}")
        return leaves


def _is_bfloat16(dt) -> bool:
    return str(dt) == "bfloat16"
