"""Which ops (and operand dtypes) a target compiles, probed once with tiny programs and cached."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from hypothesis.errors import UnsatisfiedAssumption

import spiraltorch as st
from spiraltorch.errors import CompileError
from spiraltorch.fuzz.params import KNOWN_BUGS, dtype_name
from spiraltorch.fuzz.program import Program, Step, make_function

# ---------------------------------------------------------------------------------------------------
# Target support
# ---------------------------------------------------------------------------------------------------

_SUPPORT: dict = {}  # (target, key) -> None if supported, else the CompileError message
_OP_SUPPORT: dict = {}  # (target, op) -> None or message


def _cpu_front_half(lowered) -> None:
    """The part of the cpu compile that refuses unsupported ops (kernel lowering, LLVM IR emission),
    without optimizing and generating machine code: a probe costs a few milliseconds instead of a compile."""
    from spiraltorch.codegen import aot

    aot.llvm_module(aot.kernel_module(lowered))


_FRONT_HALF = {"cpu": _cpu_front_half}


def _compiles(target: str, fn: Callable, arrays) -> str | None:
    """None if fn compiles for target, else the CompileError's message. Other exceptions are bugs: the op
    then counts as supported, so that the fuzz run reports the failure with a reproducer."""
    lowered = st.compile(fn, target=target).lower(*arrays)
    try:
        try:
            probe = _FRONT_HALF.get(target)
            if probe is None:
                lowered.compile()
            else:
                probe(lowered)
        except (ImportError, AttributeError):  # the front half moved: compile fully
            lowered.compile()
    except CompileError as err:
        return str(err)
    except Exception:
        return None
    return None


def _probe_inputs():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    y = rng.uniform(0.5, 2.0, (4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1], np.int64)
    idx = np.array([[0, 1, 2, 3], [1, 0, 0, 2], [3, 3, 1, 0]], np.int64)
    b = x > 1.0
    return x, y, labels, idx, b


def _probe_unary(name):
    return lambda x, y, l, i, b: getattr(st, name)(x)


def _probe_binary(name):
    return lambda x, y, l, i, b: getattr(st, name)(x, x * 0.5)


def _probe_bool(name):
    return lambda x, y, l, i, b: getattr(st, name)(b, ~b)


# One tiny program per op, on (x f32[3,4], y f32[4,3], labels i64[3], idx i64[3,4], b bool[3,4]).
_PROBES: dict[str, Callable] = {
    **{name: _probe_unary(name) for name in (
        "exp", "log", "log1p", "tanh", "sigmoid", "sqrt", "rsqrt", "sin", "cos", "erf", "gelu", "negative", "abs",
        "relu", "logical_not", "sum", "mean", "max", "min", "argmax", "argmin", "logsumexp", "softmax",
        "log_softmax", "ravel", "transpose", "squeeze")},
    **{name: _probe_binary(name) for name in (
        "add", "subtract", "multiply", "divide", "floor_divide", "mod", "power", "maximum", "minimum", "equal",
        "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or", "logical_xor")},
    **{name: _probe_bool(name) for name in (
        "bitwise_and", "bitwise_or", "bitwise_xor")},
    "invert": lambda x, y, l, i, b: st.invert(b),
    "where": lambda x, y, l, i, b: st.where(b, x, -x),
    "astype": lambda x, y, l, i, b: st.astype(x, st.int32),
    "cross_entropy": lambda x, y, l, i, b: st.cross_entropy(x, l),
    "nll_loss": lambda x, y, l, i, b: st.nll_loss(x, l),
    "one_hot": lambda x, y, l, i, b: st.one_hot(l, 4),
    "matmul": lambda x, y, l, i, b: x @ y,
    "reshape": lambda x, y, l, i, b: st.reshape(x, (2, 6)),
    "broadcast_to": lambda x, y, l, i, b: st.broadcast_to(x, (2, 3, 4)),
    "expand_dims": lambda x, y, l, i, b: st.expand_dims(x, 1),
    "concatenate": lambda x, y, l, i, b: st.concatenate([x, x], axis=0),
    "stack": lambda x, y, l, i, b: st.stack([x, x], axis=1),
    "moveaxis": lambda x, y, l, i, b: st.moveaxis(x, 0, 1),
    "swapaxes": lambda x, y, l, i, b: st.swapaxes(x, 0, 1),
    "take_along_axis": lambda x, y, l, i, b: st.take_along_axis(x, i, axis=1),
    "getitem": lambda x, y, l, i, b: x[1:, ::2],
    "zeros": lambda x, y, l, i, b: st.zeros((3, 4)) + x,
    "ones": lambda x, y, l, i, b: st.ones((3, 4)) + x,
    "full": lambda x, y, l, i, b: st.full((3, 4), 1.5) + x,
    "arange": lambda x, y, l, i, b: st.arange(4) + x,
    "zeros_like": lambda x, y, l, i, b: st.zeros_like(x) + x,
    "ones_like": lambda x, y, l, i, b: st.ones_like(x) + x,
    "full_like": lambda x, y, l, i, b: st.full_like(x, 2.0) + x,
    "topk": lambda x, y, l, i, b: st.topk(x, 2),
    "midk": lambda x, y, l, i, b: st.midk(x, 2),
    "bottomk": lambda x, y, l, i, b: st.bottomk(x, 2),
}


def _support_key(step: Step, ins, outs) -> tuple:
    return (step.op, tuple(dtype_name(v) for v in ins), tuple(dtype_name(o) for o in outs))


def _step_support(target: str, step: Step, ins, outs) -> str | None:
    """None if target compiles step on operands like ins (probed once per _support_key), else why not."""
    key = (target, _support_key(step, ins, outs))
    if key not in _SUPPORT:
        _SUPPORT[key] = _compiles(target, make_function(step.refs(), [step], step.outs), ins)
    return _SUPPORT[key]


class Unsupported(UnsatisfiedAssumption):
    """The program uses an (op, dtypes) combination the target does not compile (a CompileError that a
    one-op probe reproduces): not a bug. Programs from `programs(target=...)` never do (the generator
    probes each combination first); hypothesis counts such an example as invalid."""


def _diagnose(program: Program, target: str) -> str | None:
    """After target failed to compile program: probe each step alone. Records the (op, dtypes) found
    unsupported and returns a description of them (None if every step compiles alone)."""
    every = [o for s in program.steps for o in s.outs]
    values = dict(zip(every, st.compile(make_function(program.names, program.steps, every),
                                        target="interp")(*program.arrays), strict=True))
    values.update(zip(program.names, program.arrays, strict=True))
    found = []
    for step in program.steps:
        ins = [values[n] for n in step.refs()]
        outs = [values[o] for o in step.outs]
        why = _step_support(target, step, ins, outs)
        if why is not None:
            found.append(f"{_support_key(step, ins, outs)}: {why}")
    return "; ".join(found) or None


def op_support(target: str, op: str) -> str | None:
    """None if target compiles op (probed once with a tiny f32 program, cached), else why not."""
    key = (target, op)
    if key not in _OP_SUPPORT:
        if target == "interp":
            _OP_SUPPORT[key] = None
        else:
            _OP_SUPPORT[key] = _compiles(target, _PROBES[op], _probe_inputs())
    return _OP_SUPPORT[key]


def supported_ops(target: str = "cpu", ops: Sequence[str] | None = None) -> list[str]:
    """The ops of `ops` (default: all) that target compiles."""
    return [op for op in (_all_ops() if ops is None else ops) if op_support(target, op) is None]


def default_ops(target: str = "cpu") -> list[str]:
    """The default op set: every op target compiles, less KNOWN_BUGS[target]."""
    bugs = KNOWN_BUGS.get(target, {})
    return [op for op in supported_ops(target) if op not in bugs]


_OPS_CACHE: dict = {}


def _op_names(target: str, ops) -> list[str]:
    key = (target, None if ops is None else tuple(ops))
    if key not in _OPS_CACHE:
        _OPS_CACHE[key] = default_ops(target) if ops is None else supported_ops(target, ops)
    return _OPS_CACHE[key]


def unsupported(target: str = "cpu") -> dict:
    """What the probes found unsupported so far: {op or (op, dtypes): CompileError message}."""
    out = {op: msg for (t, op), msg in _OP_SUPPORT.items() if t == target and msg is not None}
    out.update({key: msg for (t, key), msg in _SUPPORT.items() if t == target and msg is not None})
    return out




def _all_ops():
    from spiraltorch.fuzz.builders import ALL_OPS  # builders.py probes through this module

    return ALL_OPS
