"""Pytrees: nested tuples, lists, dicts, namedtuples and None around leaves (arrays, scalars, tensors).

Hand-written rather than taken from jax/optree: jax is far too heavy as a dependency and the
compiler needs only flatten/unflatten with a hashable structure (the cache key of a compiled function).
Dict keys are sorted so `{"b":..,"a":..}` and `{"a":..,"b":..}` share one compiled entry, as in JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_REGISTRY: dict[type, tuple[Callable, Callable]] = {}


def register_pytree_node(cls: type, flatten: Callable, unflatten: Callable) -> None:
    """flatten(obj) -> (children, aux) with aux hashable; unflatten(aux, children) -> obj."""
    _REGISTRY[cls] = (flatten, unflatten)


@dataclass(frozen=True, eq=False)
class TreeDef:
    """Interned (see _make): equal structures are the same object, so comparing and hashing cache keys that
    contain a TreeDef costs O(1) on every call of a compiled function."""

    kind: Any  # type of the node, or None for a leaf
    aux: Any  # hashable node data (dict keys, namedtuple type, ...)
    children: tuple[TreeDef, ...]

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, TreeDef):
            return NotImplemented
        return (self.kind, self.aux, self.children) == (other.kind, other.aux, other.children)

    def __hash__(self) -> int:
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.kind, self.aux, self.children))
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def num_leaves(self) -> int:
        if self.kind is None:
            return 1
        return sum(c.num_leaves for c in self.children)

    def __str__(self) -> str:
        if self.kind is None:
            return "*"
        inner = ", ".join(map(str, self.children))
        if self.kind is dict:
            inner = ", ".join(f"{k!r}: {c}" for k, c in zip(self.aux, self.children, strict=True))
            return "{" + inner + "}"
        if self.kind is list:
            return f"[{inner}]"
        if self.kind is type(None):
            return "None"
        return f"{getattr(self.kind, '__name__', self.kind)}({inner})"


LEAF = TreeDef(None, None, ())
_INTERNED: dict[tuple, TreeDef] = {}
_ARRAY_TYPES = (np.ndarray, float, int, bool)  # leaves for sure (registered classes are never these)


def _make(kind, aux, children: tuple) -> TreeDef:
    key = (kind, aux, children)
    td = _INTERNED.get(key)
    if td is None:
        td = _INTERNED[key] = TreeDef(kind, aux, children)
    return td


def _sorted_keys(d: dict) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError:  # keys of mixed types
        return tuple(sorted(d, key=repr))


def _node(x) -> tuple[type, Any, list] | None:
    t = type(x)
    if t is tuple or t is list:
        return t, None, list(x)
    if t is dict:
        keys = _sorted_keys(x)
        return dict, keys, [x[k] for k in keys]
    if x is None:
        return type(None), None, []
    if isinstance(x, tuple) and hasattr(t, "_fields"):  # namedtuple
        return t, None, list(x)
    if t in _REGISTRY:
        children, aux = _REGISTRY[t][0](x)
        return t, aux, list(children)
    return None


def flatten(tree) -> tuple[list, TreeDef]:
    leaves: list = []
    treedef = _flatten(tree, leaves)
    return leaves, treedef


def _flatten(x, leaves: list) -> TreeDef:
    t = type(x)
    if t is dict:  # the common containers first, without building a node tuple
        keys = _sorted_keys(x)
        return _make(dict, keys, tuple([_flatten(x[k], leaves) for k in keys]))
    if t is tuple or t is list:
        return _make(t, None, tuple([_flatten(c, leaves) for c in x]))
    if t in _ARRAY_TYPES:
        leaves.append(x)
        return LEAF
    node = _node(x)
    if node is None:
        leaves.append(x)
        return LEAF
    kind, aux, children = node
    return _make(kind, aux, tuple([_flatten(c, leaves) for c in children]))


def unflatten(treedef: TreeDef, leaves) -> Any:
    it = iter(leaves)
    out = _unflatten(treedef, it)
    return out


def _unflatten(td: TreeDef, it) -> Any:
    if td.kind is None:
        return next(it)
    children = [_unflatten(c, it) for c in td.children]
    if td.kind is tuple:
        return tuple(children)
    if td.kind is list:
        return children
    if td.kind is dict:
        return dict(zip(td.aux, children, strict=True))
    if td.kind is type(None):
        return None
    if td.kind in _REGISTRY:
        return _REGISTRY[td.kind][1](td.aux, children)
    return td.kind(*children)  # namedtuple


def tree_map(fn: Callable, tree, *rest) -> Any:
    leaves, td = flatten(tree)
    others = [flatten(r)[0] for r in rest]
    return unflatten(td, [fn(*xs) for xs in zip(leaves, *others, strict=True)])


def leaf_paths(tree, prefix: str = "") -> list[str]:
    """A readable name per leaf (`params_w1`, `x`), used for SSA names of function arguments."""
    node = _node(tree)
    if node is None:
        return [prefix or "arg"]
    kind, aux, children = node
    keyed = isinstance(aux, tuple) and len(aux) == len(children)  # dicts and dict-like nodes
    labels = aux if keyed else range(len(children))
    out = []
    for label, child in zip(labels, children, strict=True):
        out += leaf_paths(child, f"{prefix}_{label}" if prefix else str(label))
    return out
