"""`spiral.fused`: a group of ops that the fusion pass decided to run as one kernel.

    %r:2 = spiral.fused %x, %b {kind = "elementwise"} : tensor<4x8xf32>, tensor<8xf32>
                                                       -> tensor<4x8xf32>, tensor<4x8xf32> {
    ^bb0(%a: tensor<4x8xf32>, %c: tensor<8xf32>):
      %0 = spiral.add %a, %c : ...
      %1 = spiral.relu %0 : ...
      spiral.yield %0, %1 : ...
    }

The region is isolated from above: its arguments are the group's inputs (the op's operands), `spiral.yield`
lists the values other ops use (the op's results). Only those are written to memory; everything else lives in
registers. `kind` says how the backend maps the group to a kernel ("elementwise": one loop nest over the shape of
the results; "reduction": elementwise ops and the sum/mean/max/min they feed, last, computed inside the reduction's
loop; "matmul": a 2-D float32 matmul, first, and its elementwise epilogue, run band by band in the GEMM's kernel;
"cross_entropy": spiral.cross_entropy and spiral.cross_entropy_grad of the same logits in one pass
over the rows). Interpreting the op runs its body, so fusion never changes what the reference interpreter computes.
"""

from __future__ import annotations

from xdsl.dialects.builtin import StringAttr, TensorType
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import IsolatedFromAbove, IsTerminator, Pure

from spiraltorch.ir.ops.base import SpiralOp
from spiraltorch.ir.shapes import ShapeError

KINDS = ("elementwise", "reduction", "matmul", "cross_entropy")


@irdl_op_definition
class YieldOp(IRDLOperation):
    name = "spiral.yield"
    values = var_operand_def(TensorType)
    traits = traits_def(IsTerminator(), Pure())
    assembly_format = "($values^ `:` type($values))? attr-dict"


@irdl_op_definition
class FusedOp(SpiralOp):
    name = "spiral.fused"
    inputs = var_operand_def(TensorType)
    outs = var_result_def(TensorType)
    kind = prop_def(StringAttr)
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove(), Pure())
    assembly_format = "$inputs attr-dict `:` type($inputs) `->` type($outs) $body"

    def check(self) -> None:
        kind = self.kind.data
        if kind not in KINDS:
            raise ShapeError(f'spiral.fused kind must be one of {", ".join(KINDS)}, got "{kind}"')
        block = self.body.block
        if [a.type for a in block.args] != [o.type for o in self.inputs]:
            raise ShapeError("spiral.fused block arguments must have the types of the operands")
        term = block.last_op
        if not isinstance(term, YieldOp):
            raise ShapeError("spiral.fused body must end with spiral.yield")
        if [v.type for v in term.values] != [r.type for r in self.outs]:
            raise ShapeError("spiral.fused results must have the types of the yielded values")


OPS = [FusedOp, YieldOp]
