"""Rank-K selection: `spiral.rankk` picks k elements along one axis by their rank (top, middle or bottom).

One first-class op (later passes fuse and lower it), two results: the selected values (input dtype) and
their positions along the axis (i64). Exact semantics, ties and NaN: docs/ir/rankk.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import I64, IntegerAttr, StringAttr, TensorType
from xdsl.irdl import irdl_op_definition, operand_def, opt_prop_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from spiraltorch.ir import dtypes
from spiraltorch.ir.ops.base import SpiralOp, dtype, shape, tensor
from spiraltorch.ir.shapes import ShapeError

KINDS = ("top", "mid", "bottom")


def check_rankk(name: str, in_shape: Sequence[int], in_dtype: dtypes.DType, kind: str, k: int,
                axis: int) -> int:
    """Validate a rank-k selection; returns the normalized (non-negative) axis.

    `name` starts every message: "spiral.rankk" for the verifier, the public function's name
    ("topk") for the frontend, so both report the same rule in the words of their caller."""
    if kind not in KINDS:
        raise ShapeError(f'{name} kind must be "top", "mid" or "bottom", got "{kind}"')
    if in_dtype.kind == "b":
        raise ShapeError(f"{name} does not accept bool tensors (rank an integer or float tensor)")
    rank = len(in_shape)
    if rank == 0:
        raise ShapeError(f"{name} needs a tensor of rank >= 1, got a 0-d tensor")
    if not -rank <= axis < rank:
        raise ShapeError(f"{name} axis {axis} is out of range for a tensor of rank {rank}")
    ax = axis % rank
    n = in_shape[ax]
    if k < 1:
        raise ShapeError(f"{name} k = {k} must be at least 1")
    if k > n:
        raise ShapeError(f"{name} k = {k} exceeds the length {n} of axis {ax}")
    return ax


def rankk_shape(in_shape: Sequence[int], k: int, axis: int) -> tuple[int, ...]:
    """The result shape: the (normalized) axis becomes k."""
    out = list(in_shape)
    out[axis] = k
    return tuple(out)


@irdl_op_definition
class RankKOp(SpiralOp):
    """`%v, %i = spiral.rankk %x {kind = "top", k = 4} : tensor<8x128xf32> -> tensor<8x4xf32>, tensor<8x4xi64>`

    kind: "top" (the k largest, descending), "bottom" (the k smallest, ascending) or "mid" (k elements
    from the middle of the descending order); k: 1 <= k <= length of the axis; axis: default -1 (last).
    """

    name = "spiral.rankk"
    input = operand_def(TensorType)
    values = result_def(TensorType)
    indices = result_def(TensorType)
    kind = prop_def(StringAttr)
    k = prop_def(IntegerAttr[I64])
    axis = opt_prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($values) `,` type($indices)"
    DEFAULT_AXIS: ClassVar[int] = -1

    @classmethod
    def infer(cls, types, kind: str = "", k: int = 0, axis: int = -1, **props):
        (t,) = types
        ax = check_rankk(cls.name, shape(t), dtype(t), kind, k, axis)
        out = rankk_shape(shape(t), k, ax)
        return [tensor(out, dtype(t)), tensor(out, "i64")]

    def check(self) -> None:
        # Same rules as infer, with a message per result that names what is wrong with it.
        props = self.props()
        t = self.input.type
        kind, k, axis = props["kind"], props["k"], props.get("axis", self.DEFAULT_AXIS)
        ax = check_rankk(self.name, shape(t), dtype(t), kind, k, axis)
        want = rankk_shape(shape(t), k, ax)
        in_dt = dtype(t)
        v_dt, i_dt = dtype(self.values.type), dtype(self.indices.type)
        if v_dt != in_dt:
            raise ShapeError(f"spiral.rankk values must have the input dtype {in_dt.name}, got {v_dt.name}")
        if i_dt.name != "i64":
            raise ShapeError(f"spiral.rankk indices must be i64, got {i_dt.name}")
        for what, res in (("values", self.values.type), ("indices", self.indices.type)):
            if shape(res) != want:
                raise ShapeError(
                    f"spiral.rankk {what} shape {shape(res)} should be {want}: the input {shape(t)} "
                    f"with axis {ax} of length k = {k}"
                )


OPS = [RankKOp]
