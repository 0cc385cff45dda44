"""check_program: a target against the interpreter, with the propagated error bounds."""

from __future__ import annotations

import numpy as np

import spiraltorch as st
from spiraltorch.errors import CompileError
from spiraltorch.fuzz.params import BASE_TOL, KNOWN_BUGS, TOL, dtype_name, is_float
from spiraltorch.fuzz.program import Program, _scrambled
from spiraltorch.fuzz.support import Unsupported, _diagnose

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


