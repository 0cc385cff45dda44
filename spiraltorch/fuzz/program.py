"""Programs as data: steps over named values, replayed as a traceable function and printed as a script."""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

import spiraltorch as st
from spiraltorch.fuzz.params import _SRC_DTYPE, _ST_NAME, FLOATS, INTS, dtype_name

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


def promote_steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    """The steps with every cast to a float dtype made a cast to float64 (for float64 runs of a program)."""
    def arg(step, a):
        return DType("f64") if step.op == "astype" and isinstance(a, DType) and a.name in FLOATS else a

    return tuple(replace(s, args=tuple(arg(s, a) for a in s.args)) for s in steps)


def promote_array(a: np.ndarray) -> np.ndarray:
    """A float array as float64 (C order, shape kept), any other array unchanged."""
    return np.array(a, np.float64) if dtype_name(a) in FLOATS else a


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


