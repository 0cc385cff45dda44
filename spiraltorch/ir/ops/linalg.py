"""linalg ops of the spiral dialect: spiral.matmul.

spiral.matmul is numpy.matmul restricted to operands of rank >= 2 (the frontend turns 1-D operands
into matrices with spiral.reshape and removes the added dimension afterwards). Both operands have one
dtype (the frontend casts to numpy's result dtype); bool is rejected (the frontend computes a bool
matmul as an integer matmul followed by `!= 0`).
"""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType
from xdsl.irdl import irdl_op_definition, operand_def, result_def, traits_def
from xdsl.traits import Pure

from spiraltorch.ir import shapes
from spiraltorch.ir.ops.base import SpiralOp, require_same_dtype, shape, tensor
from spiraltorch.ir.shapes import ShapeError


@irdl_op_definition
class MatmulOp(SpiralOp):
    """`spiral.matmul %a, %b : tensor<BxMxKxf32>, tensor<KxNxf32> -> tensor<BxMxNxf32>`: batched matrix
    product; the batch dimensions (all but the last two) broadcast like numpy."""

    name = "spiral.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)"

    @classmethod
    def infer(cls, types, **props):
        a, b = types
        dt = require_same_dtype(cls.name, types)
        if dt.kind == "b":
            raise ShapeError(f"{cls.name} does not accept bool operands")
        try:
            out = shapes.matmul(shape(a), shape(b))
        except ShapeError as err:
            raise ShapeError(f"spiral.{err}") from None  # shapes.matmul's messages start with "matmul"
        return [tensor(out, dt)]


OPS = [MatmulOp]
