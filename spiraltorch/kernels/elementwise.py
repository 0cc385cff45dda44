"""Elementwise kernels: one loop nest over the (collapsed) output, loads through broadcast views."""

from __future__ import annotations

from spiraltorch.ir.ops import elementwise as ew
from spiraltorch.kernels import scalar
from spiraltorch.kernels.lower import Lowerer, lowering
from spiraltorch.kernels.view import View, collapse


def loop_nest(L: Lowerer, label: str, ins: list[View], out: View, body, key=None):
    """Emit a kernel looping over out's shape; body(kb, loaded_inputs) -> value stored to out.

    ins must already be broadcast to out.shape. Dims are collapsed where every view allows it.
    `key` identifies what body computes, so that repeated ops reuse one kernel (see Lowerer.kernel).
    """
    shape, strides = collapse(out.shape, out.strides, *[v.strides for v in ins])
    cviews = [View(v.buffer, shape, st, v.offset, v.element_type)
              for v, st in zip([out, *ins], strides, strict=True)]
    extent = shape[0] if shape else 1
    made = L.kernel(label, [*cviews[1:], cviews[0]], extent, key=key)
    if made is None:
        return
    kb, params, lo, hi = made
    *in_refs, out_ref = params
    with kb.loop(lo, hi) as outer:
        ivs = [outer.iv] if shape else []
        inner = kb.loops([(0, d) for d in shape[1:]])
        with inner as rest:
            idx = ivs + rest
            vals = [kb.load(r, idx) for r in in_refs]
            kb.store(body(kb, vals), out_ref, idx)
    L.finish_kernel(kb)


@lowering(*ew.OPS)
def lower_elementwise(L: Lowerer, op) -> None:
    out = L.result_view(op.results[0], reuse=tuple(op.operands))
    ins = [L.view(o).broadcast_to(out.shape) for o in op.operands]
    compute = scalar.operand_compute_types(op)
    out_t = out.element_type

    def body(kb, vals):
        args = [kb.convert(v, t) for v, t in zip(vals, compute, strict=True)]
        return kb.convert(scalar.scalar(kb, op, args), out_t)

    key = (op.name, tuple(sorted(op.props().items())), scalar.constant_exponent(op))
    loop_nest(L, op.name.split(".")[1], ins, out, body, key=key)
