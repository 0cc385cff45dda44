"""`kern`: the few scalar ops kernel IR needs that xDSL's arith/math dialects lack."""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import AnyFloatConstr
from xdsl.ir import Dialect
from xdsl.irdl import IRDLOperation, VarConstraint, irdl_op_definition, operand_def, result_def, traits_def
from xdsl.traits import Pure


@irdl_op_definition
class RemFOp(IRDLOperation):
    """C fmod(lhs, rhs): the remainder with the sign of lhs (LLVM's frem). arith has no remf in xDSL."""

    name = "kern.remf"
    T: ClassVar = VarConstraint("T", AnyFloatConstr)
    lhs = operand_def(T)
    rhs = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($result)"

    def __init__(self, lhs, rhs):
        super().__init__(operands=[lhs, rhs], result_types=[lhs.type])


Kern = Dialect("kern", [RemFOp], [])
