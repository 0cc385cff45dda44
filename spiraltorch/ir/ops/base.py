"""What every `spiral` op shares: result-type inference, verification against it, Python-valued properties.

An op class declares its operands/results/properties with IRDL and implements `infer(types, **props)`,
which returns the result types from the operand types and the properties (as plain Python values).
The same function serves three callers:
  * builders (`AddOp.make(a, b)`) so nobody spells result types by hand,
  * the verifier, which recomputes the types of parsed IR and compares,
  * the frontend, which reports the ShapeError message at the user's source line.
Ops whose result type is an input (reshape, astype, constants) pass `result_types=` and override `check`.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    BoolAttr,
    DenseArrayBase,
    FileLineColLoc,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    f64,
    i64,
)
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import IRDLOperation, ParsePropInAttrDict
from xdsl.utils.exceptions import VerifyException

from spiraltorch.ir import dtypes
from spiraltorch.ir.shapes import ShapeError


def to_attr(value) -> Attribute:
    """Python property value -> attribute (the type of the value decides)."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool):
        return BoolAttr.from_bool(value)
    if isinstance(value, int):
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, (tuple, list)):
        return DenseArrayBase.from_list(i64, [int(v) for v in value])
    raise TypeError(f"cannot store {value!r} as an op property")


def from_attr(attr: Attribute):
    """Attribute -> Python value (inverse of to_attr)."""
    if isinstance(attr, IntegerAttr):
        if isinstance(attr.type, IntegerType) and attr.type.width.data == 1:
            return bool(attr.value.data)
        return attr.value.data
    if isinstance(attr, FloatAttr):
        return attr.value.data
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, DenseArrayBase):
        return tuple(attr.get_values())
    return attr


def shape(t: Attribute) -> tuple[int, ...]:
    return dtypes.shape_of(t)


def dtype(t: Attribute) -> dtypes.DType:
    return dtypes.dtype_of(t)


def tensor(shape_: Sequence[int], dt) -> TensorType:
    return dtypes.tensor_type(shape_, dt)


def format_loc(loc: Attribute | None) -> str | None:
    """`file:line` of an op's source location, or None when it has none."""
    if isinstance(loc, FileLineColLoc):
        col = loc.column.data
        return f"{loc.filename.data}:{loc.line.data}" + (f":{col}" if col else "")
    return None


class SpiralOp(IRDLOperation):
    """Base of every spiral op (not registered itself)."""

    # Properties are printed and parsed inside the attribute dictionary: `{axes = array<i64: 1>}`.
    irdl_options = (ParsePropInAttrDict(),)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def infer(cls, types: list[Attribute], **props) -> list[Attribute]:
        raise NotImplementedError(f"{cls.name} needs explicit result_types")

    @classmethod
    def make(cls, *operands: SSAValue, result_types: Sequence[Attribute] | None = None, **props):
        """Build the op, inferring result types unless given. Raises ShapeError on bad input."""
        props = {k: v for k, v in props.items() if v is not None}  # None = property absent
        inferred = result_types is None
        if inferred:
            result_types = cls.infer([o.type for o in operands], **props)
        op = cls.create(
            operands=list(operands),
            result_types=list(result_types),
            properties={k: to_attr(v) for k, v in props.items()},
        )
        if not inferred:
            op.check()
        return op

    # -- inspection --------------------------------------------------------------------------
    def props(self) -> dict:
        """Properties as Python values (defaults filled in)."""
        names = type(self).get_irdl_definition().properties
        out = {}
        for name in names:
            attr = getattr(self, name)
            if attr is not None:
                out[name] = from_attr(attr)
        return out

    @property
    def loc(self) -> str | None:
        return format_loc(self.location)

    # -- verification ------------------------------------------------------------------------
    def check(self) -> None:
        """Raise ShapeError if the result types differ from the inferred ones."""
        expected = type(self).infer([o.type for o in self.operands], **self.props())
        actual = [r.type for r in self.results]
        if list(expected) != actual:
            exp = ", ".join(map(str, expected))
            act = ", ".join(map(str, actual))
            raise ShapeError(f"result type {act} does not match the inferred {exp}")

    def verify_(self) -> None:
        try:
            self.check()
        except (ShapeError, dtypes.DTypeError) as err:
            raise VerifyException(str(err)) from err


def require_float(op_name: str, t: Attribute) -> None:
    if not dtype(t).is_float:
        raise ShapeError(f"{op_name} expects a floating-point tensor, got {dtype(t).name}")


def require_same_dtype(op_name: str, types: Sequence[Attribute]) -> dtypes.DType:
    names = [dtype(t).name for t in types]
    if len(set(names)) != 1:
        raise ShapeError(f"{op_name} operands must have one dtype, got {' and '.join(names)}")
    return dtype(types[0])


def require_int(op_name: str, what: str, t: Attribute) -> None:
    if dtype(t).kind != "i":
        raise ShapeError(f"{op_name} {what} must be an integer tensor (i32 or i64), got {dtype(t).name}")
