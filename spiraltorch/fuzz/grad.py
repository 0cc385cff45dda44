"""Gradient mode: random programs made scalar, their derivatives checked two ways.

For a program with float inputs x and float outputs y_i, the loss is L(x, w) = sum_i sum(y_i * w_i) with fixed
random weights w_i (uniform in [0.5, 1.5], seeded by the output's position; float32 values, float64 arrays
for float64 outputs), passed as extra arguments (not differentiated) rather than baked in as constants. Then

(a) `check_grad_fd`: on the interpreter in float64 (float inputs converted, float casts in the program made
    float64 casts), along random directions v (standard normal): reverse mode <grad L, v> (st.value_and_grad),
    forward mode (st.jvp) and central finite differences must agree. The finite difference is taken at two
    steps, H and H/2; where they disagree the function is not smooth at this scale along v (a kink of relu,
    abs, max... or a jump of a comparison, a cast to int, floor, within the step) and the example is SKIPPED
    (reverse and forward mode are still compared with each other). Skips are counted; the generator's grad
    mode (programs(grad=True)) keeps them rare.
(b) `check_grad_target`: the gradient module, st.value_and_grad(L) compiled for the target, against the
    interpreter, in the program's own dtypes (mostly float32), with check.py's comparison: the value's error
    bound comes from the program's error analysis, a gradient's from the distance between the interpreter's
    gradient and the float64 one (an empirical bound: the rounding error of one correct implementation).

A failure raises GradMismatch with a standalone reproducer script (the program, its inputs, the weights,
the loss, and the computation that disagrees).
"""

from __future__ import annotations

import inspect
import os
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

import spiraltorch as st
from spiraltorch.fuzz.check import Mismatch, _bits, _compare
from spiraltorch.fuzz.generator import _acc
from spiraltorch.fuzz.params import KNOWN_BUGS, _eps, dtype_name, is_float, known_grad_bugs
from spiraltorch.fuzz.program import (
    LAYOUTS,
    Program,
    _layout_of,
    _scrambled,
    array_source,
    promote_array,
    promote_steps,
)

# ---------------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------------

H = 1e-6  # finite-difference step (float64), along directions of standard normal entries
DIRECTIONS = 2  # random directions per example
FD_RTOL = 1e-6  # reverse/forward vs finite differences, relative to the scale of the derivative
SMOOTH_RTOL = 1e-4  # FD(H) and FD(H/2) further apart than this (relative): not smooth here, skip
MODES_RTOL = 1e-9  # reverse vs forward mode (both exact up to rounding), relative
NOISE = 64 * float(np.finfo(np.float64).eps)  # float64 rounding of the loss, relative to its magnitude
GRAD_TOL = 1.0  # (b): a gradient's error bound: |interp - f64| + GRAD_TOL * max |interp - f64| over its array
WEIGHT_SEED = 1000  # w_i = default_rng(WEIGHT_SEED + i).uniform(0.5, 1.5, shape)


class GradMismatch(Mismatch):
    pass


class KnownGradBug(Exception):
    """A failure that a KNOWN_GRAD_BUGS entry (key) accounts for: counted, not failed."""

    def __init__(self, key: str, message: str):
        super().__init__(f"known bug {key!r}: {message}")
        self.key = key


@dataclass
class GradOutcome:
    """What check_grad_program found (it raises GradMismatch on a failure)."""

    fd: str  # "checked" or "skipped: <why>"
    target: str  # "checked", "known bug: <KNOWN_GRAD_BUGS key>", "skipped: <why>", or "not run" (target "interp")
    nonzero: bool = False  # the gradient is not identically zero


# ---------------------------------------------------------------------------------------------------
# The loss
# ---------------------------------------------------------------------------------------------------


def loss_weights(outputs: Sequence[np.ndarray]) -> list[np.ndarray | None]:
    """W_i per output: for a float output, random float32 values (the same for a program and its float64
    version), as float64 for a float64 output (float32 otherwise: y_i * W_i is then float32); None for ints
    and bools."""
    out = []
    for i, o in enumerate(outputs):
        if not is_float(dtype_name(o)):
            out.append(None)
            continue
        w = np.random.default_rng(WEIGHT_SEED + i).uniform(0.5, 1.5, np.shape(o)).astype(np.float32)
        out.append(w.astype(np.float64) if dtype_name(o) == "f64" else w)
    return out


