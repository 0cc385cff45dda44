"""Shape ops of the spiral dialect: reshape, transpose, broadcast_to, slice, concatenate, take_along_axis,
and the transposes of the last two selections: scatter_add (of take_along_axis) and slice_scatter (of slice).

None of them changes an element's dtype; all but scatter_add only move, repeat or select elements
(scatter_add sums the updates that land on one position).
Axes stored in the IR are non-negative (the frontend normalizes numpy's negative axes); scatter_add also
accepts a negative axis in parsed IR and normalizes it (`ScatterAddOp.normalized_axis`).
reshape, broadcast_to, slice and scatter_add take their result type as an input (it IS the specification)
and are checked against their operands; the others infer their result type.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import I64, DenseArrayBase, IntegerAttr, TensorType, i64
from xdsl.ir import Attribute
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def, traits_def, var_operand_def
from xdsl.traits import Pure

from spiraltorch.ir import shapes
from spiraltorch.ir.ops.base import SpiralOp, dtype, require_int, require_same_dtype, shape, tensor
from spiraltorch.ir.shapes import ShapeError


def _same_dtype(op_name: str, src, dst) -> None:
    if dtype(src) != dtype(dst):
        raise ShapeError(f"{op_name} cannot change the dtype: {dtype(src).name} -> {dtype(dst).name}")


def _check_axis(op_name: str, axis: int, rank: int) -> int:
    if not 0 <= axis < rank:
        raise ShapeError(f"{op_name} axis {axis} is out of range for rank {rank} (IR axes are in [0, rank))")
    return axis


class _ShapeOp(SpiralOp):
    """One tensor in, one tensor of the same dtype out."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"


@irdl_op_definition
class ReshapeOp(_ShapeOp):
    """The same elements in row-major order with the result's shape."""

    name = "spiral.reshape"

    def check(self):
        src, dst = self.input.type, self.result.type
        _same_dtype(self.name, src, dst)
        n, m = shapes.numel(shape(src)), shapes.numel(shape(dst))
        if n != m:
            raise ShapeError(
                f"{self.name} cannot change the number of elements: {shape(src)} has {n}, {shape(dst)} has {m}"
            )


@irdl_op_definition
class TransposeOp(_ShapeOp):
    """result.shape[i] = input.shape[perm[i]] (numpy.transpose(x, perm))."""

    name = "spiral.transpose"
    perm = prop_def(DenseArrayBase.constr(i64))

    @classmethod
    def infer(cls, types, perm: Sequence[int] = ()):
        (t,) = types
        rank = len(shape(t))
        if sorted(perm) != list(range(rank)):
            raise ShapeError(
                f"{cls.name} perm {tuple(perm)} is not a permutation of the axes of a rank-{rank} tensor"
            )
        return [tensor(shapes.transpose(shape(t), perm), dtype(t))]


@irdl_op_definition
class BroadcastToOp(_ShapeOp):
    """numpy.broadcast_to(x, result.shape): leading axes are added, size-1 axes repeat."""

    name = "spiral.broadcast_to"

    def check(self):
        src, dst = self.input.type, self.result.type
        _same_dtype(self.name, src, dst)
        s, d = shape(src), shape(dst)
        if len(s) > len(d):
            raise ShapeError(f"{self.name} cannot broadcast {s} to {d}: the result has a lower rank")
        for ax in range(-len(s), 0):
            if s[ax] not in (1, d[ax]):
                raise ShapeError(
                    f"{self.name} cannot broadcast {s} to {d}: axis {ax} has {s[ax]} vs {d[ax]} (must be 1 or equal)"
                )


@irdl_op_definition
class SliceOp(_ShapeOp):
    """Static strided slice: along axis a, result index j reads input index start[a] + j * stride[a];
    the result shape gives the number of elements taken per axis. Strides may be negative."""

    name = "spiral.slice"
    start = prop_def(DenseArrayBase.constr(i64))
    stride = prop_def(DenseArrayBase.constr(i64))

    def check(self):
        src, dst = self.input.type, self.result.type
        _same_dtype(self.name, src, dst)
        p = self.props()
        check_strided_window(self.name, shape(src), shape(dst), p["start"], p["stride"])


