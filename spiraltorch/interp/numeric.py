"""Numeric helpers shared by the op implementations of the reference interpreter."""

from __future__ import annotations

import math

import numpy as np

from spiraltorch.ir import dtypes

_HALF = (np.dtype(np.float16), dtypes.BY_NAME["bf16"].np)


def result_dtype(op, index: int = 0) -> np.dtype:
    return dtypes.dtype_of(op.results[index].type).np


def as_result(value, op, index: int = 0) -> np.ndarray:
    """A numpy array of exactly the IR result dtype (0-d results stay arrays, not numpy scalars)."""
    return np.asarray(value).astype(result_dtype(op, index), copy=False)


def float_math(fn, x: np.ndarray) -> np.ndarray:
    """Apply fn in at least float32: half types are computed in f32 and rounded once, as GPUs do."""
    if x.dtype in _HALF:
        return fn(x.astype(np.float32)).astype(x.dtype)
    return fn(x)


_erf64 = np.vectorize(math.erf, otypes=[np.float64])


def erf(x: np.ndarray) -> np.ndarray:
    """erf to float64 accuracy (numpy has none; scipy is not a dependency)."""
    return _erf64(x.astype(np.float64)).astype(x.dtype) if x.size else x.copy()


def sigmoid(x: np.ndarray) -> np.ndarray:
    # Two branches so that neither exp overflows: no NaN or spurious warnings for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
