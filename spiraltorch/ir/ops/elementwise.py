"""Elementwise ops: unary math, binary arithmetic with numpy broadcasting, comparisons, logic, where, astype.

The IR is strict about dtypes: both operands of a binary op have one dtype (the frontend inserts
`spiral.astype` to follow numpy's promotion rules), comparisons yield i1, logical ops take i1.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import StringAttr, TensorType
from xdsl.irdl import irdl_op_definition, operand_def, opt_prop_def, result_def, traits_def
from xdsl.traits import Pure

from spiraltorch.ir import shapes
from spiraltorch.ir.ops.base import SpiralOp, dtype, require_float, require_same_dtype, shape, tensor
from spiraltorch.ir.shapes import ShapeError

# ----------------------------------------------------------------------------------------------
# Unary


class UnaryOp(SpiralOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"
    # Which dtypes the op ACCEPTS: "float", "numeric" (not bool) or "bool".
    ACCEPTS: ClassVar[str] = "float"

    @classmethod
    def infer(cls, types, **props):
        (t,) = types
        kind = dtype(t).kind
        if cls.ACCEPTS == "float":
            require_float(cls.name, t)
        elif cls.ACCEPTS == "numeric" and kind == "b":
            raise ShapeError(f"{cls.name} does not accept bool tensors")
        elif cls.ACCEPTS == "bool" and kind != "b":
            raise ShapeError(f"{cls.name} expects a bool (i1) tensor, got {dtype(t).name}")
        return [t]



@irdl_op_definition
class NegOp(UnaryOp):
    name = "spiral.neg"
    ACCEPTS: ClassVar[str] = "numeric"


@irdl_op_definition
class AbsOp(UnaryOp):
    name = "spiral.abs"
    ACCEPTS: ClassVar[str] = "numeric"


@irdl_op_definition
class ReluOp(UnaryOp):
    name = "spiral.relu"
    ACCEPTS: ClassVar[str] = "numeric"


@irdl_op_definition
class ExpOp(UnaryOp):
    name = "spiral.exp"


@irdl_op_definition
class LogOp(UnaryOp):
    name = "spiral.log"


@irdl_op_definition
class Log1pOp(UnaryOp):
    name = "spiral.log1p"


@irdl_op_definition
class TanhOp(UnaryOp):
    name = "spiral.tanh"


@irdl_op_definition
class SigmoidOp(UnaryOp):
    name = "spiral.sigmoid"


@irdl_op_definition
class SqrtOp(UnaryOp):
    name = "spiral.sqrt"


@irdl_op_definition
class RsqrtOp(UnaryOp):
    name = "spiral.rsqrt"


@irdl_op_definition
class SinOp(UnaryOp):
    name = "spiral.sin"


@irdl_op_definition
class CosOp(UnaryOp):
    name = "spiral.cos"


@irdl_op_definition
class ErfOp(UnaryOp):
    name = "spiral.erf"


@irdl_op_definition
class GeluOp(UnaryOp):
    """gelu(x) = x * Phi(x); `approximate = "tanh"` selects the tanh formula (torch's option)."""

    name = "spiral.gelu"
    approximate = opt_prop_def(StringAttr)

    @classmethod
    def infer(cls, types, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ShapeError(f"spiral.gelu approximate must be \"none\" or \"tanh\", got \"{approximate}\"")
        return super().infer(types)


@irdl_op_definition
class LogicalNotOp(UnaryOp):
    name = "spiral.logical_not"
    ACCEPTS: ClassVar[str] = "bool"


# ----------------------------------------------------------------------------------------------
# Binary


class BinaryOp(SpiralOp):
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)"
    ACCEPTS: ClassVar[str] = "numeric"  # "numeric", "float", "bool" or "any"
    YIELDS_BOOL: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, **props):
        a, b = types
        dt = require_same_dtype(cls.name, types)
        if cls.ACCEPTS == "float" and not dt.is_float:
            raise ShapeError(f"{cls.name} expects floating-point operands, got {dt.name}")
        if cls.ACCEPTS == "numeric" and dt.kind == "b":
            raise ShapeError(f"{cls.name} does not accept bool operands")
        if cls.ACCEPTS == "bool" and dt.kind != "b":
            raise ShapeError(f"{cls.name} expects bool (i1) operands, got {dt.name}")
        out = shapes.broadcast(shape(a), shape(b))
        return [tensor(out, "i1" if cls.YIELDS_BOOL else dt)]