def _weight_source(i: int, w: np.ndarray | None) -> str:
    if w is None:
        return "None"
    f64 = ".astype(np.float64)" if w.dtype == np.float64 else ""
    return f"np.random.default_rng({WEIGHT_SEED + i}).uniform(0.5, 1.5, {tuple(w.shape)!r}).astype(np.float32){f64}"


def _weight_names(weights) -> list[str]:
    return [f"w{i}" for i, w in enumerate(weights) if w is not None]


def _loss_args(arrays, weights) -> tuple:
    """The loss's arguments: the program's inputs, then the weights."""
    return (*arrays, *[w for w in weights if w is not None])


def make_loss(fn: Callable, names: Sequence[str], weights: Sequence[np.ndarray | None]) -> Callable:
    """loss(*inputs, *weights) = st.sum(y_i * w_i) + ... over the outputs with a weight (in this order)."""
    n, used = len(names), [i for i, w in enumerate(weights) if w is not None]

    def loss(*args):
        outs = fn(*args[:n])
        total = None
        for i, w in zip(used, args[n:], strict=True):
            term = st.sum(outs[i] * w)
            total = term if total is None else total + term
        return total

    loss.__signature__ = inspect.Signature(
        [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in (*names, *_weight_names(weights))])
    return loss


def _loss_source(names: Sequence[str], weights) -> list[str]:
    terms = [f"st.sum(outs[{i}] * w{i})" for i, w in enumerate(weights) if w is not None]
    return [
        f"def loss({', '.join((*names, *_weight_names(weights)))}):",
        f"    outs = program({', '.join(names)})",
        f"    return {' + '.join(terms)}",
        "",
        "",
        *[f"w{i} = {_weight_source(i, w)}" for i, w in enumerate(weights) if w is not None],
    ]


def promote64(program: Program) -> Program:
    """The program on float64: float inputs converted, casts to a float dtype made casts to float64."""
    return replace(program, arrays=tuple(map(promote_array, program.arrays)), steps=promote_steps(program.steps))


def _float_args(program: Program) -> tuple[int, ...]:
    return tuple(i for i, a in enumerate(program.arrays) if is_float(dtype_name(a)))


def _interp(fn: Callable, *args):
    return st.compile(fn, target="interp")(*args)


# ---------------------------------------------------------------------------------------------------
# (a) reverse and forward mode against finite differences (float64, interpreter)
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Fd:
    """The pieces of check (a) for one program, kept for (b) and for the reproducer."""

    program: Program  # promoted to float64
    diff: tuple[int, ...]
    weights: list
    loss: Callable | None = None
    args: tuple = ()  # the loss's arguments: inputs (float64), weights
    value: float = 0.0
    grads: tuple = ()
    magnitude: float = 0.0  # sum |y_i * w_i|: the loss's rounding scale


