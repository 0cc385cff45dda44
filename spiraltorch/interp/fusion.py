"""spiral.fused on the interpreter: run the region's ops, return the yielded values (fusion changes nothing here)."""

from __future__ import annotations

from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    PythonValues,
    ReturnedValues,
    TerminatorValue,
    impl,
    impl_terminator,
    register_impls,
)

from spiraltorch.ir.ops.fusion import FusedOp, YieldOp


@register_impls
class FusionFunctions(InterpreterFunctions):
    @impl(FusedOp)
    def run_fused(self, interpreter: Interpreter, op: FusedOp, args: PythonValues) -> PythonValues:
        return interpreter.run_ssacfg_region(op.body, args, "spiral.fused")

    @impl_terminator(YieldOp)
    def run_yield(self, interpreter: Interpreter, op: YieldOp, args: PythonValues
                  ) -> tuple[TerminatorValue, PythonValues]:
        return ReturnedValues(args), ()
