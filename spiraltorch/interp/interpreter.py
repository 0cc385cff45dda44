"""Run a SpiralIR module on numpy arrays through xDSL's interpreter framework.

xDSL's Interpreter supplies func (and later scf/arith/memref for lowered IR); each op family of the
spiral dialect registers an InterpreterFunctions class in its own module. Every result is checked
against its IR type, so an interpreter bug shows up as a clear error instead of a silent oracle drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.interpreter import Interpreter
from xdsl.interpreters.func import FuncFunctions
from xdsl.ir import Operation

from spiraltorch.errors import CompileError
from spiraltorch.ir import dtypes


@cache
def _implementation_classes():
    from spiraltorch.interp import creation, elementwise, fusion, linalg, nn, rankk, reduction, shape

    return [FuncFunctions, elementwise.ElementwiseFunctions, creation.CreationFunctions,
            reduction.ReductionFunctions, nn.NNFunctions, linalg.LinalgFunctions, shape.ShapeFunctions,
            rankk.RankKFunctions, fusion.FusionFunctions]


class _TypeCheck(Interpreter.Listener):
    def did_interpret_op(self, op: Operation, results) -> None:
        for value, res in zip(results, op.results, strict=True):
            if isinstance(res.type, TensorType):
                want_shape = dtypes.shape_of(res.type)
                want_dt = dtypes.dtype_of(res.type).np
                if not isinstance(value, np.ndarray) or value.shape != want_shape or value.dtype != want_dt:
                    got = f"{type(value).__name__} {getattr(value, 'shape', '?')} {getattr(value, 'dtype', '?')}"
                    raise CompileError(
                        f"interpreter bug: {op.name} produced {got}, IR says {want_shape} {want_dt}"
                    )


class ModuleRunner:
    """Holds one Interpreter per module so repeated calls skip the set-up."""

    def __init__(self, module: ModuleOp):
        self.module = module
        self.interp = Interpreter(module, listeners=(_TypeCheck(),))
        for cls in _implementation_classes():
            self.interp.register_implementations(cls())

    def __call__(self, func_name: str, args: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
        with np.errstate(all="ignore"):  # inf/nan are results, not warnings, as on every backend
            return tuple(self.interp.call_op(func_name, tuple(args)))


def run_module(module: ModuleOp, args: Sequence[np.ndarray], func_name: str | None = None):
    """Run func_name (default: the first function) of module on args; returns a tuple of arrays."""
    if func_name is None:
        func_name = _first_func(module)
    return ModuleRunner(module)(func_name, args)


def _first_func(module: ModuleOp) -> str:
    from xdsl.dialects import func

    for op in module.ops:
        if isinstance(op, func.FuncOp):
            return op.sym_name.data
    raise CompileError("module has no func.func to run")
