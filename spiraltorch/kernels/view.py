"""Views: a tensor value as (buffer, shape, strides, offset), so that transpose, broadcast, slicing and
most reshapes cost nothing at run time: a kernel reading a view indexes the buffer with its strides.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import Attribute, SSAValue

from spiraltorch.ir import shapes


def contiguous_strides(shape) -> tuple[int, ...]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides))


@dataclass(frozen=True)
class View:
    buffer: SSAValue  # host memref value holding the data (flat or shaped, contiguous)
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int
    element_type: Attribute

    @staticmethod
    def of_buffer(buffer: SSAValue, shape, element_type) -> View:
        return View(buffer, tuple(shape), contiguous_strides(shape), 0, element_type)

    @property
    def is_contiguous(self) -> bool:
        return self.offset == 0 and _dense(self.shape, self.strides)

    def transpose(self, perm) -> View:
        return View(self.buffer, tuple(self.shape[p] for p in perm), tuple(self.strides[p] for p in perm),
                    self.offset, self.element_type)

    def broadcast_to(self, shape) -> View:
        shape = tuple(shape)
        pad = len(shape) - len(self.shape)
        strides = [0] * pad
        for d_src, d_dst, s in zip(self.shape, shape[pad:], self.strides, strict=True):
            strides.append(s if d_src == d_dst else 0)
        return View(self.buffer, shape, tuple(strides), self.offset, self.element_type)

    def slice(self, start, stride, shape) -> View:
        offset = self.offset + sum(b * s for b, s in zip(start, self.strides, strict=True))
        strides = tuple(st * s for st, s in zip(stride, self.strides, strict=True))
        return View(self.buffer, tuple(shape), strides, offset, self.element_type)

    def reshape(self, shape) -> View | None:
        """The same data with a new shape, or None when that needs a copy."""
        shape = tuple(shape)
        if self.is_contiguous or _dense(self.shape, self.strides):
            return View(self.buffer, shape, contiguous_strides(shape), self.offset, self.element_type)
        strides = _reshape_strides(self.shape, self.strides, shape)
        if strides is None:
            return None
        return View(self.buffer, shape, strides, self.offset, self.element_type)


def _dense(shape, strides) -> bool:
    return all(d == 1 or s == c for d, s, c in zip(shape, strides, contiguous_strides(shape), strict=True))


def _reshape_strides(old_shape, old_strides, new_shape):
    """numpy's attempt_nocopy_reshape: strides for new_shape over the same memory, or None."""
    old = [(d, s) for d, s in zip(old_shape, old_strides, strict=True) if d != 1]
    new = [d for d in new_shape]
    if shapes.numel(old_shape) != shapes.numel(new_shape):
        return None
    out = [0] * len(new)
    oi = ni = 0
    while oi < len(old) and ni < len(new):
        np_, op_ = new[ni], old[oi][0]
        nj, oj = ni + 1, oi + 1
        while np_ != op_:
            if np_ < op_:
                np_ *= new[nj]
                nj += 1
            else:
                op_ *= old[oj][0]
                oj += 1
        for k in range(oi, oj - 1):
            if old[k][1] != old[k + 1][0] * old[k + 1][1]:
                return None
        out[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            out[k - 1] = out[k] * new[k]
        ni, oi = nj, oj
    for k in range(ni, len(new)):  # trailing size-1 dims
        out[k] = 1
    return tuple(out)


def collapse(shape, *stride_sets):
    """Merge adjacent dims that are contiguous in every operand and drop size-1 dims.

    Returns (shape, [strides per operand]). Fewer, longer loops let LLVM vectorize the inner one.
    """
    dims = [i for i, d in enumerate(shape) if d != 1]
    if not dims:
        return (), [() for _ in stride_sets]
    out_shape = [shape[dims[0]]]
    out_strides = [[s[dims[0]]] for s in stride_sets]
    for i in dims[1:]:
        d = shape[i]
        if all(st[-1] == s[i] * d for st, s in zip(out_strides, stride_sets, strict=True)):
            out_shape[-1] *= d
            for st, s in zip(out_strides, stride_sets, strict=True):
                st[-1] = s[i]
        else:
            out_shape.append(d)
            for st, s in zip(out_strides, stride_sets, strict=True):
                st.append(s[i])
    return tuple(out_shape), [tuple(s) for s in out_strides]
