"""spiral.fused on the CPU: one loop nest for a whole elementwise group.

Every input is loaded once per element through a broadcast view, the group's ops are emitted as scalar code in
program order (the same scalar semantics as one-op kernels: kernels/scalar.py, including the rounding of f16/bf16
results after each op, so fused and unfused code agree bit for bit), and only the yielded values are stored.
"""

from __future__ import annotations

from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import reduction as rd
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
    if op.kind.data == "reduction":
        _lower_reduction(L, op)
        return
    if op.kind.data == "matmul":
        _lower_matmul_epilogue(L, op)
        return
    block = op.body.block
    outs = [L.result_view(r, reuse=tuple(op.inputs)) for r in op.results]
    shape = dtypes.shape_of(op.results[0].type)
    ins = [L.view(v).broadcast_to(shape) for v in op.inputs]
    members = list(block.ops)[:-1]
    yielded = list(block.last_op.operands)

    def body(kb, loaded):
        env = _evaluate(kb, members, dict(zip(block.args, loaded, strict=True)))
        return [env[v] for v in yielded]

    loop_nest_multi(L, "fused", ins, outs, body)


def _evaluate(kb, members, env: dict) -> dict:
    """Scalar code for the group's elementwise ops, in program order; env maps values to scalars."""
    for m in members:
        if isinstance(m, FullOp):
            env[m.result] = _constant(kb, m)
            continue
        args = [kb.convert(env[v], t) for v, t in zip(m.operands, scalar.operand_compute_types(m), strict=True)]
        env[m.results[0]] = kb.convert(scalar.scalar(kb, m, args), m.results[0].type.element_type)
    return env


def _lower_reduction(L: Lowerer, op: FusedOp) -> None:
    """Elementwise ops feeding one reduction (sum, mean, max, min), and elementwise ops on its result: the
    reduction's input is computed per element inside the reduction loop and never stored; group values used
    elsewhere are stored from the same loop; the ops after the reduction run once per result element."""
    from spiraltorch.ir.shapes import numel
    from spiraltorch.kernels.reduction import _combine, _identity, column_kernel, kept_loops, reduce_loops

    block = op.body.block
    ops = list(block.ops)[:-1]
    red = next(o for o in ops if isinstance(o, (rd.SumOp, rd.MeanOp, rd.MaxOp, rd.MinOp)))
    cut = ops.index(red)
    constants = [o for o in ops if isinstance(o, FullOp)]
    members = [o for o in ops[:cut] if not isinstance(o, FullOp)]
    after = [o for o in ops[cut + 1:] if not isinstance(o, FullOp)]
    before_values = {r for o in members for r in o.results}
    yielded = list(block.last_op.operands)
    results = dict(zip(yielded, op.results, strict=True))
    in_shape = dtypes.shape_of(red.input.type)
    res_shape = dtypes.shape_of(red.result.type)
    axes = red.normalized_axes()
    kept = [i for i in range(len(in_shape)) if i not in axes]
    k_full = [in_shape[i] for i in kept]
    ct = scalar.compute_type(red.result.type.element_type)
    red_et = red.result.type.element_type

    def kept_view(v: View) -> View:  # a view of the result's shape, indexed by the kept dims only
        strides = [v.strides[i] for i in kept] if len(v.shape) == len(in_shape) and len(in_shape) != len(kept) \
            else list(v.strides)
        return View(v.buffer, tuple(k_full), tuple(strides), v.offset, v.element_type)

    used_before = {v for o in members for v in o.operands} | {red.input}
    used_after = {v for o in after for v in o.operands}
    args_before = [a for a in block.args if a in used_before]
    args_after = [a for a in block.args if a in used_after]
    inputs = dict(zip(block.args, op.inputs, strict=True))
    full = [(v, L.result_view(r)) for v, r in results.items() if v in before_values]
    red_out = L.result_view(results[red.result]) if red.result in results else None
    after_outs = [(v, L.result_view(r)) for v, r in results.items() if v not in before_values and v is not red.result]
    if red_out is None:  # accumulators need a home (the column loop keeps them in it)
        red_out = View.of_buffer(L.temp(res_shape, red_et), res_shape, red_et)
    big = [L.view(inputs[a]).broadcast_to(in_shape) for a in args_before] + [o for _, o in full]
    small = [kept_view(L.view(inputs[a]).broadcast_to(res_shape)) for a in args_after] + \
        [kept_view(red_out)] + [kept_view(o) for _, o in after_outs]
    k_shape, k_strides = collapse(k_full, *[[v.strides[i] for i in kept] for v in big], *[v.strides for v in small])
    r_shape, r_strides = collapse([in_shape[i] for i in axes], *[[v.strides[i] for i in axes] for v in big])
    split = [View(v.buffer, (*k_shape, *r_shape), (*ks, *rs), v.offset, v.element_type)
             for v, ks, rs in zip(big, k_strides[:len(big)], r_strides, strict=True)]
    kviews = [View(v.buffer, k_shape, ks, v.offset, v.element_type)
              for v, ks in zip(small, k_strides[len(big):], strict=True)]
    n = numel([in_shape[i] for i in axes])
    nb_in, nb_full, ns_in = len(args_before), len(full), len(args_after)

    def element(kb, refs, idx, acc):
        env = _evaluate(kb, constants + members,
                        {a: kb.load(r, idx) for a, r in zip(args_before, refs[:nb_in], strict=True)})
        for (v, _), r in zip(full, refs[nb_in:nb_in + nb_full], strict=True):
            kb.store(env[v], r, idx)
        return _combine(kb, red, acc, kb.convert(env[red.input], ct))

    def finish(kb, refs, kidx, acc):
        """Store the reduction's value and run the ops after it, at kept index kidx."""
        small_refs = refs[len(split):]
        value = kb.div(acc, kb.const(float(n), ct)) if isinstance(red, rd.MeanOp) else acc
        value = kb.convert(value, red_et)
        kb.store(value, small_refs[ns_in], kidx)
        if after:
            env = {a: kb.load(r, kidx) for a, r in zip(args_after, small_refs[:ns_in], strict=True)}
            env[red.result] = value
            env = _evaluate(kb, constants + after, env)
            for (v, _), r in zip(after_outs, small_refs[ns_in + 1:], strict=True):
                kb.store(env[v], r, kidx)

    views = [*split, *kviews]
    label = "fused_" + red.name.split(".")[1]
    columns = (len(k_shape) == 1 and r_shape and ct == red_et
               and all(v.strides[0] in (0, 1) for v in split) and any(v.strides[0] == 1 for v in split))
    if columns:  # kept elements adjacent in memory: accumulate whole rows (as kernels/reduction.py does)
        column_kernel(L, label + "_columns", views, len(split) + ns_in, k_shape[0], r_shape, _identity(red, ct), ct,
                      element, finish)
        return

    def row(kb, refs, kidx):
        init = kb.const(_identity(red, ct), ct)
        (acc,) = reduce_loops(kb, r_shape, [init], lambda idx, a: [element(kb, refs, idx, a[0])], kidx)
        finish(kb, refs, kidx, acc)

    kept_loops(L, label, views, k_shape, row)


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


