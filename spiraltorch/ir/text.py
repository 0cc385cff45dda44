"""SpiralIR text I/O and verification with readable, one-line errors.

Parsing is the slow part of xDSL (~250 us/op, see shared notes), so the compiler keeps IR in memory
and uses text only for `stc`, tests and dumps.
"""

from __future__ import annotations

import io
from functools import cache

from xdsl.context import Context
from xdsl.dialects import arith, builtin, func, math, memref, scf
from xdsl.dialects.builtin import AnyFloat, FileLineColLoc, IntAttr, ModuleOp, StringAttr, UnknownLoc
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

from spiraltorch.errors import IRError
from spiraltorch.ir.ops.base import format_loc


@cache
def _dialects():
    from spiraltorch.ir.dialect import Spiral
    from spiraltorch.ir.kernel_dialect import Kern

    return [builtin.Builtin, func.Func, arith.Arith, math.Math, memref.MemRef, scf.Scf, Spiral, Kern]


def context() -> Context:
    """A fresh xDSL context with every dialect SpiralTorch reads or writes."""
    ctx = Context()
    for d in _dialects():
        ctx.load_dialect(d)
    return ctx


def extra_dialects(ctx: Context, dialects) -> None:
    for d in dialects:
        if d.name not in ctx.registered_dialect_names:
            ctx.load_dialect(d)


class _BitsElement(Parser._TensorLiteralElement):
    """A hex literal in dense<...> of a float type is the value's bit pattern (MLIR's rule). xDSL 0.74
    prints inf/nan (and some floats) that way but reads them back as integers."""

    def to_type(self, parser, type):
        if isinstance(type, AnyFloat):
            return type.unpack(self.value.to_bytes(type.compile_time_size, "little"), 1)[0]
        return super().to_type(parser, type)


class _LocatingParser(Parser):
    """Gives every parsed op without an explicit `loc(...)` its position in the text, so that
    verifier errors on a .mlir file point at file:line:col like mlir-opt's do."""

    def _parse_tensor_literal_element(self):
        el = super()._parse_tensor_literal_element()
        if type(el.value) is int and el.span.text.lower().startswith("0x"):
            return _BitsElement(el.is_negative, el.value, el.span)
        return el

    def parse_operation(self) -> Operation:
        start = self._current_token.span
        op = super().parse_operation()
        if isinstance(op.location, UnknownLoc):
            where = start.get_location()
            op.location = FileLineColLoc(StringAttr(where.file), IntAttr(where.line), IntAttr(where.col))
        return op


def parse(text: str, filename: str = "<input>", ctx: Context | None = None) -> ModuleOp:
    """Parse and verify; errors become IRError('file:line:col: message')."""
    parser = _LocatingParser(ctx or context(), text, name=filename)
    try:
        module = parser.parse_module()
    except ParseError as err:
        raise IRError(_parse_message(err, filename)) from err
    except (VerifyException, DiagnosticException) as err:
        # xDSL checks attribute and property types while parsing: report where the parser stood.
        where = parser._current_token.span.get_location()
        raise IRError(f"{filename}:{where.line}:{where.col}: {_root_message(err)}") from err
    verify(module, filename)
    return module


def _parse_message(err: ParseError, filename: str) -> str:
    where = err.span.get_location()
    return f"{filename}:{where.line}:{where.col}: {err.msg.strip()}"


def to_text(op: Operation, debuginfo: bool = False, generic: bool = False) -> str:
    buf = io.StringIO()
    Printer(stream=buf, print_debuginfo=debuginfo, print_generic_format=generic).print_op(op)
    return buf.getvalue() + "\n"


def verify(module: Operation, filename: str | None = None) -> None:
    """Verify every op, innermost first; the first failure becomes one readable IRError line."""
    for op in _postorder(module):
        try:
            op.verify(verify_nested_ops=False)
        except (DiagnosticException, ValueError) as err:
            msg = _root_message(err)
            if not msg.startswith(op.name):
                msg = f"{op.name}: {msg}"
            raise IRError(f"{where(op, filename)}: {msg}") from err


def where(op: Operation, filename: str | None = None) -> str:
    """The best location for an op: its source loc, else the IR file, else its name."""
    loc = format_loc(op.location) if isinstance(op.location, FileLineColLoc) else None
    return loc or filename or "<ir>"


def _root_message(err: BaseException) -> str:
    # xDSL wraps the verifier's own exception in a diagnostic carrying an IR dump; the cause is
    # the sentence we wrote, so report that.
    while err.__cause__ is not None:
        err = err.__cause__
    text = str(err).strip()
    if text.startswith("Operation does not verify: "):
        text = text[len("Operation does not verify: "):]
    return text.splitlines()[0] if text else type(err).__name__


def _postorder(op: Operation):
    for region in op.regions:
        for block in region.blocks:
            for inner in block.ops:
                yield from _postorder(inner)
    yield op
