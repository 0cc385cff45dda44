"""Parameters and small helpers shared by the fuzzer's modules."""


from __future__ import annotations

from collections import Counter

import numpy as np

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

# The same for gradient mode (grad.py), per target ("*": every target): bugs found by `--grad`. Keys the
# generator (programs(grad=True, target=...)) keeps out of its programs: "active:<dtype>" (no value of that dtype
# depends on a float input, and no input has it), "op:<name>[,<name>...]" (the ops are never applied to a value
# that depends on a float input), "where:broadcast" (no where whose result is larger than an operand that
# depends on a float input). Key for check (b) on the cpu: "fuse" (a failure that goes away with the fusion
# pass off is counted as this bug, not failed). Each value says what goes wrong; tests/unit/test_fuzz_grad.py
# holds strict xfail reproducers for each.
KNOWN_GRAD_BUGS: dict[str, dict[str, str]] = {
    # target ("*" = all) -> {key: description}. Empty: the five bugs the gradient fuzzer found (bf16 rules widened
    # to f32, where's forward rule not broadcasting, three fusion/in-place miscompiles) are fixed, and their
    # reproducers run as regression tests in tests/unit/test_fuzz_grad.py.
    "*": {},
    "cpu": {},
}


def known_grad_bugs(target: str) -> dict[str, str]:
    """KNOWN_GRAD_BUGS for target: the "*" entries and the target's own."""
    return {**KNOWN_GRAD_BUGS.get("*", {}), **KNOWN_GRAD_BUGS.get(target, {})}


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


