"""constant / full / arange: data in the module (memref.global) or a small kernel."""

from __future__ import annotations

import numpy as np
from xdsl.dialects import memref
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    MemRefType,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
)

from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import creation as cr
from spiraltorch.kernels.lower import Lowerer, lowering
from spiraltorch.kernels.view import View


def global_constant(L: Lowerer, values: np.ndarray, element_type) -> object:
    """A memref.global holding values (flattened), and the host value that reads it."""
    name = f"cst{len(L.globals)}"
    flat = values.reshape(-1)
    mtype = MemRefType(element_type, [flat.size])
    data = flat.astype(np.float32) if dtypes.from_ir(element_type).name == "bf16" else flat
    init = DenseIntOrFPElementsAttr.from_list(TensorType(element_type, [flat.size]), data.tolist())
    g = memref.GlobalOp.get(StringAttr(name), mtype, init, StringAttr("private"), constant=UnitAttr())
    L.globals.append(g)
    get = memref.GetGlobalOp(SymbolRefAttr(name), mtype)
    L.host.insert(get)
    return get.results[0]


@lowering(cr.ConstantOp)
def lower_constant(L: Lowerer, op: cr.ConstantOp) -> None:
    shape = dtypes.shape_of(op.result.type)
    et = op.result.type.element_type
    values = np.asarray(op.value.get_values()).reshape(shape)
    L.set_view(op.result, View.of_buffer(global_constant(L, values, et), shape, et).reshape(shape))


@lowering(cr.FullOp)
def lower_full(L: Lowerer, op: cr.FullOp) -> None:
    # One element, broadcast with zero strides: a splat costs no memory traffic to create.
    shape = dtypes.shape_of(op.result.type)
    et = op.result.type.element_type
    value = np.asarray([op.props()["value"]]).astype(dtypes.from_ir(et).np)
    buf = global_constant(L, value, et)
    L.set_view(op.result, View(buf, shape, (0,) * len(shape), 0, et))


@lowering(cr.ArangeOp)
def lower_arange(L: Lowerer, op: cr.ArangeOp) -> None:
    # The values are known at compile time: store them like a constant.
    p = op.props()
    (n,) = dtypes.shape_of(op.result.type)
    et = op.result.type.element_type
    values = (p["start"] + np.arange(n) * p["step"]).astype(dtypes.from_ir(et).np)
    L.set_view(op.result, View.of_buffer(global_constant(L, values, et), (n,), et))
