"""The `Module` base class: a layer description whose parameters live OUTSIDE it, in a pytree.

A module holds only hyper-parameters (sizes, stride, ...). `init(seed)` makes its parameters, a plain
pytree (dicts) of numpy float32 arrays, deterministically from the seed; `module(params, x)` is a pure
function of (params, x). So parameters are ordinary arguments of a compiled function: they trace, ship
and can be differentiated (`st.value_and_grad`) and updated (`st.optim`) like any other pytree.

`__call__` uses only the public `st.*` ops: inside `st.compile` they emit SpiralIR; outside a trace,
on numpy arrays, each runs eagerly through the interpreter, so a module also works on plain arrays.
"""

from __future__ import annotations

import numpy as np

from spiraltorch.errors import UsageError
from spiraltorch.frontend import trace as tr


def shape_of(x) -> tuple[int, ...]:
    """Static shape of a traced Tensor or an array-like."""
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else tuple(np.shape(x))


def positive_int(owner: str, name: str, value, minimum: int = 1) -> int:
    """Validate a size-like constructor argument (a Python int >= minimum)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise UsageError(f"{owner}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise UsageError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def as_rng(seed) -> np.random.Generator:
    """An int seed (or a SeedSequence) -> numpy's default_rng; a Generator is used as is."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def uniform(rng: np.random.Generator, bound: float, shape) -> np.ndarray:
    """float32 samples of U(-bound, bound) (drawn in float64, then rounded)."""
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


class Module:
    """Base class. Subclasses implement `init_params(rng)` (if they have parameters) and `forward(params, x)`.

    * `init(seed=0)`: the parameter pytree, deterministic from the seed (numpy's `default_rng(seed)`; a
      `np.random.Generator` may be passed instead). Parameter-free modules return `{}`.
    * `module(params, x)`: the forward computation, pure; works on traced tensors and on numpy arrays.
    """

    @property
    def __name__(self) -> str:  # st.compile(module) names the traced function after the class
        return type(self).__name__

    def init(self, seed=0):
        return self.init_params(as_rng(seed))

    def init_params(self, rng: np.random.Generator):
        """Draw this module's parameters from rng (containers pass the same generator to each child in order)."""
        return {}

    def __call__(self, params, x):
        return self.forward(params, x)

    def forward(self, params, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward(params, x)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""

    # -- helpers for subclasses ------------------------------------------------------------------
    def param(self, params, name: str, shape: tuple[int, ...]):
        """params[name], checked to exist and to have the expected shape (a TraceError at the user's line)."""
        if not isinstance(params, dict) or name not in params:
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise tr.user_error(
                f"{self!r}: the parameters have no {name!r} entry (got {got}); pass the pytree made by "
                f"{type(self).__name__}.init()"
            )
        value = params[name]
        got_shape = shape_of(value)
        if got_shape != tuple(shape):
            raise tr.user_error(
                f"{self!r}: params[{name!r}] has shape {got_shape}, expected {tuple(shape)}"
            )
        return value


class Identity(Module):
    """Returns its input unchanged; no parameters."""

    def forward(self, params, x):
        return x


class Lambda(Module):
    """A parameter-free layer made from a function of x (e.g. `Lambda(st.relu)`); Sequential wraps plain
    callables in it."""

    def __init__(self, fn):
        if not callable(fn):
            raise UsageError(f"Lambda expects a callable, got {type(fn).__name__}")
        self.fn = fn

    def forward(self, params, x):
        return self.fn(x)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))
