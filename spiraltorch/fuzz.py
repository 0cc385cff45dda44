"""Random well-typed SpiralTorch programs, for differential testing of a target against the interpreter.

    from hypothesis import given
    from spiraltorch import fuzz

    @given(fuzz.programs(target="cpu"))
    def test_cpu_matches_interpreter(program):
        fuzz.check_program(program, "cpu")

or, for a long run: `python -m spiraltorch.fuzz --examples 10000 --target cpu`.

A `Program` is a small DAG of public ops (1-12 by default) over 1-3 random input arrays, kept as a list
of `Step`s; `program.fn` replays the steps (a closure over the list, so st.compile traces it like user
code) and `repr(program)` is a standalone Python script that reproduces it. The op set is a parameter;
by default it is every op the target compiles: support is probed with a tiny one-op compile (for the cpu
target only its front half, kernel lowering and LLVM IR emission, where unsupported ops are refused), once
per op and again once per (op, operand dtypes, result dtypes), all cached, so the fuzzer follows the
backend as ops and dtypes land. KNOWN_BUGS lists what is left out because of a bug found here.

How the generator keeps programs meaningful. Every step is run on the interpreter while it is drawn, so
its preconditions are checked on real values, not guessed:
* Shapes and dtypes: only ops whose static preconditions hold are built (float-only ops on floats,
  matmul inner dims, valid axes, k <= axis length, broadcastable operands, promotable dtypes...).
* Each float value carries an elementwise bound `err` on how far another correct implementation may be
  from the interpreter (a running error analysis: input errors are propagated through the op, by
  evaluating elementwise ops at the corners of the error box in float64, and each op adds its own
  rounding / approximation error). Values the interpreter computes exactly (inputs, shape ops,
  selections) have err == 0.
* Ops that are discontinuous (comparisons, truth values, float->int casts, floor division, argmax,
  topk ranking, NaN domains of log/sqrt/pow) are only applied where the decision is robust: at least
  ROBUST times the error bound away from the discontinuity, or on exact values. Undefined behaviour is
  never generated (float->int casts of NaN/out-of-range values, integer overflow, 1/(+-0) whose sign
  depends on the sign of a zero); defined special values are (log of negatives, NaN/inf inputs,
  integer division by zero, out-of-range labels and indices).
* Values close to overflow, and results whose error bound is no longer small next to their magnitude,
  are rejected, and the generator draws another op.
Inputs come in several memory layouts (C, Fortran, negative strides, strided views, read-only views).

`check_program` compiles the program for the target, calls it once on other values of the same shapes
(leftover state must not matter), then twice on the inputs (the two results must be bitwise equal), and
requires, for every output: exact equality for ints and bools; for floats the same NaN/inf positions and
|got - want| <= TOL * err + (rtol * |want| + atol) * n_ops (rtol/atol per dtype, BASE_TOL).
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import math
import operator
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import assume
from hypothesis import strategies as hs
from hypothesis.errors import UnsatisfiedAssumption

import spiraltorch as st
from spiraltorch.errors import CompileError, SpiralError
from spiraltorch.ir import dtypes as _dtypes

# ---------------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------------

ROBUST = 8.0  # discrete decisions must be this many error bounds away from their discontinuity
TOL = 4.0  # check_program allows this many error bounds
MAX_SIZE = 4096  # elements per value
MAX_RANK = 5
#  (rtol, atol) added per op on top of the error model (a safety net, small next to real bugs)
BASE_TOL = {"f64": (1e-12, 1e-13), "f32": (1e-5, 1e-6), "f16": (1e-3, 1e-4), "bf16": (8e-3, 1e-3)}

FLOATS = ("f32", "f64", "f16", "bf16")
INTS = ("i32", "i64")
DTYPES = ("f32", "f64", "i32", "i64", "i1", "f16", "bf16")
# Input dtypes: mostly f32 (the first entry, which is also where hypothesis shrinks to).
_INPUT_DTYPES = ["f32"] * 10 + ["f64", "i32", "i64", "i1", "i1", "f16", "bf16"]
_NP = {n: _dtypes.BY_NAME[n].np for n in DTYPES}
_ST_NAME = {"f64": "float64", "f32": "float32", "f16": "float16", "bf16": "bfloat16", "i64": "int64",
            "i32": "int32", "i1": "bool_"}
_SRC_DTYPE = {"f64": "np.float64", "f32": "np.float32", "f16": "np.float16", "bf16": "st.bfloat16",
              "i64": "np.int64", "i32": "np.int32", "i1": "np.bool_"}

# Bugs this fuzzer found in a target, worked around so that the suite stays green; remove an entry once its
# bug is fixed. An op name leaves the op out of the target's default op set; "repeat-call:<dtype>" makes
# check_program call a program with an output of that dtype only once (instead of three times).
KNOWN_BUGS: dict[str, dict[str, str]] = {"cpu": {}}

# Counters over a process (steps tried, rejections by reason, ops used): see `stats()`.
STATS: Counter = Counter()


def stats() -> Counter:
    return STATS


def dtype_name(x) -> str:
    return _dtypes.from_numpy(np.asarray(x).dtype).name


def is_float(dt: str) -> bool:
    return dt in FLOATS


def _eps(dt: str) -> float:
    return float(_finfo(dt).eps)


def _finfo(dt: str):
    import ml_dtypes

    return ml_dtypes.finfo(_NP[dt])


def _compute(dt: str) -> str:
    """The precision the interpreter (and a backend) computes a dt result in."""
    return "f32" if dt in ("f16", "bf16") else dt


class GeneratorError(AssertionError):
    """The generator built a step the frontend rejected: a bug in a precondition here (strict mode)."""


class _Reject(Exception):
    """This step is not usable here (precondition on values, not robust, unsupported): draw another."""


# ---------------------------------------------------------------------------------------------------
# Program representation
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A variable (an input or a step's result) used as an argument."""

    name: str


@dataclass(frozen=True)
class DType:
    """A dtype argument: st.float16 etc."""

    name: str


@dataclass(frozen=True, eq=False)
class Const:
    """A numpy array baked into the program (labels, indices); it becomes a constant in the IR."""

    array: np.ndarray


@dataclass(frozen=True)
class Index:
    """A basic index for x[...]: a tuple of ints, slices, None and Ellipsis."""

    items: tuple


def _resolve(a, env):
    if isinstance(a, Ref):
        return env[a.name]
    if isinstance(a, DType):
        return getattr(st, _ST_NAME[a.name])
    if isinstance(a, Const):
        return a.array
    if isinstance(a, Index):
        return a.items
    if isinstance(a, list):
        return [_resolve(x, env) for x in a]
    if isinstance(a, tuple):
        return tuple(_resolve(x, env) for x in a)
    return a


def _refs(a, out: list) -> None:
    if isinstance(a, Ref):
        if a.name not in out:
            out.append(a.name)
    elif isinstance(a, (list, tuple)):
        for x in a:
            _refs(x, out)


_BINOPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
           "%": operator.mod, "**": operator.pow, "@": operator.matmul, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "&": operator.and_,
           "|": operator.or_, "^": operator.xor}
_UNOPS = {"-": operator.neg, "~": operator.invert, "abs": abs}


@dataclass(frozen=True)
class Step:
    """One op: `outs = <op>(args, kwargs)`, written as `form` says.

    form: "call" (st.fn(...)), "method" (args[0].fn(...)), "attr" (args[0].fn), "binop" (a fn b),
    "unop" (fn a), "getitem" (args[0][args[1]]). op is the name in the op set (a public op name).
    """

    outs: tuple[str, ...]
    op: str
    form: str
    fn: str
    args: tuple
    kwargs: tuple = ()

    def refs(self) -> list[str]:
        out: list[str] = []
        _refs(self.args, out)
        _refs(tuple(v for _, v in self.kwargs), out)
        return out

    def call(self, env):
        args = [_resolve(a, env) for a in self.args]
        kwargs = {k: _resolve(v, env) for k, v in self.kwargs}
        if self.form == "call":
            return getattr(st, self.fn)(*args, **kwargs)
        if self.form == "method":
            return getattr(args[0], self.fn)(*args[1:], **kwargs)
        if self.form == "attr":
            return getattr(args[0], self.fn)
        if self.form == "binop":
            return _BINOPS[self.fn](*args)
        if self.form == "unop":
            return _UNOPS[self.fn](*args)
        if self.form == "getitem":
            return args[0][args[1]]
        raise ValueError(f"unknown step form {self.form!r}")

    def run(self, env) -> None:
        res = self.call(env)
        if len(self.outs) == 1:
            env[self.outs[0]] = res
        else:
            for name, r in zip(self.outs, res, strict=True):
                env[name] = r

    def source(self) -> str:
        args = [_src(a) for a in self.args]
        kw = [f"{k}={_src(v)}" for k, v in self.kwargs]
        if self.form == "call":
            rhs = f"st.{self.fn}({', '.join(args + kw)})"
        elif self.form == "method":
            rhs = f"{args[0]}.{self.fn}({', '.join(args[1:] + kw)})"
        elif self.form == "attr":
            rhs = f"{args[0]}.{self.fn}"
        elif self.form == "binop":  # (-1.0 ** x is -(1.0 ** x) in Python)
            a, b = (f"({x})" if x.startswith("-") else x for x in args)
            rhs = f"{a} {self.fn} {b}"
        elif self.form == "unop":
            rhs = f"abs({args[0]})" if self.fn == "abs" else f"{self.fn}{args[0]}"
        else:
            rhs = f"{args[0]}[{args[1]}]"
        return f"{', '.join(self.outs)} = {rhs}"


def _src_slice(s: slice) -> str:
    a = "" if s.start is None else str(s.start)
    b = "" if s.stop is None else str(s.stop)
    return f"{a}:{b}" if s.step is None else f"{a}:{b}:{s.step}"


