"""The hypothesis strategy `programs`."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import assume
from hypothesis import strategies as hs

from spiraltorch.fuzz.generator import _Gen
from spiraltorch.fuzz.params import DTYPES
from spiraltorch.fuzz.program import Program
from spiraltorch.fuzz.support import _op_names

# ---------------------------------------------------------------------------------------------------
# The strategy
# ---------------------------------------------------------------------------------------------------


@hs.composite
def programs(draw, target: str = "cpu", ops: Sequence[str] | None = None, min_ops: int = 1, max_ops: int = 12,
             max_inputs: int = 3, dtypes: Sequence[str] = DTYPES, strict: bool = False,
             grad: bool = False) -> Program:
    """A random well-typed program for target (see the module docstring).

    ops: the op names to draw from (default: default_ops(target)); dtypes: the input dtypes allowed;
    strict: raise GeneratorError when the frontend rejects a generated step (a generator bug) instead of
    drawing another op; grad: programs for the gradient check (spiraltorch/fuzz/grad.py): the first input
    is a float, inputs have no NaN/inf and no exact ties, every value is finite, kinks (relu, abs, maximum,
    minimum, max, min) are only met robustly, and some output depends on a float input."""
    names = _op_names(target, ops)
    if not names:
        raise ValueError(f"no op of {ops} is supported by target {target!r}")
    g = _Gen(draw, target, strict, grad=grad)
    g.draw_inputs(max_inputs, dtypes)
    n = draw(hs.integers(min_ops, max_ops))
    for i in range(n):
        for _attempt in range(8 if i else 40):
            if g.add(draw(hs.sampled_from(names))):
                break
    if grad:  # something to differentiate: a few more ops until a float output depends on a float input
        for _attempt in range(16):
            if g.has_active_output():
                break
            g.add(draw(hs.sampled_from(names)))
        assume(g.has_active_output())
    assume(g.steps)  # (practically never false: the first op gets many attempts)
    return g.program()


