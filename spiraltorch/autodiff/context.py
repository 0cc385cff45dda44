"""RuleContext: lets derivative rules use the public `st.*` ops (numpy dtype rules, broadcasting, checks)
while the autodiff pass rewrites a module. Ops go in front of an anchor op and carry the location of the
primal op they differentiate, so derivative code points at the user's line that caused it.
"""

from __future__ import annotations

from contextlib import contextmanager

from xdsl.ir import Attribute, Operation, SSAValue

from spiraltorch.errors import CompileError
from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes
from spiraltorch.ir.shapes import ShapeError


class RuleContext(tr.TraceContext):
    def __init__(self, anchor: Operation):
        # Deliberately not calling TraceContext.__init__: there is no function being built.
        self.anchor = anchor
        self.block = anchor.parent_block()
        self.parent = None
        self.root = self
        self.callees = []
        self.captured = []
        self.location: Attribute | None = anchor.location

    def lift(self, trace, value: SSAValue) -> SSAValue:
        return value

    def encloses(self, other) -> bool:
        return other is self

    def add(self, op: Operation) -> Operation:
        if self.location is not None:
            op.location = self.location
        self.block.insert_op_before(op, self.anchor)
        return op

    def emit(self, op_cls, *operands: SSAValue, result_types=None, **props):
        try:
            op = op_cls.make(*operands, result_types=result_types, **props)
        except (ShapeError, dtypes.DTypeError) as err:
            raise CompileError(f"autodiff: a derivative rule built an invalid {op_cls.name}: {err}") from err
        return self.add(op)

    def wrap(self, value: SSAValue) -> Tensor:
        return Tensor(value, self)

    @contextmanager
    def located(self, location: Attribute | None):
        saved, self.location = self.location, location
        try:
            yield
        finally:
            self.location = saved