def _src(a) -> str:
    if isinstance(a, Ref):
        return a.name
    if isinstance(a, DType):
        return f"st.{_ST_NAME[a.name]}"
    if isinstance(a, Const):
        return array_source(a.array)
    if isinstance(a, Index):
        parts = ["..." if i is Ellipsis else "None" if i is None else _src_slice(i) if isinstance(i, slice) else str(i)
                 for i in a.items]
        if len(parts) == 1:
            return parts[0]
        return ", ".join(parts) if parts else "()"
    if isinstance(a, list):
        return "[" + ", ".join(_src(x) for x in a) + "]"
    if isinstance(a, tuple):
        inner = ", ".join(_src(x) for x in a)
        return f"({inner},)" if len(a) == 1 else f"({inner})"
    if isinstance(a, float):
        return repr(a)
    return repr(a)


def _scalar_source(v, dt: str) -> str:
    if dt == "i1":
        return "True" if v else "False"
    if dt in INTS:
        return str(int(v))
    f = float(v)
    if math.isnan(f):
        return "np.nan"
    if math.isinf(f):
        return "np.inf" if f > 0 else "-np.inf"
    if dt == "f32":  # the shortest text that reads back as the same float32
        s = str(np.float32(f))
        if float(np.float32(float(s))) == f:
            return s
    return repr(f)


def array_source(a: np.ndarray) -> str:
    """Python source that rebuilds array a exactly (values, shape, dtype)."""
    a = np.asarray(a)
    dt = dtype_name(a)
    vals = a.astype(np.float64) if dt in ("f16", "bf16") else a

    def nest(x):
        if x.ndim == 0:
            return _scalar_source(x.item(), dt)
        return "[" + ", ".join(nest(y) for y in x) + "]"

    return f"np.array({nest(vals)}, dtype={_SRC_DTYPE[dt]})"


# How an input array is laid out in memory (same values): the compiled function's argument handling
# takes different paths for contiguous writable arrays and for everything else.
LAYOUTS = {
    "C": "{}",
    "F": "np.asfortranarray({})",
    "reversed": "np.flip(np.flip({}).copy())",  # negative strides on every axis
    "strided": "np.repeat({}, 2, axis=-1)[..., ::2]",  # every other element of a bigger array
    "readonly": "np.lib.stride_tricks.as_strided({}, writeable=False)",  # a read-only view
}


def with_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """a with the given memory layout (LAYOUTS), same values."""
    if layout == "C":
        return a
    out = eval(LAYOUTS[layout].format("a"), {"np": np, "a": a})  # noqa: S307 - our own format strings
    assert np.array_equal(out, a, equal_nan=True) and out.dtype == a.dtype
    return out


def _layout_of(a: np.ndarray) -> str:
    if not a.flags.writeable:
        return "readonly"
    if a.flags.c_contiguous or a.ndim == 0:
        return "C"
    if a.flags.f_contiguous:
        return "F"
    return "reversed" if any(s < 0 for s in a.strides) else "strided"


def _scrambled(a: np.ndarray) -> np.ndarray:
    """Other values of a's dtype and shape (for a call before the real one)."""
    flat = np.ascontiguousarray(a).reshape(-1)[::-1]
    return np.roll(flat, 1).reshape(a.shape)  # (np.ascontiguousarray would make a 0-d array 1-d)


def make_function(params: Sequence[str], steps: Sequence[Step], outputs: Sequence[str]) -> Callable:
    """A closure replaying steps on its arguments (tensors when traced, arrays eagerly)."""
    params, steps, outputs = tuple(params), tuple(steps), tuple(outputs)

    def program(*args):
        env = dict(zip(params, args, strict=True))
        for s in steps:
            s.run(env)
        return tuple(env[o] for o in outputs)

    program.__signature__ = inspect.Signature(
        [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params])
    return program


