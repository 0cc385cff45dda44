"""Public shape ops (numpy names and semantics): reshape, transpose, broadcast_to, expand_dims, squeeze,
concatenate, stack, moveaxis, swapaxes, ravel, take_along_axis, and `getitem` behind `tensor[index]`;
and the transposes of take_along_axis and of slicing: scatter_add_along_axis and slice_scatter.

Every shape argument is static (Python ints). Axes may be negative as in numpy; the IR stores them
normalized. Indexing is numpy's basic indexing (ints, slices, None, Ellipsis) and becomes one
spiral.slice plus, where axes are dropped or added, one spiral.reshape. Advanced indexing (an array, a
list or a traced tensor as an index) is not supported: use take_along_axis.
"""

from __future__ import annotations

import operator

import numpy as np

from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.ops.common import as_tensor, cast, eager_ok, emit, promote
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes, shapes
from spiraltorch.ir.ops import shape as sh

__all__ = [
    "reshape",
    "ravel",
    "transpose",
    "permute",
    "permute_dims",
    "broadcast_to",
    "expand_dims",
    "squeeze",
    "concatenate",
    "concat",
    "stack",
    "moveaxis",
    "swapaxes",
    "take_along_axis",
    "scatter_add_along_axis",
    "slice_scatter",
    "getitem",
]


# --- argument helpers -----------------------------------------------------------------------------
def _int(name: str, what: str, v) -> int:
    if isinstance(v, (bool, np.bool_, Tensor)):
        raise tr.user_error(f"{name}: {what} must be an int, got {type(v).__name__}")
    try:
        return operator.index(v)
    except TypeError:
        raise tr.user_error(f"{name}: {what} must be an int, got {v!r}") from None


def _ints(name: str, what: str, v) -> tuple[int, ...]:
    """An int or a sequence of ints -> tuple of ints."""
    if isinstance(v, (tuple, list)):
        return tuple(_int(name, what, e) for e in v)
    if isinstance(v, np.ndarray) and v.ndim == 1:
        return tuple(_int(name, what, e) for e in v.tolist())
    return (_int(name, what, v),)