def check_strided_window(
    op_name: str, full: Sequence[int], window: Sequence[int], start: Sequence[int], stride: Sequence[int],
    what: str = "result", verb: str = "reads", whole: str = "input",
) -> None:
    """The positions start[a] + j * stride[a] (0 <= j < window[a]) of every axis a must lie in [0, full[a]).

    Shared by spiral.slice (reads the window of its input) and spiral.slice_scatter (writes its src into the
    window of its base); `what`, `verb` and `whole` name the parts in the messages.
    """
    s, d = tuple(full), tuple(window)
    if len(d) != len(s):
        raise ShapeError(
            f"{op_name} {what} rank {len(d)} differs from the {whole} rank {len(s)} "
            "(drop or add axes with spiral.reshape)"
        )
    for name, values in (("start", start), ("stride", stride)):
        if len(values) != len(s):
            raise ShapeError(f"{op_name} {name} must have {len(s)} entries (the rank), got {len(values)}")
    for ax, (n, count, b, st) in enumerate(zip(s, d, start, stride, strict=True)):
        if st == 0:
            raise ShapeError(f"{op_name} stride must not be zero (axis {ax})")
        if count == 0:
            continue  # touches nothing
        last = b + (count - 1) * st
        for idx in (b, last):
            if not 0 <= idx < n:
                raise ShapeError(
                    f"{op_name} axis {ax} {verb} index {idx} (start {b}, stride {st}, count {count}), "
                    f"out of bounds for size {n}"
                )


@irdl_op_definition
class ConcatenateOp(SpiralOp):
    """numpy.concatenate(inputs, axis): operands of one dtype and rank, equal off the axis."""

    name = "spiral.concatenate"
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$inputs attr-dict `:` type($inputs) `->` type($result)"

    @classmethod
    def infer(cls, types, axis: int = 0):
        if not types:
            raise ShapeError(f"{cls.name} needs at least one operand")
        dt = require_same_dtype(cls.name, types)
        ss = [shape(t) for t in types]
        rank = len(ss[0])
        if rank == 0:
            raise ShapeError(f"{cls.name} cannot concatenate 0-d tensors")
        for s in ss[1:]:
            if len(s) != rank:
                raise ShapeError(f"{cls.name} operands must have one rank, got {ss[0]} and {s}")
        _check_axis(cls.name, axis, rank)
        for s in ss[1:]:
            if any(a != b for i, (a, b) in enumerate(zip(ss[0], s, strict=True)) if i != axis):
                raise ShapeError(f"{cls.name} along axis {axis}: shapes {ss[0]} and {s} differ off that axis")
        out = list(ss[0])
        out[axis] = sum(s[axis] for s in ss)
        return [tensor(out, dt)]


def take_along_axis_shape(op_name: str, arr: Sequence[int], idx: Sequence[int], axis: int) -> tuple[int, ...]:
    """Result shape of take_along_axis: indices' size on the axis, arr and indices broadcast elsewhere."""
    arr, idx = tuple(arr), tuple(idx)
    if not arr:
        raise ShapeError(f"{op_name} needs an input of rank >= 1")
    if len(idx) != len(arr):
        raise ShapeError(f"{op_name} indices must have the rank of the input: {arr} vs {idx}")
    out = []
    for ax, (a, i) in enumerate(zip(arr, idx, strict=True)):
        if ax == axis:
            out.append(i)
        elif a == i or 1 in (a, i):
            out.append(i if a == 1 else a)
        else:
            raise ShapeError(
                f"{op_name}: input {arr} and indices {idx} do not broadcast on axis {ax} ({a} vs {i})"
            )
    if arr[axis] == 0 and shapes.numel(out):
        raise ShapeError(f"{op_name} cannot take elements from axis {axis} of size 0")
    return tuple(out)


@irdl_op_definition
class TakeAlongAxisOp(SpiralOp):
    """numpy.take_along_axis(input, indices, axis). Index i on an axis of size n reads element
    i + n if i < 0, then clamped to [0, n - 1] (numpy's negative indices; out of range clamps)."""

    name = "spiral.take_along_axis"
    input = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$input `,` $indices attr-dict `:` type($input) `,` type($indices) `->` type($result)"

    @classmethod
    def infer(cls, types, axis: int = 0):
        arr, idx = types
        require_int(cls.name, "indices", idx)
        if shape(arr):
            _check_axis(cls.name, axis, len(shape(arr)))
        return [tensor(take_along_axis_shape(cls.name, shape(arr), shape(idx), axis), dtype(arr))]


