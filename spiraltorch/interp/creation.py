"""Interpreter implementations of constant, full and arange."""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import InterpreterFunctions, impl, register_impls

from spiraltorch.interp.numeric import as_result, result_dtype
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import creation as cr


@register_impls
class CreationFunctions(InterpreterFunctions):
    @impl(cr.ConstantOp)
    def run_constant(self, interpreter, op: cr.ConstantOp, args):
        values = op.value.get_values()
        shape = dtypes.shape_of(op.result.type)
        return (as_result(np.asarray(values).reshape(shape), op),)

    @impl(cr.FullOp)
    def run_full(self, interpreter, op: cr.FullOp, args):
        shape = dtypes.shape_of(op.result.type)
        return (np.full(shape, op.props()["value"], dtype=result_dtype(op)),)

    @impl(cr.ArangeOp)
    def run_arange(self, interpreter, op: cr.ArangeOp, args):
        p = op.props()
        (n,) = dtypes.shape_of(op.result.type)
        # start + i*step computed in float64 (or int64) then converted, like numpy.arange.
        return (as_result(p["start"] + np.arange(n) * p["step"], op),)
