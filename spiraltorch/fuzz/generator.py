"""The generation state (_Gen), the result checks shared by all ops and the per-family error analyses."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as hs

import spiraltorch as st
from spiraltorch.errors import SpiralError
from spiraltorch.fuzz.params import (
    _INPUT_DTYPES,
    _NP,
    INTS,
    MAX_RANK,
    MAX_SIZE,
    ROBUST,
    STATS,
    GeneratorError,
    _compute,
    _eps,
    _finfo,
    _Reject,
    dtype_name,
    is_float,
    known_grad_bugs,
)
from spiraltorch.fuzz.program import (
    Const,
    DType,
    Program,
    Ref,
    Step,
    make_function,
    promote_array,
    promote_steps,
    with_layout,
)
from spiraltorch.fuzz.support import _step_support
from spiraltorch.ir import dtypes as _dtypes

# ---------------------------------------------------------------------------------------------------
# Generation state
# ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Var:
    name: str
    value: np.ndarray  # the interpreter's value
    err: np.ndarray | None  # float vars: elementwise absolute error bound (float64); else None
    uses: int = 0
    active: bool = False  # a float value that depends on a float input through float ops (it has a gradient)

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
    def __init__(self, draw, target: str, strict: bool, grad: bool = False):
        self.draw = draw
        self.target = target
        self.strict = strict
        self.grad = grad  # gradient mode: finite, differentiable programs (see _grad_preconditions)
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
        if self.grad:
            choices = [d for d in choices if f"active:{d}" not in known_grad_bugs(self.target)] or choices
        floats = [d for d in choices if is_float(d)]
        self.layouts = []
        for i, shape in enumerate(shapes):
            # gradient mode: the first input is a float (something to differentiate)
            dt = self.choice(floats if self.grad and i == 0 and floats else choices)
            value = self.input_values(shape, dt)
            self.layouts.append(self.choice(["C", "C", "C", "F", "reversed", "strided", "readonly"]) if shape else "C")
            var = Var(f"x{i}", value, np.zeros(shape) if is_float(dt) else None, active=is_float(dt))
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
        # gradient mode: no NaN/inf, and no exact ties between inputs (kinks of max/relu/... at the point)
        profile = self.choice(["uniform", "wide", "positive"] if self.grad else
                              ["uniform", "wide", "positive", "ties", "specials"])
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
            steps = _builders().BUILDERS[op](self)
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
        errs = _builders().ANALYSIS[step.op](self, step, ins, outs)
        for o, e in zip(outs, errs, strict=True):
            _check_float_result(dtype_name(o), o, e)
        if self.grad:
            _grad_preconditions(self, step, ins, outs)
        self.check_support(step, ins, outs)
        for v in ins:
            v.uses += 1
        self.steps.append(step)
        active = any(v.active for v in ins)
        for name, o, e in zip(step.outs, outs, errs, strict=True):
            var = Var(name, o, None if e is None else np.asarray(e, np.float64),
                      active=active and is_float(dtype_name(o)))
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
        if self.grad and not any(v.active for v in sinks):  # an output with a gradient
            sinks += [v for v in produced if v.active][-1:]
        inputs = [v for v in self.env if v.name.startswith("x")]
        arrays = tuple(with_layout(v.value, lay) for v, lay in zip(inputs, self.layouts, strict=True))
        return Program(tuple(v.name for v in inputs), arrays, tuple(self.steps),
                       tuple(v.name for v in sinks), tuple(v.err for v in sinks), self.target)


    def has_active_output(self) -> bool:
        """Whether program() would have an output with a gradient (some produced value is active)."""
        return any(v.active for v in self.env if not v.name.startswith("x"))


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
# Gradient mode: what a step must satisfy so that its derivative is well defined and robust
# ---------------------------------------------------------------------------------------------------

_KINKS = ("relu", "abs", "maximum", "minimum", "max", "min")


def _grad_preconditions(g: _Gen, step: Step, ins: list[Var], outs) -> None:
    """Gradient mode only (after the step's own analysis). Rejects:
    * non-finite float results (a NaN or inf anywhere poisons the loss and, through 0 * inf, its gradient);
    * sqrt of zero (a finite value with an infinite derivative), a ** b with a <= 0 where b varies;
    * operands near a kink of relu/abs (0), maximum/minimum (a == b) and max/min reductions (a tie for the
      extremum), unless the tie is exact (both sides computed exactly, so every implementation takes the same
      branch): at least ROBUST error bounds away, as for comparisons. The derivative's branch (the mask in
      relu's or max's rule) is then the same on every correct implementation, and the finite differences of
      the gradient check see a smooth function unless their step reaches the kink (they check that)."""
    for o in outs:
        if is_float(dtype_name(o)) and not np.all(np.isfinite(o.astype(np.float64))):
            raise _Reject("grad: non-finite value")
    op = step.op
    if op == "sqrt" and np.any(ins[0].value == 0):
        raise _Reject("grad: sqrt of zero")
    if not any(v.active for v in ins):
        return
    for key in known_grad_bugs(g.target):
        if _known_grad_bug(key, step, ins, outs):
            raise _Reject(f"grad: known bug {key}")
    if op == "power":  # d(a ** b)/db = log(a) * a ** b: undefined for a <= 0 (NaN), where b varies
        base, expo = _data_args(step)
        if isinstance(expo, Ref) and g.by_name[expo.name].active and np.any(_arg_value(g, base) <= 0):
            raise _Reject("grad: power of a non-positive base with a varying exponent")
    _grad_ties(g, step)
    if op not in _KINKS:
        return
    with np.errstate(all="ignore"):
        if op in ("relu", "abs"):
            x, e = ins[0].value.astype(np.float64), ins[0].errs()
            ok = (e == 0) | (np.abs(x) > ROBUST * e)
        elif op in ("maximum", "minimum"):
            args = _data_args(step)
            (a, b), (ea, eb) = [_arg_value(g, x).astype(np.float64) for x in args], [_arg_err(g, x) for x in args]
            ok = ((a == b) & (ea == 0) & (eb == 0)) | (np.abs(a - b) > ROBUST * (ea + eb))
        else:  # max / min reductions: the extremum must be robustly apart from the rest, or an exact tie
            (x,) = ins
            xv, e = x.value.astype(np.float64), x.errs()
            axes = _norm_axes(_kw(step, "axis"), x.ndim)
            m = (np.max if op == "max" else np.min)(xv, axis=axes, keepdims=True)
            hit = xv == m
            e_hit = np.max(np.where(hit, e, 0.0), axis=axes, keepdims=True)
            ties = np.sum(hit, axis=axes, keepdims=True)
            ok = (hit | (np.abs(xv - m) > ROBUST * (e + e_hit))) & ((ties == 1) | (e_hit == 0))
    if not np.all(ok):
        raise _Reject("grad: near a kink")


def _known_grad_bug(key: str, step: Step, ins: list[Var], outs) -> bool:
    """Whether step (with an active operand) is what the KNOWN_GRAD_BUGS entry `key` is about."""
    kind, _, what = key.partition(":")
    if kind == "op":
        return step.op in what.split(",")
    if kind == "active":
        return any(dtype_name(o) == what for o in outs)
    if key == "where:broadcast":  # an active operand of where smaller than the result
        return step.op == "where" and any(v.active and v.shape != outs[0].shape for v in ins)
    return False  # (not about the generator: "fuse" is grad.py's)


_DECISIONS = ("relu", "abs", "maximum", "minimum", "max", "min", "argmax", "argmin", *_COMPARES, "topk", "midk",
              "bottomk")
TIE_STEP = 1e-6  # how far the inputs move to tell a structural tie from a coincidental one


def _tie_pairs(step: Step, vals: list) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays whose elementwise equality marks the ties that step decides on, given its data operands'
    values: (x, 0) for relu/abs, the operands for maximum/minimum/comparisons, an extremum and the other
    elements of its slice for max/min/argmax/argmin, all pairs in a slice for topk/midk/bottomk."""
    op = step.op
    if op in ("relu", "abs"):
        return vals[0], np.zeros(())
    if op in ("maximum", "minimum", *_COMPARES):
        return vals[0], vals[1]
    x = vals[0]
    if op in ("topk", "midk", "bottomk"):
        xs = _slices(x, _kw(step, "axis", -1) % x.ndim)
        a, b = xs[:, :, None], xs[:, None, :]
        return np.where(np.eye(xs.shape[1], dtype=bool), np.nan, a), b
    if op in ("max", "min"):
        axes = _norm_axes(_kw(step, "axis"), x.ndim)
    else:
        axes = tuple(range(x.ndim)) if _kw(step, "axis") is None else (_kw(step, "axis") % x.ndim,)
    rest = [i for i in range(x.ndim) if i not in axes]
    xs = np.transpose(x, rest + list(axes)).reshape(-1, int(np.prod([x.shape[a] for a in axes])))
    m = (np.max if op in ("max", "argmax") else np.min)(xs, axis=1, keepdims=True)
    first = np.argmax(xs == m, axis=1)[:, None]  # the extremum, against every other element of its slice
    return np.where(np.arange(xs.shape[1]) == first, np.nan, m), xs


