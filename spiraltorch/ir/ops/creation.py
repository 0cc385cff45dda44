"""Tensors made from nothing: dense constants (captured numpy data), splats (`full`) and `arange`."""

from __future__ import annotations

from xdsl.dialects.builtin import (
    AnyFloat,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntegerAttr,
    TensorType,
)
from xdsl.irdl import irdl_op_definition, prop_def, result_def, traits_def
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure

from spiraltorch.ir.ops.base import SpiralOp, dtype, shape
from spiraltorch.ir.shapes import ShapeError


@irdl_op_definition
class ConstantOp(SpiralOp):
    """A dense constant: `spiral.constant dense<[1.0, 2.0]> : tensor<2xf32>`."""

    name = "spiral.constant"
    value = prop_def(DenseIntOrFPElementsAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure(), ConstantLike())

    def check(self):
        if self.value.type != self.result.type:
            raise ShapeError(f"constant of type {self.value.type} cannot produce {self.result.type}")

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.value)
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser):
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr):
            parser.raise_error("spiral.constant expects a dense<...> : tensor<...> attribute")
        attrs = parser.parse_optional_attr_dict()
        op = cls.create(properties={"value": value}, result_types=[value.type])
        op.attributes.update(attrs)
        return op


@irdl_op_definition
class FullOp(SpiralOp):
    """Every element equal to `value`: `spiral.full {value = 2.0 : f64} : tensor<4x8xf32>`.
    The value is converted to the element type as numpy.full does."""

    name = "spiral.full"
    value = prop_def(FloatAttr | IntegerAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure(), ConstantLike())
    assembly_format = "attr-dict `:` type($result)"

    def check(self):
        dt = dtype(self.result.type)
        v = self.value.value.data
        if dt.kind == "f":
            return
        if isinstance(self.value, FloatAttr) and (v != v or v in (float("inf"), float("-inf"))):
            raise ShapeError(f"spiral.full cannot fill an {dt.name} tensor with {v}")
        if dt.kind == "i":
            bits = dt.np.itemsize * 8
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            if not lo <= int(v) <= hi:
                raise ShapeError(f"spiral.full value {v} is out of range for {dt.name} ([{lo}, {hi}])")


@irdl_op_definition
class ArangeOp(SpiralOp):
    """start, start+step, ...: the length is the result's (1-D) shape."""

    name = "spiral.arange"
    start = prop_def(FloatAttr[AnyFloat] | IntegerAttr)
    step = prop_def(FloatAttr[AnyFloat] | IntegerAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "attr-dict `:` type($result)"

    def check(self):
        if len(shape(self.result.type)) != 1:
            raise ShapeError(f"spiral.arange produces a 1-D tensor, got {self.result.type}")
        if dtype(self.result.type).kind == "b":
            raise ShapeError("spiral.arange cannot produce a bool tensor")
        if self.props()["step"] == 0:
            raise ShapeError("spiral.arange step must not be zero")


OPS = [ConstantOp, FullOp, ArangeOp]
