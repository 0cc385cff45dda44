"""Reductions: sum, mean, max, min, logsumexp over a set of axes; argmax/argmin over one axis or all.

The IR is strict about dtypes (the frontend inserts `spiral.astype` to follow numpy):
  * spiral.sum keeps the dtype (no bool: numpy sums bool/i32 as i64, so the frontend casts first);
  * spiral.mean and spiral.logsumexp take floating-point tensors only and keep the dtype;
  * spiral.max / spiral.min keep the dtype (bool allowed); they reject empty reduced axes;
  * spiral.argmax / spiral.argmin yield i64 indices; they reject empty reduced axes.
`axes` lists the reduced axes (any order, negative ones count from the end, no repeats; the frontend
writes them sorted and non-negative); `keepdims = true` keeps reduced axes with size 1. See docs/ir/reduction.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import I64, BoolAttr, DenseArrayBase, IntegerAttr, TensorType, i64
from xdsl.irdl import irdl_op_definition, operand_def, opt_prop_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from spiraltorch.ir import shapes
from spiraltorch.ir.ops.base import SpiralOp, dtype, shape, tensor
from spiraltorch.ir.shapes import ShapeError


def reduced_axes(op_name: str, axes, rank: int) -> tuple[int, ...]:
    """Normalized (sorted, non-negative) axes; errors name the op."""
    try:
        return shapes.normalize_axes(tuple(axes), rank)
    except ShapeError as err:
        raise ShapeError(f"{op_name}: {err}") from None


def require_nonempty(op_name: str, shp: Sequence[int], axes: Sequence[int]) -> None:
    """max/min/argmax/argmin have no identity: every reduced axis must have at least one element."""
    for a in axes:
        if shp[a] == 0:
            raise ShapeError(
                f"{op_name} cannot reduce an empty axis: axis {a} of shape {tuple(shp)} has size 0"
            )


def check_accepts(op_name: str, accepts: str, t) -> None:
    dt = dtype(t)
    if accepts == "float" and not dt.is_float:
        raise ShapeError(f"{op_name} expects a floating-point tensor, got {dt.name}")
    if accepts == "numeric" and dt.kind == "b":
        raise ShapeError(f"{op_name} does not accept bool tensors (cast to an integer type first)")


class ReduceOp(SpiralOp):
    """x reduced over `axes`; the result keeps the element type."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    # Any DenseArrayBase here, i64 checked in check(): a typed constraint fails inside the parser
    # with an unlocated error for `array<i32: ...>`.
    axes = prop_def(DenseArrayBase)
    keepdims = opt_prop_def(BoolAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"
    # Which dtypes the op accepts: "numeric" (not bool), "float" or "any".
    ACCEPTS: ClassVar[str] = "numeric"
    # True when reducing an empty axis has no defined value (no identity element).
    NEEDS_ELEMENTS: ClassVar[bool] = False

    @classmethod
    def infer(cls, types, axes=(), keepdims: bool = False, **props):
        (t,) = types
        check_accepts(cls.name, cls.ACCEPTS, t)
        shp = shape(t)
        norm = reduced_axes(cls.name, axes, len(shp))
        if cls.NEEDS_ELEMENTS:
            require_nonempty(cls.name, shp, norm)
        return [tensor(shapes.reduce(shp, norm, keepdims), dtype(t))]

    def check(self) -> None:
        if self.axes.elt_type != i64:
            raise ShapeError(f"{self.name} axes must be an array<i64: ...>, got {self.axes}")
        super().check()

    def normalized_axes(self) -> tuple[int, ...]:
        """The reduced axes, sorted and non-negative."""
        return reduced_axes(self.name, self.props()["axes"], len(shape(self.input.type)))


@irdl_op_definition
class SumOp(ReduceOp):
    """Sum; integers wrap around like numpy's int64/int32. Empty axes give 0."""

    name = "spiral.sum"


@irdl_op_definition
class MeanOp(ReduceOp):
    """Arithmetic mean (sum / count). Empty axes give NaN."""

    name = "spiral.mean"
    ACCEPTS: ClassVar[str] = "float"


@irdl_op_definition
class MaxOp(ReduceOp):
    """Maximum; NaN propagates."""

    name = "spiral.max"
    ACCEPTS: ClassVar[str] = "any"
    NEEDS_ELEMENTS: ClassVar[bool] = True


@irdl_op_definition
class MinOp(ReduceOp):
    """Minimum; NaN propagates."""

    name = "spiral.min"
    ACCEPTS: ClassVar[str] = "any"
    NEEDS_ELEMENTS: ClassVar[bool] = True


@irdl_op_definition
class LogSumExpOp(ReduceOp):
    """log(sum(exp(x))) computed stably; empty axes give -inf."""

    name = "spiral.logsumexp"
    ACCEPTS: ClassVar[str] = "float"


class ArgReduceOp(SpiralOp):
    """Index (i64) of the first extreme element along `axis`; without `axis`, the index into the
    flattened (row-major) tensor."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    axis = opt_prop_def(IntegerAttr[I64])
    keepdims = opt_prop_def(BoolAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    @classmethod
    def infer(cls, types, axis: int | None = None, keepdims: bool = False, **props):
        (t,) = types
        shp = shape(t)
        if axis is None:
            if shapes.numel(shp) == 0:
                raise ShapeError(
                    f"{cls.name} cannot reduce an empty axis: the tensor of shape {shp} has no elements"
                )
            out = (1,) * len(shp) if keepdims else ()
        else:
            norm = reduced_axes(cls.name, (axis,), len(shp))
            require_nonempty(cls.name, shp, norm)
            out = shapes.reduce(shp, norm, keepdims)
        return [tensor(out, "i64")]


@irdl_op_definition
class ArgMaxOp(ArgReduceOp):
    """First index of the maximum; a NaN counts as the maximum (the first NaN wins), as numpy."""

    name = "spiral.argmax"


@irdl_op_definition
class ArgMinOp(ArgReduceOp):
    """First index of the minimum; a NaN counts as the minimum (the first NaN wins), as numpy."""

    name = "spiral.argmin"


OPS = [SumOp, MeanOp, MaxOp, MinOp, ArgMaxOp, ArgMinOp, LogSumExpOp]