def _directions(arrays, diff, k: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(k)
    return {i: rng.standard_normal(np.shape(arrays[i])) for i in diff}


def _fd(f: Callable, arrays, v: dict, h: float) -> float:
    plus = [a + h * v[i] if i in v else a for i, a in enumerate(arrays)]
    minus = [a - h * v[i] if i in v else a for i, a in enumerate(arrays)]
    return (float(f(*plus)) - float(f(*minus))) / (2 * h)


def _prepare_fd(program: Program) -> tuple[_Fd, str | None]:
    p64 = promote64(program)
    diff = _float_args(p64)
    fd = _Fd(p64, diff, [])
    if not diff:
        return fd, "no float input"
    outs = _interp(p64.fn, *p64.arrays)
    fd.weights = loss_weights(outs)
    if all(w is None for w in fd.weights):
        return fd, "no float output"
    fd.magnitude = float(sum(np.sum(np.abs(np.asarray(o, np.float64) * w))
                             for o, w in zip(outs, fd.weights, strict=True) if w is not None))
    fd.loss = make_loss(p64.fn, p64.names, fd.weights)
    fd.args = _loss_args(p64.arrays, fd.weights)
    try:
        value, grads = _interp(st.value_and_grad(fd.loss, argnums=diff), *fd.args)
    except Exception as err:  # (the forward program ran: the gradient module is at fault)
        raise GradMismatch(f"the gradient module (float64, interpreter) raised {type(err).__name__}: {err}\n\n"
                           f"{fd_reproducer(fd)}") from err
    fd.value, fd.grads = float(value), tuple(np.asarray(g, np.float64) for g in grads)
    if not np.isfinite(fd.value) or not all(np.all(np.isfinite(g)) for g in fd.grads):
        return fd, "non-finite loss or gradient"
    return fd, None


def check_grad_fd(program: Program, directions: int = DIRECTIONS) -> str:
    """Check (a); returns "checked" or "skipped: <why>", raises GradMismatch."""
    fd, why = _prepare_fd(program)
    return _check_fd(fd, directions) if why is None else f"skipped: {why}"


def _check_fd(fd: _Fd, directions: int) -> str:
    diff = fd.diff
    f = st.compile(fd.loss, target="interp")
    jvp = st.compile(lambda a, t: st.jvp(fd.loss, a, t)[1], target="interp")
    unstable = None
    noise = NOISE * max(fd.magnitude, abs(fd.value))
    for k in range(directions):
        v = _directions(fd.args, diff, k)
        rev = sum(float(np.sum(g * v[i])) for g, i in zip(fd.grads, diff, strict=True))
        terms = sum(float(np.sum(np.abs(g * v[i]))) for g, i in zip(fd.grads, diff, strict=True))
        tangents = tuple(v[i] if i in v else np.zeros_like(a) for i, a in enumerate(fd.args))
        try:
            fwd = float(jvp(fd.args, tangents))
        except Exception as err:
            raise GradMismatch(f"forward mode (st.jvp, float64, interpreter) raised {type(err).__name__}: {err}"
                               f"\n\n{fd_reproducer(fd, directions)}") from err
        problem = None
        if not abs(rev - fwd) <= MODES_RTOL * (terms + abs(rev) + abs(fwd)) + 4 * noise:
            problem = f"reverse mode {rev!r} and forward mode {fwd!r} differ"
        else:
            fd1, fd2 = _fd(f, fd.args, v, H), _fd(f, fd.args, v, H / 2)
            scale = terms + abs(fwd) + abs(fd2)
            gap = abs(fd1 - fd2)
            if not gap <= SMOOTH_RTOL * scale + 2 * noise / H:
                unstable = unstable or f"finite differences unstable (direction {k}: {fd1!r} at h, {fd2!r} at h/2)"
                continue
            tol = FD_RTOL * scale + 2 * gap + 4 * noise / H
            for name, got in (("reverse", rev), ("forward", fwd)):
                if not abs(got - fd2) <= tol:
                    problem = (f"{name} mode {got!r} vs finite differences {fd2!r} (h/2; {fd1!r} at h), "
                               f"allowed |diff| {tol:.3g}")
                    break
        if problem:
            raise GradMismatch(f"gradient check (float64, interpreter), direction {k}: {problem}\n\n"
                               f"{fd_reproducer(fd, directions)}")
    return f"skipped: {unstable}" if unstable else "checked"


# ---------------------------------------------------------------------------------------------------
# (b) the gradient module on the target against the interpreter
# ---------------------------------------------------------------------------------------------------


def _value_bound(outs, errors, weights, loss_dt: str) -> float:
    """Error bound of L = sum(y_i * W_i) + ...: the outputs' bounds, and the products' and sums' rounding."""
    e, mag, n = 0.0, 0.0, 0
    for o, err, w in zip(outs, errors, weights, strict=True):
        if w is None:
            continue
        o64 = np.asarray(o, np.float64)
        e += float(np.sum(np.broadcast_to(0.0 if err is None else err, o64.shape) * w))
        t = float(np.sum(np.abs(o64 * w)))
        term_dt = dtype_name(np.zeros((), np.result_type(np.asarray(o).dtype, np.float32)))  # y_i * W_i, its sum
        e += _eps(term_dt) * (_acc(o64.size) + 1) * t
        mag += t
        n += 1
    return e + _eps(loss_dt) * (n + 1) * mag


def _results(value, grads) -> list[np.ndarray]:
    return [np.asarray(value), *[np.asarray(g) for g in grads]]


def _run(vg: Callable, args: tuple, target: str, repeat: bool) -> tuple[list, list]:
    """vg compiled for target: (results, results of a second call) after a call on other values."""
    compiled = st.compile(vg, target=target)
    if repeat:
        compiled(*[_scrambled(a) for a in args])
    got = _results(*compiled(*args))
    return got, (_results(*compiled(*args)) if repeat else got)


def _problems(got, again, want, errors, names, n_ops) -> list[str]:
    if len(got) != len(want):
        return [f"{len(got)} results, interpreter {len(want)}"]
    problems = []
    for i, (g, w, e) in enumerate(zip(got, want, errors, strict=True)):
        p = _compare(i, g, w, e, n_ops, None, None)
        if p:
            problems.append(f"{names[i]}: {p}")
    problems += [f"{names[i]}: a second call with the same inputs gave different values"
                 for i, (g, a) in enumerate(zip(got, again, strict=True)) if not np.array_equal(_bits(g), _bits(a))]
    return problems


@contextmanager
def _env(name: str, value: str):
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            del os.environ[name]
        else:
            os.environ[name] = saved


def _fusion_free(vg: Callable, args: tuple, target: str, want, errors, names, n_ops) -> bool:
    """Whether the target (cpu) agrees with the interpreter once its fusion pass is off (SPIRAL_FUSE=0)."""
    if target != "cpu":
        return False
    try:
        with _env("SPIRAL_FUSE", "0"):
            got, again = _run(vg, args, target, repeat=False)
    except Exception:
        return False
    return not _problems(got, again, want, errors, names, n_ops)


def check_grad_target(program: Program, target: str = "cpu", fd: _Fd | None = None) -> list:
    """Check (b); returns the target's (value, *grads), raises GradMismatch (or KnownGradBug: a failure that
    goes away without the cpu's fusion pass while KNOWN_GRAD_BUGS[target] lists "fuse")."""
    if fd is None:
        fd, why = _prepare_fd(program)
        if why is not None:
            raise ValueError(f"no gradient to check: {why}")
    diff = fd.diff
    outs = _interp(program.fn, *program.arrays)
    weights = loss_weights(outs)  # (the values of fd.weights, in the outputs' dtypes)
    loss = make_loss(program.fn, program.names, weights)
    args = _loss_args(program.arrays, weights)
    vg = st.value_and_grad(loss, argnums=diff)
    try:
        want = _results(*st.compile(vg, target="interp")(*args))
    except Exception as err:
        raise GradMismatch(f"the gradient module (interpreter, {', '.join(map(dtype_name, program.arrays))} inputs) "
                           f"raised {type(err).__name__}: {err}\n\n{target_reproducer(program, weights, target)}") \
            from err
    errors = [np.asarray(_value_bound(outs, program.errors, weights, dtype_name(want[0])))]
    for w, g64 in zip(want[1:], fd.grads, strict=True):
        d = np.abs(np.asarray(w, np.float64) - g64)
        errors.append(d + GRAD_TOL * np.max(d, initial=0.0))
    names = ["value", *[f"grad of {program.names[i]}" for i in diff]]
    n_ops = 2 * program.n_ops + 2
    repeat = not any(f"repeat-call:{dtype_name(w)}" in KNOWN_BUGS.get(target, {}) for w in want)
    try:
        got, again = _run(vg, args, target, repeat)
    except Exception as err:
        what, cause = f"gradient module on target {target!r} raised {type(err).__name__}: {err}", err
    else:
        problems = _problems(got, again, want, errors, names, n_ops)
        if not problems:
            return got
        what = f"gradient module on target {target!r} differs from the interpreter:\n  " + "\n  ".join(problems)
        cause = None
    if _fusion_free(vg, args, target, want, errors, names, n_ops):
        what += "\n(with SPIRAL_FUSE=0 the target agrees with the interpreter: a bug of the fusion pass)"
        if "fuse" in known_grad_bugs(target):
            raise KnownGradBug("fuse", what)
    raise GradMismatch(f"{what}\n\n{target_reproducer(program, weights, target)}") from cause


# ---------------------------------------------------------------------------------------------------
# Both
# ---------------------------------------------------------------------------------------------------


def check_grad_program(program: Program, target: str = "cpu", directions: int = DIRECTIONS,
                       fd: bool = True) -> GradOutcome:
    """(a) (unless fd=False) then (b) (for a target other than "interp"); raises GradMismatch on a failure. A (b)
    failure that KNOWN_GRAD_BUGS accounts for is reported as target="known bug: <key>"."""
    prep, why = _prepare_fd(program)
    if why is not None:
        return GradOutcome(f"skipped: {why}", f"skipped: {why}")
    nonzero = any(np.any(g != 0) for g in prep.grads)
    a = _check_fd(prep, directions) if fd else "not run"
    b = "not run"
    if target != "interp":
        try:
            check_grad_target(program, target, prep)
            b = "checked"
        except KnownGradBug as bug:
            b = f"known bug: {bug.key}"
    return GradOutcome(a, b, nonzero)


# ---------------------------------------------------------------------------------------------------
# Reproducers
# ---------------------------------------------------------------------------------------------------


def _header(program: Program, what: str) -> list[str]:
    shapes = ", ".join(f"{n}: {dtype_name(a)}{list(a.shape)}" for n, a in zip(program.names, program.arrays,
                                                                                strict=True))
    return [f"# SpiralTorch fuzz program, {what}: {program.n_ops} ops; inputs {shapes}",
            "import numpy as np", "import spiraltorch as st", "", "", program.source(), "", ""]


def fd_reproducer(fd: _Fd, directions: int = DIRECTIONS) -> str:
    """A standalone script: the float64 program, its loss, and reverse/forward mode vs finite differences."""
    p = fd.program
    lines = [
        *_header(p, "gradient check in float64 on the interpreter"),
        *_loss_source(p.names, fd.weights),
        "",
        "",
        *[f"{n} = {array_source(a)}" for n, a in zip(p.names, p.arrays, strict=True)],
        f"args = ({', '.join((*p.names, *_weight_names(fd.weights)))},)",
        f"diff = {fd.diff!r}  # the float inputs",
        "value, grads = st.compile(st.value_and_grad(loss, argnums=diff), target=\"interp\")(*args)",
        "f = st.compile(loss, target=\"interp\")",
        "jvp = st.compile(lambda a, t: st.jvp(loss, a, t)[1], target=\"interp\")",
        "",
        "",
        "def fd(v, h):  # central finite differences along v",
        "    plus = [a + h * v[i] if i in v else a for i, a in enumerate(args)]",
        "    minus = [a - h * v[i] if i in v else a for i, a in enumerate(args)]",
        "    return (float(f(*plus)) - float(f(*minus))) / (2 * h)",
        "",
        "",
        f"for k in range({directions}):",
        "    rng = np.random.default_rng(k)",
        "    v = {i: rng.standard_normal(np.shape(args[i])) for i in diff}",
        "    rev = sum(float(np.sum(g * v[i])) for g, i in zip(grads, diff))",
        "    fwd = float(jvp(args, tuple(v[i] if i in v else np.zeros_like(a) for i, a in enumerate(args))))",
        f"    print(f\"direction {{k}}: reverse {{rev!r}}, forward {{fwd!r}}, finite differences {{fd(v, {H!r})!r}} "
        f"(h={H!r}), {{fd(v, {H / 2!r})!r}} (h={H / 2!r})\")",
    ]
    return "\n".join(lines)


def target_reproducer(program: Program, weights, target: str) -> str:
    """A standalone script: the program, its loss, st.value_and_grad on target vs the interpreter."""
    args = ", ".join((*program.names, *_weight_names(weights)))
    diff = _float_args(program)
    lines = [
        *_header(program, f"gradient module on {target!r} vs the interpreter"),
        *_loss_source(program.names, weights),
        "",
        "",
        *[f"{n} = {LAYOUTS[_layout_of(a)].format(array_source(a))}"
          for n, a in zip(program.names, program.arrays, strict=True)],
        f"vg = st.value_and_grad(loss, argnums={diff!r})",
        f'f = st.compile(vg, target="{target}")',
        f"f(*[np.roll(np.ascontiguousarray(a).reshape(-1)[::-1], 1).reshape(a.shape) for a in ({args},)])"
        "  # a call with other values first",
        f"got_value, got_grads = f({args})",
        f'want_value, want_grads = st.compile(vg, target="interp")({args})',
        'print("value", got_value, "interpreter", want_value)',
        f"for name, g, w in zip({[program.names[i] for i in diff]!r}, got_grads, want_grads):",
        "    d = np.abs(g.astype(np.float64) - w.astype(np.float64))",
        '    print("grad of", name, g.dtype, g.shape, "max |got - want|:", np.max(d, initial=0), '
        '"max |want|:", np.max(np.abs(w.astype(np.float64)), initial=0))',
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Long runs: python -m spiraltorch.fuzz --grad --examples 300 --target cpu
# ---------------------------------------------------------------------------------------------------


@dataclass
class GradRunResult:
    examples: int = 0  # generated and checked (a failure's shrinking not counted)
    fd_checked: int = 0
    target_checked: int = 0
    nonzero: int = 0  # examples whose gradient is not identically zero
    skips: Counter = field(default_factory=Counter)  # (a) skipped, by reason
    known: Counter = field(default_factory=Counter)  # (b) failures a KNOWN_GRAD_BUGS entry accounts for, by key
    failures: list = field(default_factory=list)
    ops: Counter = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return sum(self.skips.values())

    def summary(self, target: str) -> str:
        b = "not run (target 'interp')" if target == "interp" else f"{self.target_checked} checked"
        lines = [f"{self.examples} programs: (a) finite differences (float64, interp): {self.fd_checked} checked, "
                 f"{self.skipped} skipped; (b) gradient module on {target!r} vs interp: {b}; {self.nonzero} with "
                 f"a nonzero gradient; {len(self.failures)} failures"]
        for why, n in self.skips.most_common():
            lines.append(f"  skipped {n}: {why}")
        for key, n in self.known.most_common():
            lines.append(f"  (b) failed {n} times on known bug {key!r} (KNOWN_GRAD_BUGS)")
        return "\n".join(lines)


def _skip_reason(s: str) -> str:
    """The kind of a skip (without the numbers)."""
    return s.removeprefix("skipped: ").split(" (")[0]


def run_grad(examples: int, target: str = "cpu", ops=None, max_ops: int = 12, seed: int = 0, batch: int = 500,
             stop_on_failure: bool = False, directions: int = DIRECTIONS, log=print) -> GradRunResult:
    """Check `examples` random programs in gradient mode, in batches (each with its own seed, shrinking
    failures); counts what was checked and what was skipped."""
    from spiraltorch.fuzz.batches import run_batches
    from spiraltorch.fuzz.strategy import programs

    result = GradRunResult()

    def check(program):
        out = check_grad_program(program, target, directions)

        def record():
            result.examples += 1
            result.ops.update(program.ops())
            result.nonzero += out.nonzero
            if out.fd == "checked":
                result.fd_checked += 1
            else:
                result.skips[_skip_reason(out.fd)] += 1
            result.target_checked += out.target == "checked"
            if out.target.startswith("known bug: "):
                result.known[out.target.removeprefix("known bug: ")] += 1

        return record

    run_batches(examples, programs(target=target, ops=ops, max_ops=max_ops, grad=True), check, seed=seed,
                batch=batch, stop_on_failure=stop_on_failure, failures=result.failures, log=log,
                progress=lambda: f"{result.fd_checked} FD-checked, {result.skipped} skipped, "
                                 f"{result.target_checked} checked on {target!r}, {len(result.failures)} failures")
    return result

