"""Helpers for checking SpiralTorch against numpy (used by the test suite; usable by anyone).

Tolerances are what each dtype really needs for one rounding step of a well-implemented op, scaled
by the op's conditioning where the caller says so (e.g. reductions over many elements).
"""

from __future__ import annotations

import numpy as np

from spiraltorch.ir import dtypes

# (rtol, atol) per dtype for elementwise results.
TOLERANCE = {
    "f64": (1e-12, 1e-13),
    "f32": (2e-6, 1e-6),
    "f16": (2e-3, 1e-3),
    "bf16": (1.6e-2, 1e-2),
    "i64": (0, 0),
    "i32": (0, 0),
    "i1": (0, 0),
}


def rand(shape, dtype="f32", rng=None, low=-2.0, high=2.0):
    """Random values in [low, high): floats uniform, ints uniform integers, bools fair coins.
    Never all zeros, so a kernel that writes nothing cannot pass."""
    rng = rng if rng is not None else np.random.default_rng(0)
    d = dtypes.lookup(dtype)
    if d.kind == "f":
        return rng.uniform(low, high, size=shape).astype(d.np)
    if d.kind == "i":
        return rng.integers(int(low) if low < 0 else -5, int(high) + 5, size=shape).astype(d.np)
    return rng.random(size=shape) < 0.5


def tolerance(dtype) -> tuple[float, float]:
    return TOLERANCE[dtypes.lookup(dtype).name]


def assert_close(actual, expected, rtol=None, atol=None, check_dtype=True, err_msg=""):
    """Shape and dtype must match exactly; values within (rtol, atol) of the dtype; NaN == NaN."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{err_msg} shape {actual.shape} != expected {expected.shape}"
    if check_dtype:
        assert actual.dtype == expected.dtype, f"{err_msg} dtype {actual.dtype} != expected {expected.dtype}"
    d = dtypes.lookup(actual.dtype).name if actual.dtype != object else "f64"
    r, a = tolerance(d)
    r = r if rtol is None else rtol
    a = a if atol is None else atol
    if dtypes.lookup(actual.dtype).kind == "f":
        np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), rtol=r, atol=a,
                                   equal_nan=True, err_msg=err_msg)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=err_msg)


def compare_targets(fn, *args, target="cpu", rtol=None, atol=None, static_argnums=()):
    """Run fn compiled for target and for the interpreter; outputs must match (structure, dtype, values)."""
    import spiraltorch as st
    from spiraltorch.frontend import pytree

    got = st.compile(fn, target=target, static_argnums=static_argnums)(*args)
    want = st.compile(fn, target="interp", static_argnums=static_argnums)(*args)
    g_leaves, g_tree = pytree.flatten(got)
    w_leaves, w_tree = pytree.flatten(want)
    assert g_tree == w_tree, f"output structure {g_tree} != {w_tree}"
    for i, (g, w) in enumerate(zip(g_leaves, w_leaves, strict=True)):
        assert_close(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}:")
    return got
