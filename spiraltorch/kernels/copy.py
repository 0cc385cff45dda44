"""Copying one view into another (materializing transposes/broadcasts, filling outputs)."""

from __future__ import annotations

from spiraltorch.kernels.view import View


def copy_view(L, src: View, dst: View, label: str = "copy") -> None:
    from spiraltorch.kernels.elementwise import loop_nest

    src = src.broadcast_to(dst.shape)
    loop_nest(L, label, [src], dst, lambda kb, vals: kb.convert(vals[0], dst.element_type), key=("copy", label))
