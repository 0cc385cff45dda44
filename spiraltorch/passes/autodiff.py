"""`autodiff`: replace every `spiral.vjp` / `spiral.jvp` op by the derivative code it stands for.

The first pass of every target's pipeline (targets run it for you); `stc ir f.py:fn --print-after=autodiff`
shows the gradient module. How the derivative is built: spiraltorch/autodiff/expand.py; rules per op:
spiraltorch/autodiff/vjp_rules.py (reverse) and jvp_rules.py (forward); docs/passes/autodiff.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass


@dataclass(frozen=True)
class AutodiffPass(ModulePass):
    name = "autodiff"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from spiraltorch.autodiff.expand import expand_module

        expand_module(op)
