"""spiral.fused on the CPU: one loop nest for a whole elementwise group.

Every input is loaded once per element through a broadcast view, the group's ops are emitted as scalar code in
program order (the same scalar semantics as one-op kernels: kernels/scalar.py, including the rounding of f16/bf16
results after each op, so fused and unfused code agree bit for bit), and only the yielded values are stored.
"""

from __future__ import annotations

from spiraltorch.ir import dtypes
from spiraltorch.ir.ops.creation import FullOp
from spiraltorch.ir.ops.fusion import FusedOp
from spiraltorch.kernels import scalar
from spiraltorch.kernels.builder import is_float
from spiraltorch.kernels.lower import Lowerer, lowering
from spiraltorch.kernels.view import View, collapse


def loop_nest_multi(L: Lowerer, label: str, ins: list[View], outs: list[View], body) -> None:
    """A kernel over the outputs' common shape; body(kb, loaded_inputs) -> one value per output."""
    shape, strides = collapse(outs[0].shape, *[v.strides for v in outs], *[v.strides for v in ins])
    views = [View(v.buffer, shape, st, v.offset, v.element_type)
             for v, st in zip([*outs, *ins], strides, strict=True)]
    cout, cin = views[:len(outs)], views[len(outs):]
    extent = shape[0] if shape else 1
    kb, params, lo, hi = L.kernel(label, [*cin, *cout], extent)
    in_refs, out_refs = params[:len(cin)], params[len(cin):]
    with kb.loop(lo, hi) as outer:
        with kb.loops([(0, d) for d in shape[1:]]) as rest:
            idx = ([outer.iv] if shape else []) + rest
            values = body(kb, [kb.load(r, idx) for r in in_refs])
            for v, r in zip(values, out_refs, strict=True):
                kb.store(v, r, idx)
    L.finish_kernel(kb)


def _constant(kb, op: FullOp):
    et = op.result.type.element_type
    value = op.props()["value"]
    if is_float(et):
        return kb.convert(kb.const(float(value), scalar.compute_type(et)), et)
    return kb.const(int(value), et)


@lowering(FusedOp)
def lower_fused(L: Lowerer, op: FusedOp) -> None:
    if op.kind.data == "cross_entropy":
        _lower_cross_entropy(L, op)
        return
    block = op.body.block
    outs = [L.result_view(r, reuse=tuple(op.inputs)) for r in op.results]
    shape = dtypes.shape_of(op.results[0].type)
    ins = [L.view(v).broadcast_to(shape) for v in op.inputs]
    members = list(block.ops)[:-1]
    yielded = list(block.last_op.operands)

    def body(kb, loaded):
        env = dict(zip(block.args, loaded, strict=True))
        for m in members:
            if isinstance(m, FullOp):
                env[m.result] = _constant(kb, m)
                continue
            args = [kb.convert(env[v], t) for v, t in zip(m.operands, scalar.operand_compute_types(m), strict=True)]
            env[m.results[0]] = kb.convert(scalar.scalar(kb, m, args), m.results[0].type.element_type)
        return [env[v] for v in yielded]

    loop_nest_multi(L, "fused", ins, outs, body)


def _lower_cross_entropy(L: Lowerer, op: FusedOp) -> None:
    """cross_entropy + cross_entropy_grad of the same logits: one pass over the rows computes both."""
    from spiraltorch.kernels.nn import loss_rows

    block = op.body.block
    loss, grad = list(block.ops)[:2]
    views = dict(zip(block.args, [L.view(v) for v in op.inputs], strict=True))
    yielded = list(block.last_op.operands)
    outs = {v: L.result_view(r) for v, r in zip(yielded, op.results, strict=True)}
    out = outs.get(loss.result)
    if out is None:  # the loss value is unused: its row buffer still gets written
        shape = dtypes.shape_of(loss.result.type)
        out = View.of_buffer(L.temp(shape, loss.result.type.element_type), shape, loss.result.type.element_type)
    loss_rows(L, views[loss.scores], views[loss.labels], loss.props()["reduction"], True, out=out,
              gout=outs[grad.result], gin=views.get(grad.g) or L.view(grad.g), name="cross_entropy_fwd_bwd")
