"""`lower-to-kernels`: spiral tensor IR -> host function + one loop kernel per op (kernel IR).

Kernel IR uses only func, scf, arith, math and memref (plus `kern.remf`), so it prints and reads as
MLIR: `stc ir model.py:f --arg ... -p lower-to-kernels` shows exactly what the LLVM emitter receives.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from spiraltorch.errors import CompileError


@dataclass(frozen=True)
class LowerToKernelsPass(ModulePass):
    name = "lower-to-kernels"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from spiraltorch.kernels.lower import lower_function

        funcs = [f for f in op.ops if isinstance(f, func.FuncOp)]
        if len(funcs) != 1:
            raise CompileError(f"lower-to-kernels expects one function, the module has {len(funcs)}")
        lowered = lower_function(funcs[0])
        block = op.body.block
        for old in list(block.ops):
            block.detach_op(old)
        for new in list(lowered.body.block.ops):
            lowered.body.block.detach_op(new)
            block.add_op(new)