@dataclass(frozen=True, eq=False)
class Program:
    """A generated program: inputs (names and arrays), steps, outputs, and each output's error bound."""

    names: tuple[str, ...]
    arrays: tuple[np.ndarray, ...]
    steps: tuple[Step, ...]
    outputs: tuple[str, ...]
    errors: tuple  # per output: float64 array of absolute error bounds, or None (ints, bools)
    target: str = "cpu"

    @property
    def n_ops(self) -> int:
        return len(self.steps)

    @property
    def fn(self) -> Callable:
        return make_function(self.names, self.steps, self.outputs)

    def ops(self) -> list[str]:
        return [s.op for s in self.steps]

    def source(self) -> str:
        """The program as a Python function."""
        body = [s.source() for s in self.steps]
        ret = ", ".join(self.outputs) + ("," if len(self.outputs) == 1 else "")
        lines = [f"def program({', '.join(self.names)}):", *[f"    {b}" for b in body], f"    return ({ret})"]
        return "\n".join(lines)

    def reproducer(self, target: str | None = None) -> str:
        """A standalone script: the function, its inputs, and the comparison of target and interpreter."""
        target = target or self.target
        args = ", ".join(self.names)
        shapes = ", ".join(f"{n}: {dtype_name(a)}{list(a.shape)}" for n, a in zip(self.names, self.arrays, strict=True))
        lines = [
            f"# SpiralTorch fuzz program: {self.n_ops} ops; inputs {shapes}",
            "import numpy as np",
            "import spiraltorch as st",
            "",
            "",
            self.source(),
            "",
            "",
            *[f"{n} = {LAYOUTS[_layout_of(a)].format(array_source(a))}"
              for n, a in zip(self.names, self.arrays, strict=True)],
            f'f = st.compile(program, target="{target}")',
            f"f(*[np.roll(np.ascontiguousarray(a).reshape(-1)[::-1], 1).reshape(a.shape) for a in ({args},)])"
            "  # a call with other values first",
            f"got = f({args})",
            f'want = st.compile(program, target="interp")({args})',
            "for i, (g, w) in enumerate(zip(got, want)):",
            "    with np.errstate(invalid='ignore'):",
            "        d = np.abs(g.astype(np.float64) - w.astype(np.float64))",
            '    print(i, g.dtype, g.shape, "max |got - want|:", np.max(d, initial=0),',
            '          "NaN positions match:", np.array_equal(np.isnan(g.astype(np.float64)), '
            "np.isnan(w.astype(np.float64))))",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "\n" + self.reproducer() + "\n"

    def _repr_pretty_(self, p, cycle) -> None:  # what hypothesis prints for a failing example
        p.text(repr(self))


# ---------------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------------


class Mismatch(AssertionError):
    pass


def _compare(i: int, got, want, err, n_ops: int, rtol, atol) -> str | None:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"output {i}: shape {got.shape} != interpreter's {want.shape}"
    if got.dtype != want.dtype:
        return f"output {i}: dtype {got.dtype} != interpreter's {want.dtype}"
    dt = dtype_name(want)
    if not is_float(dt):
        if not np.array_equal(got, want):
            bad = np.argwhere(got != want)
            j = tuple(int(k) for k in bad[0])
            return (f"output {i} ({dt}{list(want.shape)}): {len(bad)} elements differ, first at {j}: got {got[j]!r}, "
                    f"interpreter {want[j]!r}")
        return None
    g, w = got.astype(np.float64), want.astype(np.float64)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    if not np.array_equal(nan_g, nan_w):
        j = tuple(int(k) for k in np.argwhere(nan_g != nan_w)[0])
        return (f"output {i} ({dt}{list(want.shape)}): NaN positions differ, first at {j}: got {g[j]}, "
                f"interpreter {w[j]}")
    inf_w = np.isinf(w)
    if not np.array_equal(np.where(inf_w, w, 0), np.where(np.isinf(g) & inf_w, g, 0)) or \
            not np.array_equal(np.isinf(g), inf_w):
        j = tuple(int(k) for k in np.argwhere((np.isinf(g) != inf_w) | (inf_w & (g != w)))[0])
        return f"output {i} ({dt}{list(want.shape)}): infinities differ, first at {j}: got {g[j]}, interpreter {w[j]}"
    r0, a0 = BASE_TOL[dt]
    r = (r0 if rtol is None else rtol) * max(n_ops, 1)
    a = (a0 if atol is None else atol) * max(n_ops, 1)
    e = np.zeros_like(w) if err is None else np.broadcast_to(err, w.shape)
    fin = np.isfinite(w)
    with np.errstate(all="ignore"):
        diff = np.where(fin, np.abs(g - w), 0.0)
        allowed = TOL * e + a + r * np.abs(np.where(fin, w, 0.0))
    bad = diff > allowed
    if bad.any():
        j = tuple(int(k) for k in np.argwhere(bad)[0])
        k = np.unravel_index(np.argmax(np.where(bad, diff - allowed, -np.inf)), w.shape) if w.ndim else ()
        return (f"output {i} ({dt}{list(want.shape)}): {int(bad.sum())} elements outside tolerance; first at {j}: "
                f"got {g[j]!r}, interpreter {w[j]!r}, allowed |diff| {allowed[j]:.3g} (error bound {e[j]:.3g}); "
                f"worst at {tuple(int(x) for x in k)}: |diff| {diff[k]:.3g}, allowed {allowed[k]:.3g}")
    return None


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def check_program(program: Program, target: str = "cpu", rtol: float | None = None, atol: float | None = None):
    """Run program on target and on the interpreter; raise Mismatch (with a reproducer) unless they agree.

    Ints and bools must be equal; floats must have NaN and inf at the same places and otherwise be within
    TOL * (the program's error bound) + (rtol * |want| + atol) * n_ops, rtol/atol defaulting to BASE_TOL.
    A CompileError that a one-op probe reproduces (an op/dtype the target does not support yet) raises
    Unsupported, which hypothesis treats as an invalid example. Returns the target's outputs."""
    fn = program.fn
    want = st.compile(fn, target="interp")(*program.arrays)
    bugs = KNOWN_BUGS.get(target, {})
    repeat = not any(f"repeat-call:{dtype_name(w)}" in bugs for w in want)
    try:
        compiled = st.compile(fn, target=target)
        if repeat:  # state left by an earlier call must not matter, and results must be deterministic
            compiled(*[_scrambled(a) for a in program.arrays])
        got = compiled(*program.arrays)
        again = compiled(*program.arrays) if repeat else got
    except CompileError as err:
        gap = _diagnose(program, target)
        if gap is not None:
            raise Unsupported(f"target {target!r} does not compile {gap}") from err
        raise Mismatch(f"target {target!r} raised CompileError although every op compiles alone: {err}\n\n"
                       f"{program.reproducer(target)}") from err
    except Exception as err:
        raise Mismatch(f"target {target!r} raised {type(err).__name__}: {err}\n\n"
                       f"{program.reproducer(target)}") from err
    if len(got) != len(want):
        raise Mismatch(f"{len(got)} outputs, interpreter {len(want)}\n\n{program.reproducer(target)}")
    problems = [p for i, (g, w, e) in enumerate(zip(got, want, program.errors, strict=True))
                if (p := _compare(i, g, w, e, program.n_ops, rtol, atol))]
    problems += [f"output {i}: a second call with the same inputs gave different values"
                 for i, (g, a) in enumerate(zip(got, again, strict=True)) if not np.array_equal(_bits(g), _bits(a))]
    if problems:
        raise Mismatch(f"target {target!r} differs from the interpreter:\n  " + "\n  ".join(problems)
                       + f"\n\n{program.reproducer(target)}")
    return got


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
    return [op for op in (ALL_OPS if ops is None else ops) if op_support(target, op) is None]


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


# ---------------------------------------------------------------------------------------------------
# Generation state
# ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Var:
    name: str
    value: np.ndarray  # the interpreter's value
    err: np.ndarray | None  # float vars: elementwise absolute error bound (float64); else None
    uses: int = 0

    @property
    def dtype(self) -> str:
        return dtype_name(self.value)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def inexact(self) -> bool:
        return self.err is not None and bool(np.any(self.err > 0))

    def errs(self) -> np.ndarray:
        return np.zeros(self.shape) if self.err is None else self.err


def _run_interp(step: Step, arrays: dict) -> tuple:
    names = step.refs()
    fn = make_function(names, [step], step.outs)
    return tuple(np.asarray(r) for r in st.compile(fn, target="interp")(*[arrays[n] for n in names]))


def _promote(np_fn, *vals) -> str | None:
    """The IR dtype name numpy's np_fn gives for these operands (Vars or Python scalars), None if invalid."""
    def stand_in(v):
        return np.ones((), _NP[v.dtype]) if isinstance(v, Var) else v
    try:
        with np.errstate(all="ignore"):
            out = np_fn(*map(stand_in, vals))
        return _dtypes.lookup(out if isinstance(out, np.dtype) else np.asarray(out).dtype).name
    except Exception:
        return None


def _bcast(*shapes) -> tuple | None:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


class _Gen:
    def __init__(self, draw, target: str, strict: bool):
        self.draw = draw
        self.target = target
        self.strict = strict
        self.env: list[Var] = []
        self.by_name: dict[str, Var] = {}
        self.steps: list[Step] = []
        self.n_vars = 0
        self.rng = np.random.default_rng(0)

    # -- drawing helpers ---------------------------------------------------------------------------
    def int(self, lo: int, hi: int) -> int:
        return self.draw(hs.integers(lo, hi))

    def coin(self) -> bool:
        return self.draw(hs.booleans())

    def choice(self, seq):
        return self.draw(hs.sampled_from(list(seq)))

    def fresh(self) -> str:
        name = f"v{self.n_vars}"
        self.n_vars += 1
        return name

    def pick(self, pred: Callable[[Var], bool] = lambda v: True, exclude=()) -> Var | None:
        """A variable satisfying pred: the most recent one often (chains), otherwise any."""
        cands = [v for v in reversed(self.env) if pred(v) and v not in exclude]
        if not cands:
            return None
        if len(cands) == 1 or self.coin():
            return cands[0]
        return cands[self.int(1, len(cands) - 1)]

    # -- inputs -------------------------------------------------------------------------------------
    def draw_inputs(self, max_inputs: int, allowed: Sequence[str]) -> None:
        self.rng = np.random.default_rng(self.draw(hs.integers(0, 2**32 - 1)))
        n = self.int(1, max_inputs)
        shapes = [self.draw_shape()]
        for _ in range(1, n):
            base = shapes[self.int(0, len(shapes) - 1)]
            rel = self.choice(["broadcast", "same", "matmul", "free", "suffix"])
            shapes.append(self.related_shape(base, rel))
        choices = [d for d in _INPUT_DTYPES if d in allowed] or list(allowed)
        self.layouts = []
        for i, shape in enumerate(shapes):
            dt = self.choice(choices)
            value = self.input_values(shape, dt)
            self.layouts.append(self.choice(["C", "C", "C", "F", "reversed", "strided", "readonly"]) if shape else "C")
            var = Var(f"x{i}", value, np.zeros(shape) if is_float(dt) else None)
            self.env.append(var)
            self.by_name[var.name] = var

    def draw_shape(self, max_rank: int = 4) -> tuple[int, ...]:
        rank = self.int(0, max_rank)
        return tuple(self.int(1, 7) for _ in range(rank))

    def related_shape(self, base: tuple, rel: str) -> tuple:
        if rel == "same":
            return base
        if rel == "suffix":
            return base[self.int(0, len(base)):]
        if rel == "broadcast":  # a suffix with some dims set to 1, maybe longer on the left
            tail = list(base[self.int(0, len(base)):])
            tail = [1 if self.int(0, 2) == 0 else d for d in tail]
            while len(tail) < 4 and self.int(0, 3) == 0:
                tail.insert(0, self.choice([1, 2, 3]))
            return tuple(tail)
        if rel == "matmul" and base:
            k = base[-1]
            if self.coin():
                return (k,)
            batch = list(base[:-2])
            batch = [1 if self.int(0, 3) == 0 else d for d in batch][self.int(0, len(batch)):]
            return (*batch, k, self.int(1, 7))
        return self.draw_shape()

    def input_values(self, shape, dt: str) -> np.ndarray:
        rng = self.rng
        if dt == "i1":
            p = self.choice([0.5, 0.2, 0.8])
            return np.asarray(rng.random(shape) < p)
        if dt in INTS:
            lo, hi = self.choice([(-5, 6), (0, 7), (-100, 101), (-2, 3)])
            return np.asarray(rng.integers(lo, hi, size=shape), dtype=_NP[dt])
        profile = self.choice(["uniform", "wide", "positive", "ties", "specials"])
        if profile == "uniform":
            v = rng.uniform(-2, 2, size=shape)
        elif profile == "wide":
            v = rng.uniform(-10, 10, size=shape)
        elif profile == "positive":
            v = rng.uniform(0.05, 4, size=shape)
        elif profile == "ties":
            v = rng.choice([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], size=shape)
        else:
            v = np.asarray(rng.uniform(-3, 3, size=shape))
            special = rng.random(shape) < 0.15
            v = np.where(special, rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-3, -1e-3, 50.0], size=shape), v)
        return np.asarray(np.asarray(v, np.float64).astype(_NP[dt]))

    # -- adding steps -------------------------------------------------------------------------------
    def add(self, op: str) -> bool:
        """Try to append op (one or a few steps); False (and nothing changed) if it does not fit."""
        mark = (len(self.env), len(self.steps), self.n_vars)
        STATS["tried " + op] += 1
        try:
            steps = BUILDERS[op](self)
            if not steps:
                raise _Reject("no operands")
            for s in steps:
                self.commit(s)
        except _Reject as why:
            STATS[f"rejected {op}: {why}"] += 1
            for v in self.env[mark[0]:]:
                del self.by_name[v.name]
            del self.env[mark[0]:]
            del self.steps[mark[1]:]
            self.n_vars = mark[2]
            return False
        STATS["used " + op] += 1
        return True

    def commit(self, step: Step) -> None:
        ins = [self.by_name[n] for n in step.refs()]
        try:
            outs = _run_interp(step, {v.name: v.value for v in ins})
        except SpiralError as err:
            STATS["frontend rejected a step"] += 1
            if self.strict:
                raise GeneratorError(f"the frontend rejected `{step.source()}` on "
                                     f"{[(v.name, v.dtype, v.shape) for v in ins]}: {err}") from err
            raise _Reject("frontend") from None
        for o in outs:
            if o.size > MAX_SIZE or o.ndim > MAX_RANK or o.size == 0:
                raise _Reject("size")
        errs = ANALYSIS[step.op](self, step, ins, outs)
        for o, e in zip(outs, errs, strict=True):
            _check_float_result(dtype_name(o), o, e)
        self.check_support(step, ins, outs)
        for v in ins:
            v.uses += 1
        self.steps.append(step)
        for name, o, e in zip(step.outs, outs, errs, strict=True):
            var = Var(name, o, None if e is None else np.asarray(e, np.float64))
            self.env.append(var)
            self.by_name[name] = var

    def check_support(self, step: Step, ins: list[Var], outs) -> None:
        """Reject a step whose (op, operand dtypes, result dtypes) the target does not compile: probed the
        first time the combination comes up (and cached), so that generation stays deterministic."""
        if self.target != "interp" and _step_support(self.target, step, [v.value for v in ins], outs) is not None:
            raise _Reject("unsupported by the target")

    def program(self) -> Program:
        produced = [v for v in self.env if not v.name.startswith("x")]
        sinks = [v for v in produced if v.uses == 0][-6:]
        if not sinks and produced:
            sinks = produced[-1:]
        inputs = [v for v in self.env if v.name.startswith("x")]
        arrays = tuple(with_layout(v.value, lay) for v, lay in zip(inputs, self.layouts, strict=True))
        return Program(tuple(v.name for v in inputs), arrays, tuple(self.steps),
                       tuple(v.name for v in sinks), tuple(v.err for v in sinks), self.target)


# ---------------------------------------------------------------------------------------------------
# Result checks shared by all ops
# ---------------------------------------------------------------------------------------------------


def _cap(dt: str) -> float:
    return max(1e-3, 16 * _eps(dt))