def _grad_ties(g: _Gen, step: Step) -> None:
    """Gradient mode: a step that decides on exactly tied operands (relu of 0, maximum(a, a), a tie for
    the max, a tie in a top-k ranking, a == b) is fine when the tie is structural: the tied values are the
    same function of the inputs (x - x, broadcast copies, maximum(x, x.T) on the diagonal), so that they
    stay tied when the inputs move and the derivative is that of a smooth function. A coincidental tie
    (two equal float16 inputs) is a kink at the point, where finite differences disagree with any one-sided
    rule: rejected. Told apart by running the steps so far in float64 at the point and at inputs moved by
    TIE_STEP in a random direction."""
    if step.op not in _DECISIONS:
        return
    args = [a for a in _data_args(step) if not isinstance(a, Const)]
    vals = [_arg_value(g, a).astype(np.float64) for a in args]
    with np.errstate(all="ignore"):
        a, b = _tie_pairs(step, vals)
        if not np.any(a == b):
            return
        refs = [a.name for a in args if isinstance(a, Ref)]
        inputs = [v for v in g.env if v.name.startswith("x")]
        fn = make_function([v.name for v in inputs], promote_steps(g.steps), refs)
        point = [promote_array(v.value) for v in inputs]
        rng = np.random.default_rng(len(g.steps))
        moved = [p + TIE_STEP * rng.standard_normal(p.shape) if is_float(v.dtype) else p
                 for v, p in zip(inputs, point, strict=True)]
        run = st.compile(fn, target="interp")
        at, near = (dict(zip(refs, map(np.asarray, run(*xs)), strict=True)) for xs in (point, moved))

        def values(env):
            return [env[a.name] if isinstance(a, Ref) else np.asarray(a, np.float64) for a in args]

        a0, b0 = _tie_pairs(step, values(at))
        a1, b1 = _tie_pairs(step, values(near))
        if np.any((a0 == b0) & ~(a1 == b1)):
            raise _Reject("grad: coincidental tie")


def _builders():
    # builders.py draws with _Gen and analyses with this module's functions, so it is imported on use.
    from spiraltorch.fuzz import builders

    return builders
