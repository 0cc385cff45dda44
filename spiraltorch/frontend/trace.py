"""Tracing: a TraceContext owns the func.func being built; ops are emitted into it with the user's line.

Only one trace is active per thread at a time (a stack allows nested traces, e.g. compiling a
function inside another compiled function's Python body); a Tensor remembers its trace, and mixing
tensors of two traces is reported instead of producing dangling IR.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import FileLineColLoc, IntAttr, ModuleOp, StringAttr
from xdsl.ir import Attribute, Block, SSAValue

from spiraltorch.errors import TraceError
from spiraltorch.ir import dtypes
from spiraltorch.ir.shapes import ShapeError

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_local = threading.local()


def _stack() -> list[TraceContext]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def current() -> TraceContext | None:
    stack = _stack()
    return stack[-1] if stack else None


def user_frame():
    """The innermost Python frame outside the spiraltorch package: the user's line."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame = frame.f_back
    return frame


def user_location() -> tuple[str, int]:
    frame = user_frame()
    if frame is None:
        return "<unknown>", 0
    return frame.f_code.co_filename, frame.f_lineno


def user_error(message: str) -> TraceError:
    """A TraceError prefixed by the user's file:line (short path when under the cwd)."""
    filename, line = user_location()
    return TraceError(f"{_short(filename)}:{line}: {message}")


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


_NAME_OK = re.compile(r"[^A-Za-z0-9_]")


class TraceContext:
    """Builds one func.func from Python calls. Use as a context manager.

    A context with a `parent` traces a callee (the function under st.grad / st.jvp): tensors of
    enclosing traces used inside it become extra trailing arguments ("captures"), so closures over
    traced values work and stay differentiable by the enclosing transforms.
    """

    def __init__(self, name: str, arg_types: Sequence[Attribute], arg_names: Sequence[str] = (),
                 parent: TraceContext | None = None):
        self.func = func.FuncOp(_NAME_OK.sub("_", name) or "f", (list(arg_types), []))
        self.block: Block = self.func.body.block
        self.parent = parent
        self.root: TraceContext = parent.root if parent is not None else self
        self.callees: list[func.FuncOp] = []  # filled on the root only
        self.captured: list[SSAValue] = []  # values of the parent passed as trailing arguments
        self._capture_arg: dict[SSAValue, SSAValue] = {}
        for arg, hint in zip(self.block.args, arg_names, strict=False):
            hint = _NAME_OK.sub("_", hint)
            if hint and not hint[0].isdigit():
                arg.name_hint = hint

    def __enter__(self) -> TraceContext:
        _stack().append(self)
        return self

    def __exit__(self, *exc) -> None:
        _stack().pop()

    @property
    def args(self) -> tuple[SSAValue, ...]:
        return tuple(self.block.args)

    def encloses(self, other: TraceContext) -> bool:
        """True when `other` is this context or one of its enclosing (parent) contexts."""
        ctx = self
        while ctx is not None:
            if ctx is other:
                return True
            ctx = ctx.parent
        return False

    def lift(self, trace: TraceContext, value: SSAValue) -> SSAValue:
        """The SSA value of this function standing for `value` of `trace` (this or an enclosing trace)."""
        if trace is self:
            return value
        if self.parent is None:
            raise user_error("this tensor belongs to another traced function (it leaked out of a trace, e.g. "
                             "through a global or a closure); pass it as an argument instead")
        outer = self.parent.lift(trace, value)
        arg = self._capture_arg.get(outer)
        if arg is None:
            arg = self.block.insert_arg(outer.type, len(self.block.args))
            if outer.name_hint:
                arg.name_hint = outer.name_hint
            self._capture_arg[outer] = arg
            self.captured.append(outer)
        return arg

    def emit(self, op_cls, *operands: SSAValue, result_types=None, **props):
        """Build op_cls at the user's current line; shape/dtype errors become TraceErrors there."""
        filename, line = user_location()
        try:
            op = op_cls.make(*operands, result_types=result_types, **props)
        except (ShapeError, dtypes.DTypeError) as err:
            raise TraceError(f"{_short(filename)}:{line}: {err}") from None
        return self.add(op)

    def add(self, op):
        """Append a built op, located at the user's current line."""
        filename, line = user_location()
        op.location = FileLineColLoc(StringAttr(_short(filename)), IntAttr(line), IntAttr(0))
        self.block.add_op(op)
        return op

    def _close(self, results: Sequence[SSAValue]) -> None:
        self.block.add_op(func.ReturnOp(*results))
        self.func.function_type = func.FunctionType.from_lists(
            [a.type for a in self.block.args], [r.type for r in results]
        )

    def finish(self, results: Sequence[SSAValue]) -> ModuleOp:
        self._close(results)
        return ModuleOp([self.func, *self.callees])

    def finish_callee(self, results: Sequence[SSAValue]) -> func.FuncOp:
        """Close a callee trace: a private function of the root module, with a name unique in it."""
        self._close(results)
        root = self.root
        taken = {root.func.sym_name.data, *(f.sym_name.data for f in root.callees)}
        base, n = self.func.sym_name.data, 0
        name = base
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        self.func.sym_name = StringAttr(name)
        self.func.sym_visibility = StringAttr("private")
        root.callees.append(self.func)
        return self.func
