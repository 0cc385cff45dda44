"""Interpreter implementation of spiral.matmul (docs/ir/linalg.md).

f64 and f32 are multiplied in their own precision (numpy.matmul); f16 and bf16 are computed in f32
and rounded once, as GPUs accumulate; integers wrap around like numpy's.
"""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import InterpreterFunctions, impl, register_impls

from spiraltorch.interp import numeric
from spiraltorch.interp.numeric import as_result
from spiraltorch.ir.ops import linalg as la


@register_impls
class LinalgFunctions(InterpreterFunctions):
    @impl(la.MatmulOp)
    def run_matmul(self, interpreter, op: la.MatmulOp, args):
        a, b = args
        if a.dtype in numeric._HALF:
            return (as_result(np.matmul(a.astype(np.float32), b.astype(np.float32)), op),)
        return (as_result(np.matmul(a, b), op),)
