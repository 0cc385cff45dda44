"""Expanding `spiral.vjp` / `spiral.jvp`: the callee's body is cloned in front of the op, then its
derivative is built from the per-op rules, and the op's results are replaced.

Reverse mode walks the cloned body backwards, accumulating one cotangent per value; forward mode walks
it forwards carrying one tangent per value. Only "active" values (floating-point values that depend on
a differentiated argument) get derivative code, so constant subgraphs cost nothing. Ops are expanded
innermost first: a callee that itself contains vjp/jvp ops is expanded before anything differentiates
it, which is what makes grad-of-grad and jvp-of-grad work.
"""

from __future__ import annotations

from collections.abc import Iterable

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue

from spiraltorch.autodiff.context import RuleContext
from spiraltorch.errors import CompileError
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes
from spiraltorch.ir.ops.autodiff import JvpOp, VjpOp, _DiffOp
from spiraltorch.ir.ops.creation import FullOp


def expand_module(module: ModuleOp) -> int:
    """Expand every vjp/jvp op of the module; returns how many were expanded. Callees no longer
    referenced (private functions) are removed."""
    count = 0
    while True:
        ready = [op for op in module.walk() if isinstance(op, _DiffOp) and _is_plain(_callee(op))]
        if not ready:
            break
        for op in ready:
            expand(op)
            count += 1
    left = [op for op in module.walk() if isinstance(op, _DiffOp)]
    if left:
        raise CompileError(f"autodiff: {left[0].name} @{left[0].callee.root_reference.data} could not be expanded "
                           "(recursive differentiation)")
    _drop_unused_private(module)
    return count


def expand(op: _DiffOp) -> None:
    callee = _callee(op)
    ctx = RuleContext(op)
    mapping: dict[SSAValue, SSAValue] = dict(zip(callee.body.block.args, op.args, strict=True))
    body = list(callee.body.block.ops)
    ret, body = body[-1], body[:-1]
    for o in body:  # the clones keep the user's lines of the differentiated function
        ctx.block.insert_op_before(o.clone(value_mapper=mapping), op)
    wrt = [callee.body.block.args[i] for i in op.wrt_indices()]
    active = _active(body, wrt)
    results = [mapping.get(v, v) for v in ret.operands]
    with ctx:  # the public ops used by the rules emit into ctx
        if isinstance(op, VjpOp):
            extra = _reverse(ctx, body, mapping, active, ret, op, wrt)
        else:
            extra = _forward(ctx, body, mapping, active, ret, op, wrt)
    for old, new in zip(op.outs, [*results, *extra], strict=True):
        old.replace_all_uses_with(new)
    op.detach()
    op.erase()


def _callee(op: _DiffOp) -> func.FuncOp:
    callee = op.callee_func()
    if callee is None:
        raise CompileError(f"autodiff: {op.name} refers to @{op.callee.root_reference.data}, which is not a "
                           "function of the module")
    return callee


def _is_plain(callee: func.FuncOp) -> bool:
    return not any(isinstance(o, _DiffOp) for o in callee.walk())


def _active(body: Iterable[Operation], wrt: list[SSAValue]) -> set[SSAValue]:
    active = {v for v in wrt if _is_float(v)}
    for o in body:
        if any(v in active for v in o.operands):
            active.update(r for r in o.results if _is_float(r))
    return active


def _is_float(v: SSAValue) -> bool:
    return dtypes.dtype_of(v.type).is_float


def _apply(ctx: RuleContext, table: dict, mode: str, o: Operation, mapping, seeds: list) -> list:
    """Run o's rule from `table` on the cloned operands and results with the given cotangents/tangents."""
    rule = table.get(type(o))
    if rule is None:
        from spiraltorch.ir.text import where

        raise CompileError(f"{where(o)}: {o.name} has no {mode}-mode derivative rule")
    ins = [ctx.wrap(mapping.get(v, v)) for v in o.operands]
    outs = [ctx.wrap(mapping[r]) for r in o.results]
    return rule(o, ins, outs, seeds)


def _fit(o: Operation, v: SSAValue, t: Tensor, what: str) -> Tensor:
    """t, cast to v's dtype when only the float precision differs (numpy promotes bf16 * Python float to f32,
    so rules written with Python constants can widen half types); any other mismatch is a rule bug."""
    if t.value.type == v.type:
        return t
    if dtypes.shape_of(t.value.type) == dtypes.shape_of(v.type) and t.ir_dtype.is_float and _is_float(v):
        from spiraltorch.frontend.ops import astype

        return astype(t, dtypes.dtype_of(v.type).np)
    raise CompileError(f"autodiff: the {what} rule of {o.name} produced {t.value.type} for a value of type {v.type}")


def _zeros(ctx: RuleContext, v: SSAValue) -> Tensor:
    dt = dtypes.dtype_of(v.type)
    op = ctx.add(FullOp.make(result_types=[v.type], value=False if dt.kind == "b" else (0.0 if dt.is_float else 0)))
    return ctx.wrap(op.results[0])


def _is_zero(v: SSAValue) -> bool:
    owner = v.owner
    return isinstance(owner, FullOp) and owner.props()["value"] == 0


def _reverse(ctx, body, mapping, active, ret, op: VjpOp, wrt) -> list[SSAValue]:
    from spiraltorch.autodiff.vjp_rules import VJP

    ct: dict[SSAValue, Tensor] = {}

    def accumulate(v: SSAValue, g: Tensor) -> None:
        ct[v] = g if v not in ct else ct[v] + g

    for v, seed in zip(ret.operands, op.cotangents, strict=True):
        if v in active and not _is_zero(seed):
            accumulate(v, ctx.wrap(seed))
    for o in reversed(body):
        if not any(r in ct for r in o.results):
            continue
        with ctx.located(o.location):
            grads = _apply(ctx, VJP, "reverse", o, mapping, [ct.get(r) for r in o.results])
            for v, g in zip(o.operands, grads, strict=True):
                if g is not None and v in active:
                    accumulate(v, _fit(o, v, g, "reverse-mode"))
    return [ct[v].value if v in ct else _zeros(ctx, v).value for v in wrt]


def _forward(ctx, body, mapping, active, ret, op: JvpOp, wrt) -> list[SSAValue]:
    from spiraltorch.autodiff.jvp_rules import JVP

    tan: dict[SSAValue, Tensor] = {}
    for v, seed in zip(wrt, op.tangents, strict=True):
        if v in active:
            tan[v] = ctx.wrap(seed)
    for o in body:
        if not any(v in tan for v in o.operands):
            continue
        with ctx.located(o.location):
            touts = _apply(ctx, JVP, "forward", o, mapping, [tan.get(v) for v in o.operands])
            for r, t in zip(o.results, touts, strict=True):
                if t is not None and r in active:
                    tan[r] = _fit(o, r, t, "forward-mode")
    with ctx.located(op.location):
        return [tan[v].value if v in tan else _zeros(ctx, mapping.get(v, v)).value for v in ret.operands]


def _drop_unused_private(module: ModuleOp) -> None:
    used = {op.callee.root_reference.data for op in module.walk() if isinstance(op, _DiffOp)}
    used |= {op.callee.root_reference.data for op in module.walk() if isinstance(op, func.CallOp)}
    for f in list(module.ops):
        if isinstance(f, func.FuncOp) and f.sym_visibility is not None and f.sym_visibility.data == "private" \
                and f.sym_name.data not in used and not f.is_declaration:
            module.body.block.detach_op(f)
            f.erase()