def _check_float_result(dt: str, out: np.ndarray, e) -> None:
    """Reject results whose error bound is no longer small next to their magnitude, or near overflow."""
    if not is_float(dt):
        return
    o = out.astype(np.float64)
    fin = np.isfinite(o)
    if fin.any() and np.max(np.abs(o[fin])) > float(_finfo(dt).max) / 4:
        raise _Reject("near overflow")
    if e is None:
        return
    e = np.broadcast_to(e, o.shape)
    if not np.all(np.isfinite(e[fin])):
        raise _Reject("unbounded error")
    if fin.any():
        scale = np.max(np.abs(o[fin]))
        if np.max(e[fin]) > _cap(dt) * scale + 4 * float(_finfo(dt).smallest_normal):
            raise _Reject("ill-conditioned")


def _center_check(dt: str, center: np.ndarray, out: np.ndarray) -> None:
    """center: the result computed in float64 math; out: the interpreter's in dtype dt. Reject results
    near the overflow threshold of dt, or where dt's result is not what float64 math says."""
    c = np.asarray(center, np.float64)
    o = np.asarray(out).astype(np.float64)
    fmax = float(_finfo(dt).max)
    with np.errstate(all="ignore"):
        fin_c = np.isfinite(c)
        ovf = fin_c & (np.abs(c) >= 2 * fmax)
        if np.any(fin_c & (np.abs(c) > fmax / 4) & ~ovf):
            raise _Reject("near overflow")
        if not np.array_equal(np.isfinite(o), fin_c & ~ovf) or not np.array_equal(np.isnan(o), np.isnan(c)):
            raise _Reject("non-finite mismatch")


def _expand(a: np.ndarray, rank: int) -> np.ndarray:
    a = np.asarray(a)
    return a.reshape((1,) * (rank - a.ndim) + a.shape)


