"""spiral.rankk (topk / midk / bottomk) on the CPU backend against the reference interpreter, exactly:
the same indices, and values equal bit for bit (the sign of zero too; NaN == NaN).

Each row of a kernel uses one of three methods (spiraltorch/kernels/rankk.py, `pick_method`): "insert"
(m = start + k <= INSERT_MAX), "buffered" (n >= 2 * BUFFER * m) or "sort"; the cases below reach every
method with both record layouts (packed 32-bit keys, separate 64-bit keys), ties, NaN, infinities, signed
zeros and integer extremes, and scratch memory on the stack and in the workspace.
"""

import ml_dtypes
import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.kernels import rankk as rk

RNG = np.random.default_rng(2024)
NP = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
      "i32": np.int32, "i64": np.int64}
FLOATS = ["f32", "f64", "f16", "bf16"]


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind in "iu":
        return np.array_equal(a, b)
    nan_a, nan_b = np.isnan(a.astype(np.float64)), np.isnan(b.astype(np.float64))
    bits = {2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    return np.array_equal(nan_a, nan_b) and np.array_equal(a[~nan_a].view(bits), b[~nan_b].view(bits))


def check(fn, *args):
    """fn on the CPU and on the interpreter: every (values, indices) pair must match exactly."""
    got = st.compile(fn, target="cpu")(*args)
    want = st.compile(fn, target="interp")(*args)
    got = got if isinstance(got, list | tuple) and isinstance(got[0], list | tuple) else [got]
    want = want if isinstance(want, list | tuple) and isinstance(want[0], list | tuple) else [want]
    assert len(got) == len(want)
    for r, ((gv, gi), (wv, wi)) in enumerate(zip(got, want, strict=True)):
        assert gi.dtype == np.int64 and gv.dtype == wv.dtype and gv.shape == wv.shape, f"result {r}"
        np.testing.assert_array_equal(gi, wi, err_msg=f"result {r}: indices")
        assert _same_values(gv, wv), f"result {r}: values {gv} != {wv}"


def ties(shape, dtype, levels=17):
    """Random values from a few levels (many ties), never all zero."""
    v = RNG.integers(-(levels // 2), levels // 2 + 1, size=shape)
    if dtype in FLOATS:
        return (v * 0.75).astype(NP[dtype])
    return v.astype(NP[dtype])


def special(shape, dtype):
    """NaNs (several payloads and signs), infinities, signed zeros, extremes and a few ordinary values."""
    np_t = NP[dtype]
    info = ml_dtypes.finfo(np_t)
    pool = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -1.5, 2.0, float(info.max),
                     -float(info.max), float(info.tiny), -float(info.tiny)], np.float64).astype(np_t)
    x = RNG.choice(pool, size=shape)
    bits = {np.float32: np.uint32, np.float64: np.uint64}.get(np_t)
    if bits is not None:  # a NaN with another payload
        flat = x.reshape(-1)
        flat[::7] = np.array([0x7FC00001 if bits is np.uint32 else 0x7FF8000000000001], bits).view(np_t)[0]
    return x


def extremes(shape, dtype):
    info = np.iinfo(NP[dtype])
    pool = np.array([info.min, info.max, info.min + 1, info.max - 1, -1, 0, 1], NP[dtype])
    return RNG.choice(pool, size=shape)


ALL_KINDS = lambda x: (  # noqa: E731
    st.topk(x, 1), st.midk(x, 9), st.bottomk(x, 64),  # insert (m <= 64)
    st.topk(x, 65), st.midk(x, 33), st.bottomk(x, 100))  # sort (n = 100 < 8 m)


@pytest.mark.parametrize("dtype", list(NP))
def test_kinds(dtype):
    """Rows with many ties, then rows of NaN/inf/signed zeros (floats) or INT_MIN/INT_MAX (ints)."""
    odd = special((4, 100), dtype) if dtype in FLOATS else extremes((4, 100), dtype)
    check(ALL_KINDS, np.concatenate([ties((5, 100), dtype), odd]))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_buffered(dtype):
    """n >= 8 m with m > 64: random, ascending (a flush every 3m positions for top), descending, all equal."""
    n = 1100
    rows = [RNG.standard_normal(n), np.arange(n), np.arange(n)[::-1], np.full(n, 2.5), ties(n, "f64", 9)]
    x = np.stack(rows).astype(NP[dtype])
    x[4, ::50] = np.nan
    check(lambda x: (st.topk(x, 70), st.bottomk(x, 100), st.topk(x, 137), st.midk(x, 1100 - 130)), x)


@pytest.mark.parametrize("dtype", ["i32", "bf16"])
def test_sorted_rows(dtype):
    """Worst cases of the insertion buffer: every position inserted, at the front or at the back."""
    n = 300
    x = np.stack([np.arange(n), np.arange(n)[::-1], np.zeros(n) + 3, np.arange(n) % 5]).astype(NP[dtype])
    check(lambda x: (st.topk(x, 20), st.bottomk(x, 20), st.topk(x, 80), st.bottomk(x, 80)), x)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_axes(axis):
    x = RNG.standard_normal((6, 5, 7)).astype(np.float32)
    check(lambda x: (st.topk(x, 3, axis=axis), st.midk(x, 5, axis=axis), st.bottomk(x, 2, axis=axis)), x)


def test_strided_inputs_and_small_shapes():
    x = ties((9, 12), "f32", levels=7)
    check(lambda x: (st.topk(st.transpose(x), 4), st.bottomk(x[:, ::2], 3), st.midk(x[::3], 2, axis=0)), x)
    check(lambda v: (st.topk(v, 1), st.midk(v, 11), st.bottomk(v, 3)), RNG.standard_normal(11).astype(np.float64))
    check(lambda x: (st.topk(x, 1), st.bottomk(x, 1, axis=0)), RNG.standard_normal((1, 1)).astype(np.float16))
    check(lambda x: st.midk(x, 1, axis=1), ties((3, 1, 4), "i64"))
    y = ties((100, 9), "f64", levels=41)  # sort method, strided rows
    check(lambda y: (st.topk(st.transpose(y), 70), st.bottomk(y, 80, axis=0)), y)


def test_workspace_scratch(monkeypatch):
    """Scratch in the workspace (as for long rows), fewer slots than rows, rows not collapsible."""
    monkeypatch.setattr(rk, "ALLOCA_BYTES", 0)
    monkeypatch.setattr(rk, "MAX_SLOTS", 3)
    x = ties((7, 100), "f32", levels=11)
    y = ties((4, 30, 3), "f64", levels=11)
    check(lambda x, y: (st.topk(x, 5), st.midk(x, 70), st.bottomk(y, 20, axis=1), st.topk(y, 3, axis=1)), x, y)
    z = RNG.standard_normal((5, 700)).astype(np.float32)
    check(lambda z: (st.topk(z, 80), st.bottomk(z, 70)), z)  # buffered


def test_methods_chosen():
    assert rk.pick_method(100, 64) == "insert"
    assert rk.pick_method(1100, 137) == "buffered"
    assert rk.pick_method(100, 65) == "sort"
    assert rk.pick_method(65536, 1024) == "buffered"


@pytest.mark.parametrize("shape, k", [((8, 65536), 1024), ((1024, 4096), 32)])
def test_large(shape, k):
    x = RNG.standard_normal(shape).astype(np.float32)
    check(lambda x: st.topk(x, k), x)