class _Epilogue:
    """The elementwise ops after a matmul, run on each band of C inside the GEMM's kernel (kernels/linalg.py)."""

    def __init__(self, members, c_value, args, inputs: list[View], outputs: list[tuple]):
        self.members = members
        self.c_value = c_value  # the matmul's result inside the region
        self.args = args  # region arguments read by the epilogue, in the order of `inputs`
        self.views = [*inputs, *(v for _, v in outputs)]
        self.outputs = outputs  # (region value, view) stored by the epilogue
        self.n_in = len(inputs)

    def emit(self, kb, refs, c_at, rows, cols) -> None:
        in_refs, out_refs = refs[:self.n_in], refs[self.n_in:]
        with kb.loop(*rows) as i, kb.loop(*cols) as j:
            idx = [i.iv, j.iv]
            env = {self.c_value: c_at(i.iv, j.iv)}
            env.update({a: kb.load(r, idx) for a, r in zip(self.args, in_refs, strict=True)})
            env = _evaluate(kb, self.members, env)
            for (v, _), r in zip(self.outputs, out_refs, strict=True):
                kb.store(env[v], r, idx)


def _lower_matmul_epilogue(L: Lowerer, op: FusedOp) -> None:
    """matmul + its elementwise consumers: C is written by the GEMM and finished band by band while in cache."""
    from spiraltorch.ir.ops.linalg import MatmulOp
    from spiraltorch.kernels.linalg import emit_matmul

    block = op.body.block
    ops = list(block.ops)[:-1]
    mm = next(o for o in ops if isinstance(o, MatmulOp))
    members = [o for o in ops if o is not mm]
    yielded = list(block.last_op.operands)
    results = dict(zip(yielded, op.results, strict=True))
    views = dict(zip(block.args, [L.view(v) for v in op.inputs], strict=True))
    shape = dtypes.shape_of(mm.result.type)
    if mm.result in results:  # C itself is used elsewhere: the GEMM writes it where it is wanted
        c = L.result_view(results.pop(mm.result))
    else:
        et = mm.result.type.element_type
        c = View.of_buffer(L.temp(shape, et), shape, et)
    used = {v for m in members for v in m.operands}
    args = [a for a in block.args if a in used]
    outputs = [(v, L.result_view(r)) for v, r in results.items()]
    epilogue = _Epilogue(members, mm.result, args, [views[a].broadcast_to(shape) for a in args], outputs)
    emit_matmul(L, views[mm.lhs], views[mm.rhs], c, epilogue)