@irdl_op_definition
class AddOp(BinaryOp):
    name = "spiral.add"


@irdl_op_definition
class SubOp(BinaryOp):
    name = "spiral.sub"


@irdl_op_definition
class MulOp(BinaryOp):
    name = "spiral.mul"


@irdl_op_definition
class DivOp(BinaryOp):
    """True division; integer operands are converted to float by the frontend (numpy semantics)."""

    name = "spiral.div"
    ACCEPTS: ClassVar[str] = "float"


@irdl_op_definition
class FloorDivOp(BinaryOp):
    name = "spiral.floordiv"


@irdl_op_definition
class ModOp(BinaryOp):
    """numpy.mod: the result has the sign of the divisor."""

    name = "spiral.mod"


@irdl_op_definition
class PowOp(BinaryOp):
    name = "spiral.pow"


@irdl_op_definition
class MaximumOp(BinaryOp):
    name = "spiral.maximum"


@irdl_op_definition
class MinimumOp(BinaryOp):
    name = "spiral.minimum"


class CompareOp(BinaryOp):
    ACCEPTS: ClassVar[str] = "any"
    YIELDS_BOOL: ClassVar[bool] = True


@irdl_op_definition
class EqOp(CompareOp):
    name = "spiral.eq"


@irdl_op_definition
class NeOp(CompareOp):
    name = "spiral.ne"


@irdl_op_definition
class LtOp(CompareOp):
    name = "spiral.lt"


@irdl_op_definition
class LeOp(CompareOp):
    name = "spiral.le"


@irdl_op_definition
class GtOp(CompareOp):
    name = "spiral.gt"


@irdl_op_definition
class GeOp(CompareOp):
    name = "spiral.ge"


class LogicalOp(BinaryOp):
    ACCEPTS: ClassVar[str] = "bool"


@irdl_op_definition
class LogicalAndOp(LogicalOp):
    name = "spiral.logical_and"


@irdl_op_definition
class LogicalOrOp(LogicalOp):
    name = "spiral.logical_or"


@irdl_op_definition
class LogicalXorOp(LogicalOp):
    name = "spiral.logical_xor"


# ----------------------------------------------------------------------------------------------
# where, astype


@irdl_op_definition
class WhereOp(SpiralOp):
    """where(cond, a, b): a where cond else b, all three broadcast together."""

    name = "spiral.where"
    cond = operand_def(TensorType)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$cond `,` $lhs `,` $rhs attr-dict `:` type($cond) `,` type($lhs) `,` type($rhs) `->` type($result)"
    )

    @classmethod
    def infer(cls, types, **props):
        c, a, b = types
        if dtype(c).kind != "b":
            raise ShapeError(f"spiral.where condition must be a bool (i1) tensor, got {dtype(c).name}")
        dt = require_same_dtype("spiral.where", [a, b])
        return [tensor(shapes.broadcast(shape(c), shape(a), shape(b)), dt)]


@irdl_op_definition
class AstypeOp(SpiralOp):
    """Convert the element type (numpy astype: float -> int truncates toward zero, nonzero -> true)."""

    name = "spiral.astype"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def check(self):
        if shape(self.input.type) != shape(self.result.type):
            raise ShapeError(
                f"spiral.astype must keep the shape: {shape(self.input.type)} -> {shape(self.result.type)}"
            )


UNARY_OPS = [NegOp, AbsOp, ReluOp, ExpOp, LogOp, Log1pOp, TanhOp, SigmoidOp, SqrtOp, RsqrtOp, SinOp, CosOp,
             ErfOp, GeluOp, LogicalNotOp]
BINARY_OPS = [AddOp, SubOp, MulOp, DivOp, FloorDivOp, ModOp, PowOp, MaximumOp, MinimumOp,
              EqOp, NeOp, LtOp, LeOp, GtOp, GeOp, LogicalAndOp, LogicalOrOp, LogicalXorOp]
OPS = [*UNARY_OPS, *BINARY_OPS, WhereOp, AstypeOp]
