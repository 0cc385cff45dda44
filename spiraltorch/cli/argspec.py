"""Parsing `--arg NAME=DTYPE[SHAPE]`, `--static NAME=VALUE` and `--in NAME=FILE.npy` options."""

from __future__ import annotations

import ast
import re

import numpy as np

from spiraltorch.errors import UsageError
from spiraltorch.ir import dtypes

_ARG = re.compile(r"^(?P<name>[A-Za-z_]\w*)=(?P<dtype>\w+)(\[(?P<shape>[0-9,\s]*)\])?$")
_SCALARS = {"float": 1.0, "int": 1, "bool": True}


def parse_arg(spec: str):
    """`x=f32[4,8]` -> ("x", zeros array of that shape); `s=float` -> ("s", 1.0), a traced Python scalar."""
    m = _ARG.match(spec.strip())
    if not m:
        raise UsageError(f"bad --arg '{spec}': expected NAME=DTYPE[D0,D1,...] (e.g. x=f32[4,8]) or NAME=float")
    name, dt, shape = m["name"], m["dtype"], m["shape"]
    if shape is None and dt in _SCALARS:
        return name, _SCALARS[dt]
    try:
        d = dtypes.from_name(dt)
    except dtypes.DTypeError as err:
        raise UsageError(f"bad --arg '{spec}': {err}") from None
    dims = tuple(int(s) for s in shape.split(",") if s.strip()) if shape else ()
    return name, np.zeros(dims, d.np)


def parse_static(spec: str):
    name, sep, value = spec.partition("=")
    if not sep or not name.isidentifier():
        raise UsageError(f"bad --static '{spec}': expected NAME=PYTHON_LITERAL")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise UsageError(f"bad --static '{spec}': {value!r} is not a Python literal") from None


def parse_input(spec: str):
    """`x=x.npy` loads an array; `x=1.5` is a literal (Python scalar or nested list)."""
    name, sep, value = spec.partition("=")
    if not sep or not name.isidentifier():
        raise UsageError(f"bad --in '{spec}': expected NAME=FILE.npy or NAME=LITERAL")
    if value.endswith(".npy"):
        try:
            return name, np.load(value, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise UsageError(f"cannot load '{value}': {err}") from None
    try:
        lit = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise UsageError(f"bad --in '{spec}': not a .npy file nor a Python literal") from None
    return name, lit if isinstance(lit, (bool, int, float)) else np.asarray(lit)