def _axis(name: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise tr.user_error(f"{name}: axis {axis} is out of bounds for a tensor of dimension {ndim}")
    return axis % ndim


def _axes(name: str, axes, ndim: int) -> tuple[int, ...]:
    norm = tuple(_axis(name, a, ndim) for a in _ints(name, "axis", axes))
    if len(set(norm)) != len(norm):
        raise tr.user_error(f"{name}: repeated axis in {tuple(axes) if not isinstance(axes, int) else axes}")
    return norm


def _strong(x: Tensor) -> Tensor:
    """x without NEP 50 weak typing: numpy's shape functions turn a Python scalar into a 0-d array."""
    return Tensor(x.value, x.trace) if x.weak else x


def _reshape(x: Tensor, new_shape) -> Tensor:
    new_shape = tuple(new_shape)
    if new_shape == x.shape:
        return _strong(x)
    return emit(sh.ReshapeOp, x, result_types=[dtypes.tensor_type(new_shape, x.ir_dtype)])


# --- reshape family -------------------------------------------------------------------------------
@eager_ok
def reshape(x, shape=None, order="C", *, copy=None):
    """numpy.reshape: one entry of shape may be -1 (inferred). Only C order."""
    x = as_tensor(x)
    if order != "C":
        raise tr.user_error(f"reshape: only order='C' is supported, got {order!r}")
    if shape is None:
        raise tr.user_error("reshape: the new shape is missing")
    try:
        new_shape = shapes.reshape(x.shape, _ints("reshape", "shape", shape))
    except shapes.ShapeError as err:
        raise tr.user_error(f"reshape: {err}") from None
    return _reshape(x, new_shape)


@eager_ok
def ravel(x, order="C"):
    """numpy.ravel: the tensor as 1-D (C order)."""
    return reshape(x, (-1,), order)


@eager_ok
def expand_dims(x, axis):
    """numpy.expand_dims: insert size-1 axes; axis (int or tuple) counts in the RESULT's axes."""
    x = as_tensor(x)
    axes = _ints("expand_dims", "axis", axis)
    out_ndim = x.ndim + len(axes)
    norm = _axes("expand_dims", axes, out_ndim)
    rest = iter(x.shape)
    return _reshape(x, [1 if ax in norm else next(rest) for ax in range(out_ndim)])


@eager_ok
def squeeze(x, axis=None):
    """numpy.squeeze: remove size-1 axes (all of them, or those in axis, which must have size 1)."""
    x = as_tensor(x)
    if axis is None:
        drop = {ax for ax, d in enumerate(x.shape) if d == 1}
    else:
        drop = set(_axes("squeeze", axis, x.ndim))
        for ax in sorted(drop):
            if x.shape[ax] != 1:
                raise tr.user_error(
                    f"squeeze: cannot squeeze axis {ax} of shape {x.shape}: its size is {x.shape[ax]}, not 1"
                )
    return _reshape(x, [d for ax, d in enumerate(x.shape) if ax not in drop])


# --- transpose family -----------------------------------------------------------------------------
@eager_ok
def transpose(x, axes=None):
    """numpy.transpose: axes=None reverses the axes; otherwise result axis i is input axis axes[i]."""
    x = as_tensor(x)
    if axes is None:
        perm = tuple(reversed(range(x.ndim)))
    else:
        given = _ints("transpose", "axes", axes)
        if len(given) != x.ndim:
            raise tr.user_error(f"transpose: axes {given} don't match a tensor of dimension {x.ndim}")
        perm = _axes("transpose", given, x.ndim)
    if perm == tuple(range(x.ndim)):
        return _strong(x)
    return emit(sh.TransposeOp, x, perm=perm)


permute_dims = transpose


@eager_ok
def permute(x, *dims):
    """torch.permute: permute(x, (1, 0)) or permute(x, 1, 0)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return transpose(x, dims)


@eager_ok
def moveaxis(x, source, destination):
    """numpy.moveaxis: move axes to new positions, the others keep their order."""
    x = as_tensor(x)
    src = _axes("moveaxis", source, x.ndim)
    dst = _axes("moveaxis", destination, x.ndim)
    if len(src) != len(dst):
        raise tr.user_error("moveaxis: source and destination must have the same number of elements")
    order = [ax for ax in range(x.ndim) if ax not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(x, tuple(order))


@eager_ok
def swapaxes(x, axis1, axis2):
    """numpy.swapaxes."""
    x = as_tensor(x)
    a = _axis("swapaxes", _int("swapaxes", "axis1", axis1), x.ndim)
    b = _axis("swapaxes", _int("swapaxes", "axis2", axis2), x.ndim)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, tuple(perm))


# --- broadcast_to ---------------------------------------------------------------------------------
@eager_ok
def broadcast_to(x, shape):
    """numpy.broadcast_to: prepend axes and repeat size-1 axes to reach shape."""
    x = as_tensor(x)
    target = _ints("broadcast_to", "shape", shape)
    if any(d < 0 for d in target):
        raise tr.user_error(f"broadcast_to: negative dimension in shape {target}")
    if not shapes.can_broadcast_to(x.shape, target):
        raise tr.user_error(f"broadcast_to: cannot broadcast a tensor of shape {x.shape} to shape {target}")
    if target == x.shape:
        return _strong(x)
    return emit(sh.BroadcastToOp, x, result_types=[dtypes.tensor_type(target, x.ir_dtype)])


# --- concatenate / stack --------------------------------------------------------------------------
def _sequence(name: str, xs) -> list[Tensor]:
    if isinstance(xs, Tensor):
        if xs.ndim == 0:
            raise tr.user_error(f"{name}: expects a sequence of tensors, got a 0-d tensor")
        return [xs[i] for i in range(xs.shape[0])]
    if isinstance(xs, np.ndarray) and xs.ndim:
        xs = list(xs)
    if not isinstance(xs, (tuple, list)):
        raise tr.user_error(f"{name}: expects a sequence of tensors, got {type(xs).__name__}")
    if not xs:
        raise tr.user_error(f"{name}: needs at least one tensor")
    return [_strong(as_tensor(x)) for x in xs]


def _common_dtype(name: str, xs, dtype):
    if dtype is None:
        return promote(*xs)
    try:
        return dtypes.lookup(dtype).np
    except dtypes.DTypeError as err:
        raise tr.user_error(f"{name}: {err}") from None


@eager_ok
def concatenate(xs, axis=0, dtype=None):
    """numpy.concatenate: join along an existing axis (axis=None flattens first); dtypes promote like
    numpy's (or convert to dtype)."""
    ts = _sequence("concatenate", xs)
    dt = _common_dtype("concatenate", ts, dtype)
    if axis is None:
        ts = [reshape(t, (-1,)) for t in ts]
        axis = 0
    axis = _int("concatenate", "axis", axis)
    first = ts[0]
    if first.ndim == 0:
        raise tr.user_error("concatenate: 0-d tensors cannot be concatenated")
    axis = _axis("concatenate", axis, first.ndim)
    for i, t in enumerate(ts[1:], 1):
        if t.ndim != first.ndim:
            raise tr.user_error(
                f"concatenate: all tensors must have the same number of dimensions, but tensor 0 has shape "
                f"{first.shape} and tensor {i} has shape {t.shape}"
            )
        for ax, (a, b) in enumerate(zip(first.shape, t.shape, strict=True)):
            if ax != axis and a != b:
                raise tr.user_error(
                    f"concatenate: shapes must match except on the concatenation axis {axis}, but on axis {ax} "
                    f"tensor 0 has size {a} and tensor {i} has size {b}"
                )
    ts = [cast(t, dt) for t in ts]
    if len(ts) == 1:
        return ts[0]
    return emit(sh.ConcatenateOp, *ts, axis=axis)


concat = concatenate


@eager_ok
def stack(xs, axis=0, dtype=None):
    """numpy.stack: join tensors of one shape along a new axis."""
    ts = _sequence("stack", xs)
    for i, t in enumerate(ts[1:], 1):
        if t.shape != ts[0].shape:
            raise tr.user_error(
                f"stack: all tensors must have the same shape, but tensor 0 has shape {ts[0].shape} "
                f"and tensor {i} has shape {t.shape}"
            )
    axis = _axis("stack", _int("stack", "axis", axis), ts[0].ndim + 1)
    return concatenate([expand_dims(t, axis) for t in ts], axis=axis, dtype=dtype)


# --- take_along_axis ------------------------------------------------------------------------------
@eager_ok
def take_along_axis(arr, indices, axis=-1):
    """numpy.take_along_axis. Negative indices count from the end as in numpy; indices outside
    [-n, n) are clamped to the nearest end (numpy raises IndexError; a compiled kernel cannot)."""
    arr = as_tensor(arr)
    indices = as_tensor(indices)
    if indices.ir_dtype.kind != "i":
        raise tr.user_error(f"take_along_axis: indices must be an integer tensor, got {indices.ir_dtype.name}")
    if axis is None:
        if indices.ndim != 1:
            raise tr.user_error(f"take_along_axis: with axis=None, indices must be 1-D, got shape {indices.shape}")
        arr = reshape(arr, (-1,))
        axis = 0
    if arr.ndim == 0:
        raise tr.user_error("take_along_axis: the tensor must have at least one dimension")
    if indices.ndim != arr.ndim:
        raise tr.user_error(
            f"take_along_axis: indices and the tensor must have the same number of dimensions, got shapes "
            f"{indices.shape} and {arr.shape}"
        )
    axis = _axis("take_along_axis", _int("take_along_axis", "axis", axis), arr.ndim)
    try:
        sh.take_along_axis_shape("take_along_axis", arr.shape, indices.shape, axis)
    except shapes.ShapeError as err:
        raise tr.user_error(str(err)) from None
    return emit(sh.TakeAlongAxisOp, arr, indices, axis=axis)


# --- scatter_add_along_axis / slice_scatter (the transposes of take_along_axis and slicing) ---------
@eager_ok
def scatter_add_along_axis(indices, updates, axis, length):
    """The transpose of take_along_axis: a tensor of updates' dtype and indices' shape, except `length` on
    `axis`, that is zero everywhere but where updates land: for every position p of indices,
    result[p with p[axis] = indices[p]] += updates[p]. Repeated indices sum (like numpy.add.at). Indices
    count from the end when negative and are clamped into [0, length) when out of range, as in
    take_along_axis, so `sum(take_along_axis(x, i, axis) * u) == sum(x * scatter_add_along_axis(i, u, axis,
    x.shape[axis]))`. updates (a tensor, numpy array or scalar) is broadcast to indices' shape, as
    numpy.put_along_axis broadcasts its values."""
    name = "scatter_add_along_axis"
    indices = as_tensor(indices)
    updates = _strong(as_tensor(updates))
    if indices.ir_dtype.kind != "i":
        raise tr.user_error(f"{name}: indices must be an integer tensor, got {indices.ir_dtype.name}")
    if updates.ir_dtype.kind == "b":
        raise tr.user_error(f"{name}: updates must be numeric, got bool (cast it with .astype first)")
    if indices.ndim == 0:
        raise tr.user_error(f"{name}: indices must have at least one dimension")
    if axis is None:
        raise tr.user_error(f"{name}: axis must be an int (axis=None is not supported)")
    axis = _axis(name, _int(name, "axis", axis), indices.ndim)
    length = _int(name, "length", length)
    if length < 0 or (length == 0 and shapes.numel(indices.shape)):
        raise tr.user_error(f"{name}: length must be >= 1 (the size of the result on axis {axis}), got {length}")
    if not shapes.can_broadcast_to(updates.shape, indices.shape):
        raise tr.user_error(
            f"{name}: updates of shape {updates.shape} cannot be broadcast to the indices' shape {indices.shape}"
        )
    updates = broadcast_to(updates, indices.shape)
    out_shape = list(indices.shape)
    out_shape[axis] = length
    return emit(sh.ScatterAddOp, indices, updates, axis=axis,
                result_types=[dtypes.tensor_type(out_shape, updates.ir_dtype)])


@eager_ok
def slice_scatter(base, src, start, stride):
    """The transpose of slicing: a copy of base with base[start[a] + j * stride[a] for every axis a] = src[j]
    (0 <= j < src.shape[a]), i.e. numpy's `out = base.copy(); out[window] = src` for the window that
    `base[start[0]::stride[0], ...]` limited to src's shape reads. start and stride hold one int per axis of
    base (stride != 0, negative steps backwards); every written position must lie inside base. src has base's
    rank and is cast to base's dtype (as numpy's assignment casts)."""
    name = "slice_scatter"
    base = _strong(as_tensor(base))
    src = _strong(as_tensor(src))
    start = _ints(name, "start", start)
    stride = _ints(name, "stride", stride)
    if src.ndim != base.ndim:
        raise tr.user_error(
            f"{name}: src must have the rank of base: src has shape {src.shape}, base has shape {base.shape}"
        )
    for what, values in (("start", start), ("stride", stride)):
        if len(values) != base.ndim:
            raise tr.user_error(
                f"{name}: {what} must have one entry per axis of base ({base.ndim}), got {len(values)}"
            )
    norm_start, norm_stride = [], []
    for ax, (n, count, b, step) in enumerate(zip(base.shape, src.shape, start, stride, strict=True)):
        if step == 0:
            raise tr.user_error(f"{name}: stride must not be zero (axis {ax})")
        if count:
            last = b + (count - 1) * step
            for i in (b, last):
                if not 0 <= i < n:
                    raise tr.user_error(
                        f"{name}: on axis {ax}, src's {count} elements with start {b} and stride {step} reach "
                        f"index {i}, out of bounds for base's size {n}"
                    )
        else:
            b, step = 0, 1  # writes nothing: the IR form of an empty window
        if count == 1:
            step = 1
        norm_start.append(b)
        norm_stride.append(step)
    src = cast(src, base.ir_dtype)
    return emit(sh.SliceScatterOp, base, src, start=tuple(norm_start), stride=tuple(norm_stride))


# --- indexing -------------------------------------------------------------------------------------
_ADVANCED = (
    "advanced indexing (an array, list, bool or traced tensor as an index) is not supported; "
    "use st.take_along_axis to gather by indices (or st.where for masks)"
)


def _index_items(index) -> tuple:
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for it in items:
        if it is None or it is Ellipsis or isinstance(it, slice):
            out.append(it)
        elif isinstance(it, (bool, np.bool_)):
            raise tr.user_error(f"tensor[{it!r}]: {_ADVANCED}")
        elif isinstance(it, (int, np.integer)):
            out.append(int(it))
        elif isinstance(it, np.ndarray) and it.ndim == 0 and it.dtype.kind in "iu":
            out.append(int(it))  # numpy treats a 0-d integer array as an int
        elif isinstance(it, Tensor):
            raise tr.user_error(f"{_ADVANCED}; a Python int index passed as an argument must be static "
                                "(static_argnums)")
        elif isinstance(it, (np.ndarray, list)):
            raise tr.user_error(_ADVANCED)
        else:
            raise tr.user_error(
                "only integers, slices (`:`), ellipsis (`...`) and None (np.newaxis) are valid indices, "
                f"got {type(it).__name__}"
            )
    return tuple(out)


@eager_ok
def getitem(x, index):
    """x[index] with numpy basic indexing: ints (negative count from the end), slices (any step,
    bounds clamped like Python's), None / np.newaxis, Ellipsis, and tuples of these."""
    x = as_tensor(x)
    items = _index_items(index)
    if sum(it is Ellipsis for it in items) > 1:
        raise tr.user_error("an index can only have a single ellipsis ('...')")
    used = sum(isinstance(it, (int, slice)) for it in items)
    if used > x.ndim:
        raise tr.user_error(f"too many indices for tensor: tensor is {x.ndim}-dimensional, but {used} were indexed")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items = items[:at] + (slice(None),) * (x.ndim - used) + items[at + 1:]
    else:
        items = items + (slice(None),) * (x.ndim - used)

    starts, strides, counts, out_shape = [], [], [], []
    ax = 0
    for it in items:
        if it is None:
            out_shape.append(1)
            continue
        n = x.shape[ax]
        if isinstance(it, int):
            if not -n <= it < n:
                raise tr.user_error(f"index {it} is out of bounds for axis {ax} with size {n}")
            start, step, count = it % n, 1, 1
        else:
            try:
                start, stop, step = it.indices(n)
            except (TypeError, ValueError) as err:
                raise tr.user_error(f"bad slice {it}: {err}") from None
            count = len(range(start, stop, step))
            out_shape.append(count)
            if count == 0:
                start, step = 0, 1
        if count == 1:
            step = 1
        starts.append(start)
        strides.append(step)
        counts.append(count)
        ax += 1

    y = x
    if tuple(counts) != x.shape or any(starts) or any(s != 1 for s in strides):
        y = emit(sh.SliceOp, x, result_types=[dtypes.tensor_type(counts, x.ir_dtype)],
                 start=tuple(starts), stride=tuple(strides))
    return _reshape(y, out_shape)
