"""The `spiral` dialect: every op family registered in one Dialect object."""

from __future__ import annotations

from xdsl.ir import Dialect

from spiraltorch.ir.ops import autodiff, creation, elementwise, fusion, linalg, nn, rankk, reduction, shape

OP_MODULES = [elementwise, creation, reduction, nn, linalg, shape, rankk, autodiff, fusion]

ALL_OPS = [op for mod in OP_MODULES for op in mod.OPS]

Spiral = Dialect("spiral", ALL_OPS, [])
