"""Element types: the one table that maps numpy dtypes, IR element types and short names.

SpiralIR tensors hold f64, f32, f16, bf16, i64, i32 or i1 (bool). numpy has no bfloat16, so we use
ml_dtypes' `bfloat16`, which is a real numpy dtype (the interpreter can hold and round to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ml_dtypes
import numpy as np
from xdsl.dialects.builtin import (
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    TensorType,
)
from xdsl.ir import Attribute


@dataclass(frozen=True)
class DType:
    name: str  # short IR name: "f32"
    np: np.dtype
    ir: Attribute
    kind: str  # "f" float, "i" signed integer, "b" bool

    @property
    def is_float(self) -> bool:
        return self.kind == "f"


_TABLE = [
    DType("f64", np.dtype(np.float64), Float64Type(), "f"),
    DType("f32", np.dtype(np.float32), Float32Type(), "f"),
    DType("f16", np.dtype(np.float16), Float16Type(), "f"),
    DType("bf16", np.dtype(ml_dtypes.bfloat16), BFloat16Type(), "f"),
    DType("i64", np.dtype(np.int64), IntegerType(64), "i"),
    DType("i32", np.dtype(np.int32), IntegerType(32), "i"),
    DType("i1", np.dtype(np.bool_), IntegerType(1), "b"),
]
BY_NAME = {d.name: d for d in _TABLE}
_BY_NP = {d.np: d for d in _TABLE}
_BY_IR = {d.ir: d for d in _TABLE}
# numpy-style spellings accepted wherever a dtype is named (CLI specs, st.astype(x, "float32")).
_ALIASES = {
    "float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16",
    "int64": "i64", "int32": "i32", "bool": "i1", "bool_": "i1",
}
SUPPORTED = ", ".join(d.name for d in _TABLE)


class DTypeError(TypeError):
    """A dtype SpiralIR does not support; the message lists the supported ones."""


def from_numpy(dt) -> DType:
    try:
        return _BY_NP[np.dtype(dt)]
    except (KeyError, TypeError):
        raise DTypeError(f"unsupported dtype {dt}; supported: {SUPPORTED}") from None


def from_ir(attr: Attribute) -> DType:
    try:
        return _BY_IR[attr]
    except KeyError:
        raise DTypeError(f"unsupported element type {attr}; supported: {SUPPORTED}") from None


def from_name(name: str) -> DType:
    key = _ALIASES.get(name, name)
    if key in BY_NAME:
        return BY_NAME[key]
    raise DTypeError(f"unknown dtype '{name}'; supported: {SUPPORTED}")


def lookup(dt) -> DType:
    """Any spelling of a dtype (DType, name, numpy dtype or scalar type, IR attribute) -> DType."""
    if isinstance(dt, DType):
        return dt
    if isinstance(dt, str):
        return from_name(dt)
    if isinstance(dt, Attribute):
        return from_ir(dt)
    return from_numpy(dt)


def tensor_type(shape, dt) -> TensorType:
    return _tensor_type(tuple(shape), lookup(dt).name)


@lru_cache(maxsize=4096)
def _tensor_type(shape: tuple[int, ...], name: str) -> TensorType:
    # Attributes are immutable, so one instance per (shape, dtype) can be shared; building one
    # runs xDSL's attribute verification, which dominated tracing time.
    return TensorType(BY_NAME[name].ir, list(shape))


def shape_of(t: Attribute) -> tuple[int, ...]:
    assert isinstance(t, TensorType), t
    return tuple(t.get_shape())


def dtype_of(t: Attribute) -> DType:
    assert isinstance(t, TensorType), t
    return from_ir(t.element_type)
