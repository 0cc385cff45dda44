"""Autodiff ops: `spiral.vjp` and `spiral.jvp` call a function of the module under a derivative.

They are what `st.grad`, `st.value_and_grad`, `st.vjp` and `st.jvp` trace to: the differentiated Python
function is traced into a private `func.func` of the same module and the op refers to it by symbol. The
`autodiff` pass (spiraltorch/passes/autodiff.py) replaces each op by the callee's body plus its derivative,
innermost first, so derivatives of derivatives work:

    %y, %ga = spiral.vjp @loss(%w, %x : tensor<4xf32>, tensor<8x4xf32>) cotangents(%one : tensor<f32>)
              {wrt = array<i64: 0>} -> tensor<f32>, tensor<4xf32>
    %y, %ty = spiral.jvp @f(%x : tensor<4xf32>) tangents(%t : tensor<4xf32>) {wrt = array<i64: 0>}
              -> tensor<4xf32>, tensor<4xf32>

`args` are the callee's arguments (values captured from enclosing code come last). vjp: one cotangent per
callee result (same type); results = the callee's results, then one gradient per `wrt` argument (the
argument's type). jvp: one tangent per `wrt` argument (the argument's type); results = the callee's
results, then one tangent per callee result (its type; zero for integer results).
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects import func
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, SymbolRefAttr, TensorType
from xdsl.irdl import (
    AttrSizedOperandSegments,
    ParsePropInAttrDict,
    irdl_op_definition,
    prop_def,
    var_operand_def,
    var_result_def,
)

from spiraltorch.ir.ops.base import SpiralOp, dtype
from spiraltorch.ir.shapes import ShapeError


class _DiffOp(SpiralOp):
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    callee = prop_def(SymbolRefAttr)
    wrt = prop_def(DenseArrayBase)
    outs = var_result_def(TensorType)

    # "cotangents" or "tangents": what the second operand group is called in messages.
    SEEDS: ClassVar[str] = ""

    @property
    def seeds(self):
        raise NotImplementedError

    def wrt_indices(self) -> tuple[int, ...]:
        return tuple(self.wrt.get_values())

    def callee_func(self) -> func.FuncOp | None:
        module = self.parent_op()
        while module is not None and not isinstance(module, ModuleOp):
            module = module.parent_op()
        if module is None:
            return None
        name = self.callee.root_reference.data
        for op in module.ops:
            if isinstance(op, func.FuncOp) and op.sym_name.data == name:
                return op
        return None

    def check(self) -> None:
        wrt = self.wrt_indices()
        n = len(self.args)
        if len(set(wrt)) != len(wrt) or any(not 0 <= i < n for i in wrt):
            raise ShapeError(f"{self.name} wrt {list(wrt)} must list distinct argument positions in [0, {n})")
        for i in wrt:
            if not dtype(self.args[i].type).is_float:
                raise ShapeError(
                    f"{self.name} cannot differentiate with respect to argument {i} of integer/bool type "
                    f"{self.args[i].type}"
                )
        module = self.parent_op()
        while module is not None and not isinstance(module, ModuleOp):
            module = module.parent_op()
        callee = self.callee_func()
        if callee is None:
            if module is not None:  # while tracing the op is not in a module yet
                raise ShapeError(f"{self.name} refers to @{self.callee.root_reference.data}, which is not a "
                                 "function of this module")
            return
        ftype = callee.function_type
        ins, outs = list(ftype.inputs.data), list(ftype.outputs.data)
        if [a.type for a in self.args] != ins:
            raise ShapeError(f"{self.name} argument types do not match @{callee.sym_name.data}'s inputs")
        self.check_seeds_and_results(ins, outs, wrt)

    def check_seeds_and_results(self, ins, outs, wrt) -> None:
        raise NotImplementedError


@irdl_op_definition
class VjpOp(_DiffOp):
    """Reverse mode: the callee's results and the gradients of sum(cotangents * results) w.r.t. `wrt`."""

    name = "spiral.vjp"
    args = var_operand_def(TensorType)  # declared per class: IRDL orders a subclass's fields first
    cotangents = var_operand_def(TensorType)
    SEEDS: ClassVar[str] = "cotangents"
    assembly_format = ("$callee `(` $args `:` type($args) `)` `cotangents` `(` $cotangents `:` type($cotangents) "
                       "`)` attr-dict `->` type($outs)")

    @property
    def seeds(self):
        return self.cotangents

    def check_seeds_and_results(self, ins, outs, wrt) -> None:
        if [c.type for c in self.cotangents] != outs:
            raise ShapeError(f"{self.name} needs one cotangent per callee result with the result's type")
        want = outs + [ins[i] for i in wrt]
        if [r.type for r in self.outs] != want:
            raise ShapeError(f"{self.name} results must be the callee's results followed by one gradient per "
                             "wrt argument (of the argument's type)")


@irdl_op_definition
class JvpOp(_DiffOp):
    """Forward mode: the callee's results and their directional derivatives along `tangents`."""

    name = "spiral.jvp"
    args = var_operand_def(TensorType)
    tangents = var_operand_def(TensorType)
    SEEDS: ClassVar[str] = "tangents"
    assembly_format = ("$callee `(` $args `:` type($args) `)` `tangents` `(` $tangents `:` type($tangents) "
                       "`)` attr-dict `->` type($outs)")

    @property
    def seeds(self):
        return self.tangents

    def check_seeds_and_results(self, ins, outs, wrt) -> None:
        if [t.type for t in self.tangents] != [ins[i] for i in wrt]:
            raise ShapeError(f"{self.name} needs one tangent per wrt argument with the argument's type")
        if [r.type for r in self.outs] != outs + outs:
            raise ShapeError(f"{self.name} results must be the callee's results followed by one tangent each")


OPS = [VjpOp, JvpOp]