def scatter_add_type(updates: Attribute, axis: int, length: int) -> TensorType:
    """The result type of spiral.scatter_add: updates' shape with `length` on `axis`, updates' dtype.
    (A helper for builders: `ScatterAddOp.make(i, u, axis=a, result_types=[scatter_add_type(u.type, a, n)])`.)"""
    out = list(shape(updates))
    if not -len(out) <= axis < len(out):
        raise ShapeError(f"spiral.scatter_add axis {axis} is out of range for rank {len(out)}")
    out[axis] = length
    return tensor(out, dtype(updates))


@irdl_op_definition
class ScatterAddOp(SpiralOp):
    """The transpose (adjoint) of take_along_axis: result = zeros of the result type; for every position p of
    updates, result[q] += updates[p] with q = p except q[axis] = idx(indices[p]), idx normalized like
    take_along_axis (i < 0 -> i + n, then clamped to [0, n - 1]; n = result.shape[axis]). Duplicates sum.

    indices (i32/i64) and updates (any dtype but bool) have one shape (no broadcasting); the result has
    updates' dtype and shape except on `axis`, where its length n is given by the result type. `axis` may be
    negative in the IR ([-rank, rank)); `normalized_axis()` gives it in [0, rank)."""

    name = "spiral.scatter_add"
    indices = operand_def(TensorType)
    updates = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$indices `,` $updates attr-dict `:` type($indices) `,` type($updates) `->` type($result)"

    def normalized_axis(self) -> int:
        return self.props()["axis"] % max(len(shape(self.updates.type)), 1)

    def check(self):
        idx_t, upd_t, res_t = self.indices.type, self.updates.type, self.result.type
        require_int(self.name, "indices", idx_t)
        if dtype(upd_t).kind == "b":
            raise ShapeError(f"{self.name} updates must be numeric (bool cannot be summed), got {dtype(upd_t).name}")
        if dtype(res_t) != dtype(upd_t):
            raise ShapeError(
                f"{self.name} result dtype {dtype(res_t).name} differs from the updates dtype {dtype(upd_t).name}"
            )
        i, u, r = shape(idx_t), shape(upd_t), shape(res_t)
        rank = len(u)
        if rank == 0:
            raise ShapeError(f"{self.name} needs updates of rank >= 1")
        axis = self.props()["axis"]
        if not -rank <= axis < rank:
            raise ShapeError(f"{self.name} axis {axis} is out of range for rank {rank} (axes are in [-rank, rank))")
        axis %= rank
        if i != u:
            raise ShapeError(
                f"{self.name} indices and updates must have one shape (broadcast them first): {i} vs {u}"
            )
        if len(r) != rank:
            raise ShapeError(f"{self.name} result rank {len(r)} differs from the updates rank {rank}")
        for ax, (a, b) in enumerate(zip(r, u, strict=True)):
            if ax != axis and a != b:
                raise ShapeError(
                    f"{self.name} result shape {r} differs from the updates shape {u} off axis {axis} "
                    f"(axis {ax}: {a} vs {b})"
                )
        if r[axis] == 0 and shapes.numel(u):
            raise ShapeError(f"{self.name} cannot add elements into axis {axis} of size 0")


@irdl_op_definition
class SliceScatterOp(SpiralOp):
    """The transpose of slice: a copy of base whose elements at base[start[a] + j * stride[a] for every axis a]
    (0 <= j < src.shape[a]: the positions spiral.slice with the same start/stride and result shape src.shape
    reads) are replaced by src[j]. base, src and result have one dtype; the result type is base's."""

    name = "spiral.slice_scatter"
    base = operand_def(TensorType)
    src = operand_def(TensorType)
    result = result_def(TensorType)
    start = prop_def(DenseArrayBase.constr(i64))
    stride = prop_def(DenseArrayBase.constr(i64))
    traits = traits_def(Pure())
    assembly_format = "$base `,` $src attr-dict `:` type($base) `,` type($src) `->` type($result)"

    @classmethod
    def infer(cls, types, start: Sequence[int] = (), stride: Sequence[int] = ()):
        base, src = types
        require_same_dtype(cls.name, types)
        check_strided_window(cls.name, shape(base), shape(src), start, stride, what="src", verb="writes",
                             whole="base")
        return [base]


OPS = [ReshapeOp, TransposeOp, BroadcastToOp, SliceOp, ConcatenateOp, TakeAlongAxisOp, ScatterAddOp, SliceScatterOp]
