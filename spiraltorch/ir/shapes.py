"""Shape rules shared by op builders (result-type inference), verifiers and the frontend.

Each function returns the result shape or raises ShapeError with a message written for the user
("shapes (4, 8) and (9,) do not broadcast: axis -1 has 8 vs 9"), so the same words reach
them whether the mistake is found while tracing or while verifying parsed IR.
"""

from __future__ import annotations

from collections.abc import Sequence

Shape = tuple[int, ...]


class ShapeError(ValueError):
    pass


def broadcast(*shapes: Sequence[int]) -> Shape:
    """numpy broadcasting of any number of shapes."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for ax in range(-rank, 0):
        dims = {s[ax] for s in shapes if len(s) >= -ax}
        dims.discard(1)
        if len(dims) > 1:
            pretty = " and ".join(str(tuple(s)) for s in shapes)
            sizes = " vs ".join(str(s[ax]) if len(s) >= -ax else "-" for s in shapes)
            raise ShapeError(f"shapes {pretty} do not broadcast: axis {ax} has {sizes}")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def can_broadcast_to(src: Sequence[int], dst: Sequence[int]) -> bool:
    if len(src) > len(dst):
        return False
    return all(s in (1, d) for s, d in zip(reversed(src), reversed(dst), strict=False))


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for a tensor of rank {rank}")
    return axis % rank


def normalize_axes(axes, rank: int) -> tuple[int, ...]:
    """None -> all axes; int or sequence -> sorted non-negative axes (duplicates rejected)."""
    if axes is None:
        return tuple(range(rank))
    if isinstance(axes, int):
        axes = (axes,)
    norm = tuple(normalize_axis(a, rank) for a in axes)
    if len(set(norm)) != len(norm):
        raise ShapeError(f"repeated axis in {tuple(axes)}")
    return tuple(sorted(norm))


def reduce(shape: Sequence[int], axes: Sequence[int], keepdims: bool) -> Shape:
    """Shape after reducing the (already normalized) axes."""
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def matmul(a: Sequence[int], b: Sequence[int]) -> Shape:
    """numpy.matmul for operands of rank >= 2 (the frontend turns 1-D operands into 2-D first)."""
    if len(a) < 2 or len(b) < 2:
        raise ShapeError(f"matmul operands must have rank >= 2, got shapes {tuple(a)} and {tuple(b)}")
    if a[-1] != b[-2]:
        raise ShapeError(
            f"matmul inner dimensions differ: {tuple(a)} @ {tuple(b)} contracts {a[-1]} with {b[-2]}"
        )
    try:
        batch = broadcast(a[:-2], b[:-2])
    except ShapeError:
        raise ShapeError(
            f"matmul batch dimensions {tuple(a[:-2])} and {tuple(b[:-2])} do not broadcast"
        ) from None
    return (*batch, a[-2], b[-1])


def transpose(shape: Sequence[int], perm: Sequence[int]) -> Shape:
    if sorted(perm) != list(range(len(shape))):
        raise ShapeError(f"permutation {tuple(perm)} is not a permutation of the axes of a rank-{len(shape)} tensor")
    return tuple(shape[p] for p in perm)


def numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def reshape(src: Sequence[int], dst: Sequence[int]) -> Shape:
    """Resolve one -1 in dst and check the element count is unchanged."""
    dst = list(dst)
    if dst.count(-1) > 1:
        raise ShapeError(f"reshape to {tuple(dst)}: only one dimension can be -1")
    if any(d < -1 for d in dst):
        raise ShapeError(f"reshape to {tuple(dst)}: negative dimension")
    if -1 in dst:
        known = numel(d for d in dst if d != -1)
        if known == 0 or numel(src) % known:
            raise ShapeError(f"cannot reshape {tuple(src)} into {tuple(dst)}")
        dst[dst.index(-1)] = numel(src) // known
    if numel(src) != numel(dst):
        raise ShapeError(
            f"cannot reshape {tuple(src)} ({numel(src)} elements) into {tuple(dst)} ({numel(dst)} elements)"
        )
    return tuple(dst)


def concatenate(shapes: Sequence[Sequence[int]], axis: int) -> Shape:
    if not shapes:
        raise ShapeError("concatenate needs at least one tensor")
    rank = len(shapes[0])
    if rank == 0:
        raise ShapeError("cannot concatenate 0-d tensors")
    axis = normalize_axis(axis, rank)
    for s in shapes[1:]:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0], strict=True)) if i != axis):
            raise ShapeError(
                f"concatenate along axis {axis}: shapes {tuple(shapes[0])} and {tuple(s)} differ off that axis"
            )
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out)


def slice_len(start: int, stop: int, step: int) -> int:
    """Number of elements of range(start, stop, step) (indices already normalized)."""
    return max(0, len(range(start, stop, step)))