def _local_extra(dt: str, out64: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Add what every inexact float result gets: one ulp of a half dtype, and the smallest normal."""
    fi = _finfo(dt)
    if dt in ("f16", "bf16"):
        e = e + float(fi.eps) * np.abs(out64)
    return np.where(e > 0, e + float(fi.smallest_normal), 0.0)


def _finite_abs(a) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return np.where(np.isfinite(a), np.abs(a), 0.0)


def _robust_pair(xi, ei, xj, ej) -> np.ndarray:
    """Whether the order of xi and xj (NaN largest) is the same for every value within ROBUST errors."""
    with np.errstate(all="ignore"):
        ni, nj = np.isnan(xi), np.isnan(xj)
        exact_tie = (xi == xj) & (ei == 0) & (ej == 0)
        gap = np.abs(xi - xj) > ROBUST * (ei + ej)
    return (ni & nj) | (ni ^ nj) | exact_tie | gap


# ---------------------------------------------------------------------------------------------------
# Error analyses (one per op family): return each output's error bound (None for ints/bools)
# ---------------------------------------------------------------------------------------------------

# local error of elementwise float ops, in units of the compute precision's eps:
# k_out * |out| + k_x * max|operand| + k_1
_LOCAL = {
    "add": (1, 0, 0), "subtract": (1, 0, 0), "multiply": (1, 0, 0), "divide": (2, 0, 0), "floor_divide": (1, 0, 0),
    "mod": (2, 2, 0), "exp": (8, 0, 0), "log": (8, 0, 1), "log1p": (8, 0, 1), "tanh": (8, 0, 1),
    "sigmoid": (8, 0, 1), "sqrt": (2, 0, 0), "rsqrt": (4, 0, 0), "sin": (8, 2, 1), "cos": (8, 2, 1),
    "erf": (8, 0, 1), "gelu": (8, 2, 1),
}
_TRUTH_ARGS = {"logical_and": (0, 1), "logical_or": (0, 1), "logical_xor": (0, 1), "logical_not": (0,), "where": (0,)}
_COMPARES = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")


def _data_args(step: Step) -> list:
    """The data operands of an elementwise step (Refs and Python scalars), in order."""
    return [a for a in step.args if not isinstance(a, DType)]


def _arg_value(g: _Gen, a) -> np.ndarray:
    return g.by_name[a.name].value if isinstance(a, Ref) else np.asarray(a)


def _arg_err(g: _Gen, a) -> np.ndarray:
    return g.by_name[a.name].errs() if isinstance(a, Ref) else np.zeros(())


def _is_float_arg(g: _Gen, a) -> bool:
    return is_float(g.by_name[a.name].dtype) if isinstance(a, Ref) else isinstance(a, float)


def _elementwise_preconditions(g: _Gen, step: Step, out: np.ndarray) -> None:
    op, args = step.op, _data_args(step)
    odt = dtype_name(out)
    vals = [_arg_value(g, a).astype(np.float64) for a in args]
    errs = [_arg_err(g, a) for a in args]
    with np.errstate(all="ignore"):
        # 1/(+-0) depends on the sign of a zero, which maximum/relu/where may legitimately choose differently.
        if op in ("divide", "floor_divide", "mod") and is_float(odt) and np.any(vals[1] == 0):
            raise _Reject("float division by zero")
        if op == "rsqrt" and np.any(vals[0] == 0):
            raise _Reject("rsqrt of zero")
        if op == "power" and is_float(odt) and np.any(vals[0] == 0):
            raise _Reject("zero to a power")
        for i in _TRUTH_ARGS.get(op, ()):
            if _is_float_arg(g, args[i]) and np.any((errs[i] > 0) & ~(np.abs(vals[i]) > ROBUST * errs[i])):
                raise _Reject("truth value not robust")
        if op in _COMPARES and (np.any(errs[0] > 0) or np.any(errs[1] > 0)):
            e = errs[0] + errs[1]
            if np.any((e > 0) & ~(np.abs(vals[0] - vals[1]) > ROBUST * e)):
                raise _Reject("comparison not robust")
        if op == "astype":
            src = dtype_name(_arg_value(g, args[0]))
            if is_float(src) and odt in INTS:
                limit = 2.0 ** (31 if odt == "i32" else 63) - 2 ** 10
                if not np.all(np.isfinite(vals[0])) or np.any(np.abs(vals[0]) + ROBUST * errs[0] >= limit):
                    raise _Reject("float->int cast out of range")
            if is_float(src) and odt == "i1" and np.any((errs[0] > 0) & ~(np.abs(vals[0]) > ROBUST * errs[0])):
                raise _Reject("truth value not robust")


def _int_bound(g: _Gen, step: Step, out: np.ndarray) -> None:
    """Reject integer results that may overflow (wrap-around is not what these programs are about)."""
    odt = dtype_name(out)
    if odt not in INTS:
        return
    op, args = step.op, _data_args(step)
    vals = [_finite_abs(_arg_value(g, a)) for a in args]
    with np.errstate(all="ignore"):
        if op == "multiply":
            bound = vals[0] * vals[1]
        elif op == "power":
            bound = np.power(np.maximum(vals[0], 1), np.maximum(np.asarray(_arg_value(g, args[1]), np.float64), 0))
        elif op in ("add", "subtract", "floor_divide", "mod"):
            bound = vals[0] + vals[1]
        else:
            bound = sum(vals) + 1
    limit = 2.0 ** (31 if odt == "i32" else 63) / 4
    if np.any(~(np.asarray(bound) < limit)):
        raise _Reject("integer overflow")


def _an_elementwise(g: _Gen, step: Step, ins: list[Var], outs) -> list:
    (out,) = outs
    odt = dtype_name(out)
    _elementwise_preconditions(g, step, out)
    _int_bound(g, step, out)
    inexact = [v for v in ins if v.inexact]
    has_float_in = any(is_float(v.dtype) for v in ins)
    if not inexact and not (is_float(odt) and has_float_in and odt != "f64"):
        if is_float(odt):
            return [_elementwise_local(g, step, ins, out, np.zeros(out.shape))]
        return [None]
    # Evaluate at the corners of the error box (and the centre) in float64, all at once along a new axis.
    rank = out.ndim
    signs = list(itertools.product((-1.0, 1.0), repeat=len(inexact))) + [(0.0,) * len(inexact)]
    arrays = {}
    for v in ins:
        a = _expand(v.value, rank)
        if v in inexact:
            k = inexact.index(v)
            a64, e = a.astype(np.float64), _expand(v.err, rank)
            arrays[v.name] = np.stack([a64 + s[k] * ROBUST * e for s in signs])
        elif is_float(v.dtype):
            arrays[v.name] = a.astype(np.float64)[None]
        else:
            arrays[v.name] = a[None]
    res = np.broadcast_to(_run_interp(step, arrays)[0], (len(signs), *out.shape))
    center, corners = res[-1], res[:-1]
    if not is_float(odt):
        if not (np.array_equal(corners, np.broadcast_to(center, corners.shape))
                and np.array_equal(center.astype(out.dtype), out)):
            raise _Reject("discrete result not robust")
        return [None]
    c64 = center.astype(np.float64)
    _center_check(odt, c64, out)
    k64 = corners.astype(np.float64)
    with np.errstate(all="ignore"):
        if not (np.array_equal(np.isnan(k64), np.broadcast_to(np.isnan(c64), k64.shape))
                and np.array_equal(np.isposinf(k64), np.broadcast_to(np.isposinf(c64), k64.shape))
                and np.array_equal(np.isneginf(k64), np.broadcast_to(np.isneginf(c64), k64.shape))):
            raise _Reject("special values not robust")
        if step.op in ("floor_divide", "mod") and inexact:
            q = _run_interp(replace(step, op="floor_divide", form="call", fn="floor_divide"), arrays)[0]
            q = np.broadcast_to(q, (len(signs), *out.shape))
            if not np.array_equal(q[:-1], np.broadcast_to(q[-1], q[:-1].shape), equal_nan=True):
                raise _Reject("floor not robust")
        fin = np.isfinite(c64)
        e_prop = np.max(np.where(fin, np.abs(k64 - c64), 0.0), axis=0) / ROBUST
    return [_elementwise_local(g, step, ins, out, e_prop)]


def _elementwise_local(g: _Gen, step: Step, ins, out: np.ndarray, e_prop: np.ndarray) -> np.ndarray:
    odt = dtype_name(out)
    eps = float(_finfo(_compute(odt)).eps)
    o = out.astype(np.float64)
    ao = _finite_abs(o)
    args = _data_args(step)
    ax = np.zeros(out.shape)
    for a in args:
        v = _arg_value(g, a)
        if v.dtype != np.bool_:
            ax = np.maximum(ax, np.broadcast_to(_finite_abs(v), out.shape))
    if step.op == "power":
        with np.errstate(all="ignore"):
            local = eps * (16 * ao * (1 + np.abs(np.log(np.where(ao > 0, ao, 1.0)))) + 1)
    elif step.op in _LOCAL:
        k_out, k_x, k_1 = _LOCAL[step.op]
        local = eps * (k_out * ao + k_x * ax + k_1)
    else:  # exact: selections, sign changes, casts
        local = np.zeros(out.shape)
    e = _local_extra(odt, o, np.broadcast_to(e_prop, out.shape) + local)
    return np.where(np.isfinite(o), e, 0.0)


def _an_shape(g: _Gen, step: Step, ins: list[Var], outs) -> list:
    (out,) = outs
    if not is_float(dtype_name(out)):
        return [None]
    if not any(v.inexact for v in ins):
        return [np.zeros(out.shape)]
    arrays = {}
    for i, v in enumerate(ins):
        index_arg = step.op == "take_along_axis" and i > 0
        arrays[v.name] = v.value if index_arg else v.errs()
    (e,) = _run_interp(step, arrays)
    return [np.where(np.isfinite(out.astype(np.float64)), e.astype(np.float64), 0.0)]


def _an_exact(g: _Gen, step: Step, ins, outs) -> list:
    return [np.zeros(o.shape) if is_float(dtype_name(o)) else None for o in outs]


def _center64(g: _Gen, step: Step, ins: list[Var]) -> tuple:
    arrays = {v.name: v.value.astype(np.float64) if is_float(v.dtype) else v.value for v in ins}
    return _run_interp(step, arrays)


def _norm_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim for a in axis))


def _kw(step: Step, name: str, default=None):
    return dict(step.kwargs).get(name, default)


def _an_reduce(g: _Gen, step: Step, ins: list[Var], outs) -> list:
    (x,) = ins
    (out,) = outs
    odt = dtype_name(out)
    axes = _norm_axes(_kw(step, "axis"), x.ndim)
    keep = bool(_kw(step, "keepdims", False))
    n = int(np.prod([x.shape[a] for a in axes]))
    xv = x.value.astype(np.float64)
    ax = _finite_abs(xv)
    if odt in INTS:
        if np.max(np.sum(ax, axis=axes, keepdims=keep), initial=0) >= 2.0 ** 61:
            raise _Reject("integer overflow")
        return [None]
    if not is_float(odt):
        return [None]
    if step.op in ("sum", "mean", "logsumexp") and odt != "f64" and is_float(x.dtype):
        _center_check(odt, _center64(g, step, ins)[0], out)
    e_in = x.errs()
    eps = float(_finfo(_compute(odt)).eps)
    o = out.astype(np.float64)
    with np.errstate(all="ignore"):
        if step.op in ("max", "min"):
            e = np.max(e_in, axis=axes, keepdims=keep, initial=0)
            return [np.where(np.isfinite(o), e, 0.0)]
        if step.op == "sum":
            e = np.sum(e_in, axis=axes, keepdims=keep) + eps * _acc(n) * np.sum(ax, axis=axes, keepdims=keep)
        elif step.op == "mean":
            e = np.mean(e_in, axis=axes, keepdims=keep) + eps * (_acc(n) + 1) * np.mean(ax, axis=axes, keepdims=keep)
        else:  # logsumexp
            e = np.max(e_in, axis=axes, keepdims=keep, initial=0) + eps * 8 * (
                _acc(n) + _finite_abs(o) + np.max(ax, axis=axes, keepdims=keep, initial=0))
    e = _local_extra(odt, o, e)
    return [np.where(np.isfinite(o), e, 0.0)]


def _acc(n: int) -> float:
    """Rounding error of a sum of n terms, in eps * sum|terms|: the worst case grows like n, but any
    reasonable summation order (sequential, vectorized partial sums, pairwise) stays far below it on
    values of random signs and sizes; this bound is tight enough to notice a term dropped from a sum."""
    return 2 * math.sqrt(n) + 2


def _slices(a: np.ndarray, axis) -> np.ndarray:
    """a as (rows, n): the 1-D slices along axis (axis None: the whole flattened array)."""
    if axis is None:
        return a.reshape(1, -1)
    return np.moveaxis(a, axis, -1).reshape(-1, a.shape[axis])


def _an_argreduce(g: _Gen, step: Step, ins: list[Var], outs) -> list:
    (x,) = ins
    if x.inexact:
        axis = _kw(step, "axis")
        xs = _slices(x.value.astype(np.float64), axis)
        es = _slices(x.err, axis)
        best = np.asarray(outs[0]).reshape(-1)
        rows = np.arange(xs.shape[0])
        bx, be = xs[rows, best][:, None], es[rows, best][:, None]
        ok = _robust_pair(bx, be, xs, es)
        ok[rows, best] = True
        if not ok.all():
            raise _Reject("arg-extreme not robust")
    return [None]


def _an_rankk(g: _Gen, step: Step, ins: list[Var], outs) -> list:
    (x,) = ins
    values, indices = outs
    axis = _kw(step, "axis", -1) % x.ndim
    if x.inexact:
        xs = _slices(x.value.astype(np.float64), axis)
        es = _slices(x.err, axis)
        ok = _robust_pair(xs[:, :, None], es[:, :, None], xs[:, None, :], es[:, None, :])
        n = xs.shape[1]
        ok[:, np.arange(n), np.arange(n)] = True
        if not ok.all():
            raise _Reject("ranking not robust")
    if not is_float(x.dtype):
        return [None, None]
    e = np.take_along_axis(x.errs(), indices, axis=axis)
    return [np.where(np.isfinite(values.astype(np.float64)), e, 0.0), None]


def _an_softmax(g: _Gen, step: Step, ins: list[Var], outs) -> list:
    (x,) = ins
    (out,) = outs
    odt = dtype_name(out)
    axis = _kw(step, "axis") % x.ndim
    n = x.shape[axis]
    eps = float(_finfo(_compute(odt)).eps)
    o = out.astype(np.float64)
    e_in = x.errs()
    with np.errstate(all="ignore"):
        emax = np.max(e_in, axis=axis, keepdims=True)
        amax = np.max(_finite_abs(x.value), axis=axis, keepdims=True)
        if step.op == "softmax":
            e = 2 * _finite_abs(o) * emax + eps * 8 * (_acc(n) + 1 + amax) * _finite_abs(o)
        else:
            e = e_in + emax + eps * 8 * (_acc(n) + _finite_abs(o) + amax)
    e = _local_extra(odt, o, e)
    return [np.where(np.isfinite(o), e, 0.0)]


def _an_loss(g: _Gen, step: Step, ins: list[Var], outs) -> list:
    (out,) = outs
    odt = dtype_name(out)
    scores = g.by_name[step.args[0].name]
    labels_arg = step.args[1]
    labels = _arg_value(g, labels_arg) if not isinstance(labels_arg, Const) else labels_arg.array
    c = scores.shape[-1]
    eps = float(_finfo(_compute(odt)).eps)
    e_in = scores.errs()
    reduction = _kw(step, "reduction", "mean")
    if reduction != "none" and odt != "f64" and is_float(scores.dtype):
        _center_check(odt, _center64(g, step, ins)[0], out)
    lab = np.clip(np.asarray(labels, np.int64), 0, c - 1)[..., None]
    if step.op == "cross_entropy":
        row = 2 * np.max(e_in, axis=-1) + eps * 8 * (c + 2 * np.max(_finite_abs(scores.value), axis=-1) + 1)
    else:
        row = np.take_along_axis(e_in, lab, axis=-1)[..., 0]
    o = out.astype(np.float64)
    if reduction == "none":
        e = row
    else:
        (losses,) = _run_interp(replace(step, kwargs=(("reduction", "none"),)),
                                {v.name: v.value for v in ins})
        n = max(losses.size, 1)
        e = np.sum(row) + eps * _acc(n) * np.sum(_finite_abs(losses))
        if reduction == "mean":
            e = e / n
    e = _local_extra(odt, o, np.broadcast_to(e, o.shape))
    return [np.where(np.isfinite(o), e, 0.0)]


def _an_matmul(g: _Gen, step: Step, ins: list[Var], outs) -> list:
    (out,) = outs
    odt = dtype_name(out)
    a, b = (g.by_name[r.name] for r in step.args)
    A, B = _finite_abs(a.value), _finite_abs(b.value)
    k = a.shape[-1]
    with np.errstate(all="ignore"):
        mag = np.matmul(A, B)
    if odt in INTS:
        if np.max(mag, initial=0) >= 2.0 ** (31 if odt == "i32" else 63) / 4:
            raise _Reject("integer overflow")
        return [None]
    if not is_float(odt):
        return [None]
    if odt != "f64":
        _center_check(odt, _center64(g, step, ins)[0], out)
    eps = float(_finfo(_compute(odt)).eps)
    ea, eb = a.errs(), b.errs()
    with np.errstate(all="ignore"):
        e = np.matmul(A, eb) + np.matmul(ea, B) + np.matmul(ea, eb) + eps * _acc(k) * mag
    o = out.astype(np.float64)
    e = _local_extra(odt, o, np.broadcast_to(e, o.shape))
    return [np.where(np.isfinite(o), e, 0.0)]


# ---------------------------------------------------------------------------------------------------
# Builders: draw one op's arguments from the environment (return the steps, or None when nothing fits)
# ---------------------------------------------------------------------------------------------------

UNARY_FLOAT = ("exp", "log", "log1p", "tanh", "sigmoid", "sqrt", "rsqrt", "sin", "cos", "erf", "gelu")
ARITH = ("add", "subtract", "multiply", "divide", "floor_divide", "mod", "power", "maximum", "minimum")
LOGICAL = ("logical_and", "logical_or", "logical_xor")
BITWISE = ("bitwise_and", "bitwise_or", "bitwise_xor")
REDUCTIONS = ("sum", "mean", "max", "min", "logsumexp")
SHAPE_OPS = ("reshape", "ravel", "transpose", "broadcast_to", "expand_dims", "squeeze", "concatenate", "stack",
             "moveaxis", "swapaxes", "take_along_axis", "getitem")
CREATION = ("zeros", "ones", "full", "arange", "zeros_like", "ones_like", "full_like")
RANKK = ("topk", "midk", "bottomk")

_NP_FN = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
          "floor_divide": np.floor_divide, "mod": np.mod, "power": np.power, "maximum": np.maximum,
          "minimum": np.minimum}
_SYMBOL = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "floor_divide": "//", "mod": "%",
           "power": "**", "equal": "==", "not_equal": "!=", "less": "<", "less_equal": "<=", "greater": ">",
           "greater_equal": ">=", "bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^"}


def _literal(g: _Gen, like: Var | None, nonzero: bool = False):
    kind = like.dtype if like is not None else "f32"
    if kind == "i1":
        return g.choice([True, False])
    if kind in INTS or (like is not None and g.int(0, 3) == 0):
        return g.choice([2, 1, 3, -1, 5] if nonzero else [2, 1, 3, -1, 0, 5])
    return g.choice([2.0, 0.5, -1.0, 3.0, 1.5, -2.5, 0.25, 10.0])


def _partner(g: _Gen, a: Var, pred=lambda v: True) -> Var | None:
    """Another operand broadcastable with a."""
    return g.pick(lambda v: pred(v) and _bcast(a.shape, v.shape) is not None)


def _b_unary_float(op):
    def build(g: _Gen):
        x = g.pick()
        if x is None:
            return None
        kwargs = ()
        if op == "gelu" and g.coin():
            kwargs = (("approximate", "tanh"),)
        if op in ("exp", "log", "sqrt", "tanh") and not kwargs and g.int(0, 3) == 0:
            return [Step((g.fresh(),), op, "method" if op in ("exp", "log") else "call", op, (Ref(x.name),))]
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),), kwargs)]
    return build


def _b_keep_unary(op):
    def build(g: _Gen):
        x = g.pick(lambda v: v.dtype != "i1")
        if x is None:
            return None
        if op == "negative" and g.coin():
            return [Step((g.fresh(),), op, "unop", "-", (Ref(x.name),))]
        if op == "abs" and g.coin():
            return [Step((g.fresh(),), op, "unop", "abs", (Ref(x.name),))]
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),))]
    return build


def _b_logical_not(g: _Gen):
    x = g.pick()
    return None if x is None else [Step((g.fresh(),), "logical_not", "call", "logical_not", (Ref(x.name),))]


def _b_invert(g: _Gen):
    x = g.pick(lambda v: v.dtype == "i1")
    if x is None:
        return None
    if g.coin():
        return [Step((g.fresh(),), "invert", "unop", "~", (Ref(x.name),))]
    return [Step((g.fresh(),), "invert", "call", "invert", (Ref(x.name),))]


def _binary_step(g: _Gen, op: str, a: Var, b, np_fn, symbol: str | None) -> list[Step] | None:
    if _promote(np_fn, a, b) is None:
        return None
    bref = Ref(b.name) if isinstance(b, Var) else b
    out = (g.fresh(),)
    if symbol is not None and g.coin():
        if not isinstance(b, Var) and g.coin():  # scalar on the left: the reflected operator
            return [Step(out, op, "binop", symbol, (bref, Ref(a.name)))]
        return [Step(out, op, "binop", symbol, (Ref(a.name), bref))]
    if g.int(0, 5) == 0:
        return [Step(out, op, "call", op, (bref, Ref(a.name)))]
    return [Step(out, op, "call", op, (Ref(a.name), bref))]


def _b_arith(op):
    def build(g: _Gen):
        a = g.pick(lambda v: v.dtype != "i1")
        if a is None:
            return None
        r = g.int(0, 9)
        nonzero = op in ("divide", "floor_divide", "mod")  # (x / 0 with a literal 0: numpy warns while tracing)
        if r < 3:
            b = _literal(g, a, nonzero)
        elif r < 4:
            b = a
        else:
            b = _partner(g, a, lambda v: v.dtype != "i1") or _literal(g, a, nonzero)
        return _binary_step(g, op, a, b, _NP_FN[op], _SYMBOL.get(op))
    return build


def _b_compare(op):
    def build(g: _Gen):
        a = g.pick()
        if a is None:
            return None
        b = _literal(g, a) if g.int(0, 3) == 0 else (_partner(g, a) or _literal(g, a))
        return _binary_step(g, op, a, b, np.result_type, _SYMBOL[op])
    return build


def _b_logical(op):
    def build(g: _Gen):
        a = g.pick()
        if a is None:
            return None
        b = _partner(g, a) or a
        return [Step((g.fresh(),), op, "call", op, (Ref(a.name), Ref(b.name)))]
    return build


def _b_bitwise(op):
    def build(g: _Gen):
        a = g.pick(lambda v: v.dtype == "i1")
        if a is None:
            return None
        b = _partner(g, a, lambda v: v.dtype == "i1") or a
        if g.coin():
            return [Step((g.fresh(),), op, "binop", _SYMBOL[op], (Ref(a.name), Ref(b.name)))]
        return [Step((g.fresh(),), op, "call", op, (Ref(a.name), Ref(b.name)))]
    return build


def _b_where(g: _Gen):
    bools = [v for v in g.env if v.dtype == "i1"]
    cond = g.pick(lambda v: v.dtype == "i1") if bools and g.int(0, 3) > 0 else g.pick()
    if cond is None:
        return None
    a = _partner(g, cond) if g.int(0, 3) else None
    if a is None:
        a = cond if cond.dtype != "i1" or g.coin() else None
    a_arg = a if a is not None else _literal(g, None)
    like = a if isinstance(a, Var) else None
    b = (_partner(g, cond, lambda v: _bcast(v.shape, a.shape) is not None) if a is not None and g.coin() else None)
    b_arg = b if b is not None else _literal(g, like)
    if not any(isinstance(x, Var) for x in (a_arg, b_arg)) or _promote(np.result_type, a_arg, b_arg) is None:
        return None
    args = tuple(Ref(x.name) if isinstance(x, Var) else x for x in (cond, a_arg, b_arg))
    return [Step((g.fresh(),), "where", "call", "where", args)]


def _b_astype(g: _Gen):
    x = g.pick()
    if x is None:
        return None
    dst = g.choice(["f32", "i32", "f16", "i64", "f64", "i1", "bf16"])
    if g.int(0, 3) == 0:
        return [Step((g.fresh(),), "astype", "method", "astype", (Ref(x.name), DType(dst)))]
    return [Step((g.fresh(),), "astype", "call", "astype", (Ref(x.name), DType(dst)))]


def _draw_axes(g: _Gen, ndim: int, allow_tuple: bool = True):
    r = g.int(0, 4)
    if r == 0 or ndim == 0:
        return None if (ndim == 0 or not allow_tuple or g.coin()) else ()
    if r <= 2 or not allow_tuple:
        a = g.int(0, ndim - 1)
        return a - ndim if g.coin() else a
    k = g.int(1, ndim)
    axes = sorted(g.draw(hs.permutations(range(ndim)))[:k])
    return tuple(a - ndim if g.int(0, 3) == 0 else a for a in axes)


def _b_reduce(op):
    def build(g: _Gen):
        x = g.pick()
        if x is None:
            return None
        axis = _draw_axes(g, x.ndim)
        keep = g.int(0, 2) == 0
        kwargs = []
        if axis is not None or g.coin():
            kwargs.append(("axis", axis))
        if keep:
            kwargs.append(("keepdims", True))
        if op in ("sum", "mean", "max", "min") and g.int(0, 3) == 0:
            return [Step((g.fresh(),), op, "method", op, (Ref(x.name),), tuple(kwargs))]
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),), tuple(kwargs))]
    return build


def _b_argreduce(op):
    def build(g: _Gen):
        x = g.pick()
        if x is None:
            return None
        kwargs = []
        if x.ndim and g.int(0, 3) > 0:
            a = g.int(0, x.ndim - 1)
            kwargs.append(("axis", a - x.ndim if g.coin() else a))
        if g.int(0, 2) == 0:
            kwargs.append(("keepdims", True))
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),), tuple(kwargs))]
    return build


def _b_softmax(op):
    def build(g: _Gen):
        x = g.pick(lambda v: v.ndim >= 1)
        if x is None:
            return None
        a = g.int(0, x.ndim - 1)
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name),), (("axis", a - x.ndim if g.coin() else a),))]
    return build


def _labels(g: _Gen, shape: tuple, n: int):
    """Integer class labels of shape (an int variable of that shape, or a constant), mostly in [0, n)."""
    v = g.pick(lambda v: v.dtype in INTS and v.shape == shape) if g.coin() else None
    if v is not None:
        return Ref(v.name)
    lab = g.rng.integers(0, n, size=shape)
    if g.int(0, 3) == 0:
        lab = np.where(g.rng.random(shape) < 0.2, g.rng.choice([-1, n], size=shape), lab)
    return Const(np.asarray(lab, dtype=_NP[g.choice(["i64", "i32"])]))


def _b_loss(op):
    def build(g: _Gen):
        x = g.pick(lambda v: v.ndim >= 1 and v.ndim <= 4)
        if x is None:
            return None
        labels = _labels(g, x.shape[:-1], x.shape[-1])
        red = g.choice(["mean", "sum", "none"])
        kwargs = (("reduction", red),) if red != "mean" or g.coin() else ()
        return [Step((g.fresh(),), op, "call", op, (Ref(x.name), labels), kwargs)]
    return build


def _b_one_hot(g: _Gen):
    v = g.pick(lambda v: v.dtype in INTS and v.ndim <= 3)
    n = g.int(1, 7)
    labels = Ref(v.name) if v is not None and g.coin() else _labels(g, g.draw_shape(2), n)
    kwargs = (("dtype", DType(g.choice(["f32", "i32", "i1", "f64", "i64", "f16"]))),) if g.coin() else ()
    return [Step((g.fresh(),), "one_hot", "call", "one_hot", (labels, n), kwargs)]


def _matmul_ok(a: Var, b: Var) -> bool:
    if a.ndim == 0 or b.ndim == 0:
        return False
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != kb:
        return False
    batch = _bcast(a.shape[:-2], b.shape[:-2])
    return batch is not None and len(batch) + 2 <= MAX_RANK and _promote(np.result_type, a, b) is not None


def _b_matmul(g: _Gen):
    a = g.pick(lambda v: v.ndim >= 1)
    if a is None:
        return None
    b = g.pick(lambda v: _matmul_ok(a, v)) if g.int(0, 3) > 0 else None
    steps = []
    if b is None:  # a @ a^T (or a @ a for vectors)
        if a.ndim == 1:
            b_ref = Ref(a.name)
        else:
            t = g.fresh()
            steps.append(Step((t,), "swapaxes", "call", "swapaxes", (Ref(a.name), -1, -2)))
            b_ref = Ref(t)
    else:
        b_ref = Ref(b.name)
    out = (g.fresh(),)
    steps.append(Step(out, "matmul", "binop", "@", (Ref(a.name), b_ref)) if g.coin()
                 else Step(out, "matmul", "call", "matmul", (Ref(a.name), b_ref)))
    return steps


def _factor_shape(g: _Gen, size: int) -> tuple:
    factors = []
    n, p = size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    rank = g.int(1 if size > 1 else 0, 4)
    if rank == 0:
        return ()
    dims = [1] * rank
    for f in factors:
        dims[g.int(0, rank - 1)] *= f
    return tuple(dims)


def _b_reshape(g: _Gen):
    x = g.pick()
    if x is None:
        return None
    shape = _factor_shape(g, x.value.size)
    if shape and g.int(0, 3) == 0:
        j = g.int(0, len(shape) - 1)
        shape = shape[:j] + (-1,) + shape[j + 1:]
    if g.int(0, 3) == 0:
        return [Step((g.fresh(),), "reshape", "method", "reshape", (Ref(x.name), shape))]
    return [Step((g.fresh(),), "reshape", "call", "reshape", (Ref(x.name), shape))]


def _b_ravel(g: _Gen):
    x = g.pick()
    return None if x is None else [Step((g.fresh(),), "ravel", "call", "ravel", (Ref(x.name),))]


def _b_transpose(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 2)
    if x is None:
        return None
    r = g.int(0, 3)
    if r == 0:
        return [Step((g.fresh(),), "transpose", "attr", "T", (Ref(x.name),))]
    if r == 1:
        return [Step((g.fresh(),), "transpose", "call", "transpose", (Ref(x.name),))]
    perm = tuple(g.draw(hs.permutations(range(x.ndim))))
    return [Step((g.fresh(),), "transpose", "call", "transpose", (Ref(x.name), perm))]


def _b_broadcast_to(g: _Gen):
    x = g.pick()
    if x is None:
        return None
    shape = [g.int(2, 4) if d == 1 and g.coin() else d for d in x.shape]
    while len(shape) < MAX_RANK and g.int(0, 2) == 0:
        shape.insert(0, g.int(1, 4))
    shape = tuple(shape)
    if shape == x.shape or int(np.prod(shape)) > MAX_SIZE:
        return None
    return [Step((g.fresh(),), "broadcast_to", "call", "broadcast_to", (Ref(x.name), shape))]


def _b_expand_dims(g: _Gen):
    x = g.pick(lambda v: v.ndim < MAX_RANK)
    if x is None:
        return None
    if x.ndim + 2 <= MAX_RANK and g.int(0, 3) == 0:
        axes = tuple(sorted(g.draw(hs.permutations(range(x.ndim + 2)))[:2]))
        return [Step((g.fresh(),), "expand_dims", "call", "expand_dims", (Ref(x.name), axes))]
    a = g.int(0, x.ndim)
    return [Step((g.fresh(),), "expand_dims", "call", "expand_dims", (Ref(x.name), a - x.ndim - 1 if g.coin() else a))]


def _b_squeeze(g: _Gen):
    x = g.pick(lambda v: 1 in v.shape)
    if x is None:
        return None
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    r = g.int(0, 2)
    if r == 0:
        return [Step((g.fresh(),), "squeeze", "call", "squeeze", (Ref(x.name),))]
    if r == 1:
        return [Step((g.fresh(),), "squeeze", "method", "squeeze", (Ref(x.name), g.choice(ones)))]
    k = g.int(1, len(ones))
    return [Step((g.fresh(),), "squeeze", "call", "squeeze", (Ref(x.name), tuple(ones[:k])))]


def _b_concatenate(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    axis = g.int(0, x.ndim - 1)

    def fits(v):
        return (v.ndim == x.ndim and _promote(np.result_type, v, x) is not None
                and all(a == b for i, (a, b) in enumerate(zip(v.shape, x.shape, strict=True)) if i != axis))

    parts = [x]
    for _ in range(g.int(1, 2)):
        parts.append(g.pick(fits) if g.coin() else x)
    if any(p is None for p in parts):
        return None
    if _promote(np.result_type, *parts) is None:
        return None
    size = x.value.size // x.shape[axis] * sum(p.shape[axis] for p in parts)
    if size > MAX_SIZE:
        return None
    if g.coin():
        axis -= x.ndim
    return [Step((g.fresh(),), "concatenate", "call", "concatenate", ([Ref(p.name) for p in parts],),
                 (("axis", axis),))]


def _b_stack(g: _Gen):
    x = g.pick(lambda v: v.ndim < MAX_RANK)
    if x is None:
        return None
    parts = [x]
    for _ in range(g.int(1, 2)):
        parts.append(g.pick(lambda v: v.shape == x.shape and _promote(np.result_type, v, x) is not None)
                     if g.coin() else x)
    if any(p is None for p in parts) or _promote(np.result_type, *parts) is None:
        return None
    axis = g.int(0, x.ndim)
    return [Step((g.fresh(),), "stack", "call", "stack", ([Ref(p.name) for p in parts],),
                 (("axis", axis - x.ndim - 1 if g.coin() else axis),))]


def _b_moveaxis(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 2)
    if x is None:
        return None
    return [Step((g.fresh(),), "moveaxis", "call", "moveaxis", (Ref(x.name), g.int(0, x.ndim - 1),
                                                                 g.int(-x.ndim, x.ndim - 1)))]


def _b_swapaxes(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 2)
    if x is None:
        return None
    return [Step((g.fresh(),), "swapaxes", "call", "swapaxes", (Ref(x.name), g.int(0, x.ndim - 1),
                                                                 g.int(-x.ndim, x.ndim - 1)))]


def _b_take_along_axis(g: _Gen):
    x = g.pick(lambda v: v.ndim >= 1)
    if x is None:
        return None
    axis = g.int(0, x.ndim - 1)
    n = x.shape[axis]

    def fits(v):
        return v.dtype in INTS and v.ndim == x.ndim and all(
            i == axis or a == b or 1 in (a, b) for i, (a, b) in enumerate(zip(x.shape, v.shape, strict=True)))

    idx = g.pick(fits) if g.coin() else None
    if idx is not None:
        ind = Ref(idx.name)
    else:
        shape = tuple(g.int(1, 5) if i == axis else (d if g.int(0, 3) else 1) for i, d in enumerate(x.shape))
        vals = g.rng.integers(-n, n, size=shape)
        if g.int(0, 4) == 0:
            vals = np.where(g.rng.random(shape) < 0.2, g.rng.choice([-n - 3, n, n + 2], size=shape), vals)
        ind = Const(np.asarray(vals, dtype=_NP[g.choice(["i64", "i32"])]))
    return [Step((g.fresh(),), "take_along_axis", "call", "take_along_axis", (Ref(x.name), ind),
                 (("axis", axis - x.ndim if g.coin() else axis),))]


def _b_getitem(g: _Gen):
    x = g.pick()
    if x is None:
        return None
    items = []
    for d in x.shape:
        r = g.int(0, 3)
        if r == 0:
            items.append(slice(None))
        elif r == 1:
            i = g.int(-d, d - 1)
            items.append(i)
        else:
            step = g.choice([1, 2, -1, 3, -2, None])
            start = g.choice([None, g.int(-d - 1, d)])
            stop = g.choice([None, g.int(-d - 1, d + 1)])
            s = slice(start, stop, step)
            if len(range(*s.indices(d))) == 0:
                s = slice(None, None, step)
            items.append(s)
    if len(items) < MAX_RANK and g.int(0, 3) == 0:
        items.insert(g.int(0, len(items)), None)
    while items and items[-1] == slice(None) and g.coin():
        items.pop()
    if items and g.int(0, 4) == 0:  # an Ellipsis standing for some of the full slices
        k = g.int(0, len(items))
        items = items[:k] + [Ellipsis] + [i for i in items[k:] if not (isinstance(i, slice) and i == slice(None))]
    if not items:
        items = [Ellipsis] if g.coin() else [slice(None)] if x.ndim else [None]
    return [Step((g.fresh(),), "getitem", "getitem", "getitem", (Ref(x.name), Index(tuple(items))))]


def _creation_shape(g: _Gen) -> tuple:
    v = g.pick()
    if v is None or g.int(0, 3) == 0:
        return g.draw_shape(3)
    return v.shape[g.int(0, v.ndim):]


def _b_creation(op):
    def build(g: _Gen):
        out = (g.fresh(),)
        if op in ("zeros", "ones"):
            shape = _creation_shape(g)
            kwargs = (("dtype", DType(g.choice(["f32", "i32", "f64", "i1", "i64", "f16", "bf16"]))),) \
                if g.coin() else ()
            return [Step(out, op, "call", op, (shape,), kwargs)]
        if op == "full":
            shape = _creation_shape(g)
            value = g.choice([1.5, 2, -3.0, True, 0.25, 7])
            kwargs = (("dtype", DType(g.choice(["f32", "f64", "i32", "f16"]))),) if g.coin() else ()
            return [Step(out, op, "call", op, (shape, value), kwargs)]
        if op == "arange":
            v = g.pick(lambda v: v.ndim >= 1)
            n = v.shape[-1] if v is not None else g.int(1, 7)
            r = g.int(0, 3)
            if r == 0:
                return [Step(out, op, "call", op, (n,))]
            if r == 1:
                return [Step(out, op, "call", op, (n,), (("dtype", DType(g.choice(["f32", "i32", "f16"]))),))]
            if r == 2:
                return [Step(out, op, "call", op, (0.5, 0.5 * (n + 1), 0.5))]
            return [Step(out, op, "call", op, (n - 1, -1, -1))]
        x = g.pick()
        if x is None:
            return None
        kwargs = (("dtype", DType(g.choice(["f32", "i32", "f64", "i1"]))),) if g.coin() else ()
        args = (Ref(x.name), g.choice([2.0, -1, 0.5])) if op == "full_like" else (Ref(x.name),)
        return [Step(out, op, "call", op, args, kwargs)]
    return build


def _b_rankk(op):
    def build(g: _Gen):
        x = g.pick(lambda v: v.ndim >= 1 and v.dtype != "i1")
        if x is None:
            return None
        axis = g.int(0, x.ndim - 1)
        k = g.int(1, x.shape[axis])
        kwargs = (("axis", axis - x.ndim if g.coin() else axis),) if axis != x.ndim - 1 or g.coin() else ()
        return [Step((g.fresh(), g.fresh()), op, "call", op, (Ref(x.name), k), kwargs)]
    return build


BUILDERS: dict[str, Callable] = {}
ANALYSIS: dict[str, Callable] = {}
for _op in UNARY_FLOAT:
    BUILDERS[_op], ANALYSIS[_op] = _b_unary_float(_op), _an_elementwise
for _op in ("negative", "abs", "relu"):
    BUILDERS[_op], ANALYSIS[_op] = _b_keep_unary(_op), _an_elementwise
BUILDERS["logical_not"], ANALYSIS["logical_not"] = _b_logical_not, _an_elementwise
BUILDERS["invert"], ANALYSIS["invert"] = _b_invert, _an_elementwise
for _op in ARITH:
    BUILDERS[_op], ANALYSIS[_op] = _b_arith(_op), _an_elementwise
for _op in _COMPARES:
    BUILDERS[_op], ANALYSIS[_op] = _b_compare(_op), _an_elementwise
for _op in LOGICAL:
    BUILDERS[_op], ANALYSIS[_op] = _b_logical(_op), _an_elementwise
for _op in BITWISE:
    BUILDERS[_op], ANALYSIS[_op] = _b_bitwise(_op), _an_elementwise
BUILDERS["where"], ANALYSIS["where"] = _b_where, _an_elementwise
BUILDERS["astype"], ANALYSIS["astype"] = _b_astype, _an_elementwise
for _op in REDUCTIONS:
    BUILDERS[_op], ANALYSIS[_op] = _b_reduce(_op), _an_reduce
for _op in ("argmax", "argmin"):
    BUILDERS[_op], ANALYSIS[_op] = _b_argreduce(_op), _an_argreduce
for _op in ("softmax", "log_softmax"):
    BUILDERS[_op], ANALYSIS[_op] = _b_softmax(_op), _an_softmax
for _op in ("cross_entropy", "nll_loss"):
    BUILDERS[_op], ANALYSIS[_op] = _b_loss(_op), _an_loss
BUILDERS["one_hot"], ANALYSIS["one_hot"] = _b_one_hot, _an_exact
BUILDERS["matmul"], ANALYSIS["matmul"] = _b_matmul, _an_matmul
for _op, _b in [("reshape", _b_reshape), ("ravel", _b_ravel), ("transpose", _b_transpose),
                ("broadcast_to", _b_broadcast_to), ("expand_dims", _b_expand_dims), ("squeeze", _b_squeeze),
                ("concatenate", _b_concatenate), ("stack", _b_stack), ("moveaxis", _b_moveaxis),
                ("swapaxes", _b_swapaxes), ("take_along_axis", _b_take_along_axis), ("getitem", _b_getitem)]:
    BUILDERS[_op], ANALYSIS[_op] = _b, _an_shape
for _op in CREATION:
    BUILDERS[_op], ANALYSIS[_op] = _b_creation(_op), _an_exact
for _op in RANKK:
    BUILDERS[_op], ANALYSIS[_op] = _b_rankk(_op), _an_rankk

# Every op the fuzzer knows, simplest first (hypothesis shrinks towards the front of the list).
ALL_OPS: tuple[str, ...] = (
    "add", "multiply", "subtract", "negative", "abs", "relu", "exp", "maximum", "minimum", "divide",
    "less", "greater", "equal", "not_equal", "less_equal", "greater_equal", "where", "astype",
    "log", "log1p", "tanh", "sigmoid", "sqrt", "rsqrt", "sin", "cos", "erf", "gelu", "floor_divide", "mod", "power",
    "logical_not", "logical_and", "logical_or", "logical_xor", "invert", "bitwise_and", "bitwise_or",
    "bitwise_xor", "sum", "mean", "max", "min", "argmax", "argmin", "logsumexp", "softmax", "log_softmax",
    "cross_entropy", "nll_loss", "one_hot", "matmul", "reshape", "ravel", "transpose", "broadcast_to",
    "expand_dims", "squeeze", "concatenate", "stack", "moveaxis", "swapaxes", "take_along_axis", "getitem",
    "zeros", "ones", "full", "arange", "zeros_like", "ones_like", "full_like", "topk", "midk", "bottomk",
)
assert set(ALL_OPS) == set(BUILDERS) == set(_PROBES), set(ALL_OPS) ^ set(BUILDERS) ^ set(_PROBES)


# ---------------------------------------------------------------------------------------------------
# The strategy
# ---------------------------------------------------------------------------------------------------


@hs.composite
def programs(draw, target: str = "cpu", ops: Sequence[str] | None = None, min_ops: int = 1, max_ops: int = 12,
             max_inputs: int = 3, dtypes: Sequence[str] = DTYPES, strict: bool = False) -> Program:
    """A random well-typed program for target (see the module docstring).

    ops: the op names to draw from (default: default_ops(target)); dtypes: the input dtypes allowed;
    strict: raise GeneratorError when the frontend rejects a generated step (a generator bug) instead of
    drawing another op."""
    names = _op_names(target, ops)
    if not names:
        raise ValueError(f"no op of {ops} is supported by target {target!r}")
    g = _Gen(draw, target, strict)
    g.draw_inputs(max_inputs, dtypes)
    n = draw(hs.integers(min_ops, max_ops))
    for i in range(n):
        for _attempt in range(8 if i else 40):
            if g.add(draw(hs.sampled_from(names))):
                break
    assume(g.steps)  # (practically never false: the first op gets many attempts)
    return g.program()


# ---------------------------------------------------------------------------------------------------
# Long runs: python -m spiraltorch.fuzz --examples 10000 --target cpu
# ---------------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    clean: int = 0
    failures: list = field(default_factory=list)
    ops: Counter = field(default_factory=Counter)


def run(examples: int, target: str = "cpu", ops=None, max_ops: int = 12, seed: int = 0, batch: int = 500,
        stop_on_failure: bool = False, log=print) -> RunResult:
    """Check `examples` random programs in batches (each with its own seed, shrinking failures)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    result = RunResult()
    done = 0
    batch_no = 0
    t0 = time.time()
    while done < examples:
        n = min(batch, examples - done)
        state = {"failed": False}

        def one_check(program, state=state):
            try:
                check_program(program, target)
            except BaseException:
                state["failed"] = True
                raise
            if not state["failed"]:
                result.clean += 1
                result.ops.update(program.ops())

        @hseed(seed * 1_000_003 + batch_no)
        @settings(max_examples=n, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck),
                  phases=[Phase.generate, Phase.shrink])
        @given(programs(target=target, ops=ops, max_ops=max_ops))
        def one(program):
            one_check(program)

        try:
            one()
        except Exception as err:  # a failure, shrunk by hypothesis; the message holds the reproducer
            result.failures.append(str(err))
            log(f"FAILURE in batch {batch_no}:\n{err}\n")
            if stop_on_failure:
                break
        done += n
        batch_no += 1
        log(f"[{time.time() - t0:.0f}s] {done}/{examples} programs, {result.clean} clean, "
            f"{len(result.failures)} failures")
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m spiraltorch.fuzz", description=__doc__.split("\n")[0])
    p.add_argument("--examples", type=int, default=1000)
    p.add_argument("--target", default="cpu")
    p.add_argument("--ops", help="comma-separated op names (default: every op the target supports)")
    p.add_argument("--max-ops", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--stop-on-failure", action="store_true")
    p.add_argument("--list-ops", action="store_true", help="print which ops the target supports and exit")
    p.add_argument("--parallel-min", type=int, help="set SPIRAL_PARALLEL_MIN (e.g. 1: split even tiny kernels "
                   "across threads, to fuzz the parallel paths)")
    args = p.parse_args(argv)
    if args.parallel_min is not None:
        os.environ["SPIRAL_PARALLEL_MIN"] = str(args.parallel_min)
    if args.list_ops:
        for op in ALL_OPS:
            why = op_support(args.target, op)
            bug = KNOWN_BUGS.get(args.target, {}).get(op)
            print(f"{op:16} {'excluded: ' + bug if bug else 'ok' if why is None else 'unsupported: ' + why}")
        return 0
    ops = args.ops.split(",") if args.ops else None
    res = run(args.examples, args.target, ops, args.max_ops, args.seed, args.batch, args.stop_on_failure)
    print(f"\n{res.clean} of {args.examples} programs ran clean on {args.target!r}; {len(res.failures)} failures")
    print("ops exercised:", ", ".join(f"{op} {n}" for op, n in res.ops.most_common()))
    gaps = unsupported(args.target)
    if gaps:
        print("unsupported by the target (probed):")
        for key, msg in gaps.items():
            print(f"  {key}: {msg.splitlines()[0][:150]}")
    return 1 if res.failures else 0


if __name__ == "__main__":
    sys.exit(main())
