"""spiral.rankk (topk / midk / bottomk / rankk) traced and run on the interpreter against a brute-force
reference: Python's sorted() on each row with key (value rank, index), NaN above +inf."""

import inspect
import math
import os

import ml_dtypes
import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.interp.interpreter import run_module
from spiraltorch.ir import text

RNG = np.random.default_rng(4321)
HERE = os.path.basename(__file__)
DTYPES = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
          "i32": np.int32, "i64": np.int64}
FNS = {"top": st.topk, "mid": st.midk, "bottom": st.bottomk}
# (shape, axis): 1-D, 2-D both axes, 3-D every axis, size-1 dims, an axis of length 1.
CASES = [((7,), 0), ((8,), -1), ((4, 9), -1), ((4, 9), 0), ((3, 5, 6), 0), ((3, 5, 6), 1), ((3, 5, 6), -1),
         ((1, 6), -1), ((6, 1), 0), ((2, 1, 5), -2)]


# --- the reference --------------------------------------------------------------------------------
def _is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _ref_row(row: list, kind: str, k: int) -> list[int]:
    """Positions chosen from one row (Python numbers), by brute force."""
    n = len(row)
    if kind == "bottom":  # ascending, NaN last, ties by index
        order = sorted(range(n), key=lambda i: (_is_nan(row[i]), 0 if _is_nan(row[i]) else row[i], i))
        return order[:k]
    # descending, NaN first, ties by index (Python ints and floats negate exactly)
    order = sorted(range(n), key=lambda i: (not _is_nan(row[i]), 0 if _is_nan(row[i]) else -row[i], i))
    start = 0 if kind == "top" else (n - k) // 2
    return order[start:start + k]


def reference(x: np.ndarray, kind: str, k: int, axis: int):
    moved = np.moveaxis(x, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    py = rows.astype(np.float64).tolist() if x.dtype.kind == "f" or x.dtype == ml_dtypes.bfloat16 else rows.tolist()
    idx = np.array([_ref_row(r, kind, k) for r in py], np.int64).reshape((*moved.shape[:-1], k))
    idx = np.moveaxis(idx, -1, axis)
    return np.take_along_axis(x, idx, axis=axis), idx


def _check(actual, x, kind, k, axis):
    values, indices = actual
    want_v, want_i = reference(x, kind, k, axis)
    assert indices.dtype == np.int64 and values.dtype == x.dtype
    assert values.shape == want_v.shape and indices.shape == want_i.shape
    np.testing.assert_array_equal(indices, want_i, err_msg=f"{kind}k k={k} axis={axis}")
    # exact values, NaN == NaN, and the sign of zero too
    a, b = values.astype(np.float64), want_v.astype(np.float64)
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(np.signbit(a), np.signbit(b))


def _data(shape, dtype: str, rng=RNG) -> np.ndarray:
    """Many ties (a small range); floats also get NaN, +-inf and -0.0; never all zero."""
    if dtype.startswith("i"):
        x = rng.integers(-3, 4, size=shape)
        x.reshape(-1)[0] = 2  # never all zeros
        return x.astype(DTYPES[dtype])
    x = rng.integers(-3, 4, size=shape).astype(np.float64) * 0.5
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, np.nan])
    mask = rng.random(shape) < 0.25
    x[mask] = rng.choice(specials, size=int(mask.sum()))
    x.reshape(-1)[0] = 1.5
    return x.astype(DTYPES[dtype])


def _ks(n: int) -> list[int]:
    """k = 1, k = n and values in between with both parities of n - k."""
    return sorted({1, n, max(1, n // 2), max(1, n // 2 + 1), max(1, n - 1)})


def _run(fn, *args, **kw):
    return st.compile(fn, target="interp", **kw)(*args)


# --- semantics against the reference ---------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", CASES, ids=str)
@pytest.mark.parametrize("kind", ["top", "mid", "bottom"])
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_against_bruteforce(dtype, kind, shape, axis):
    x = _data(shape, dtype)
    ks = _ks(shape[axis])
    out = _run(lambda t: tuple(FNS[kind](t, k, axis=axis) for k in ks), x)
    for k, got in zip(ks, out, strict=True):
        _check(got, x, kind, k, axis)


@pytest.mark.parametrize("dtype", ["f32", "i32"])
def test_distinct_values_match_numpy_sort(dtype):
    # No ties: topk / bottomk are slices of numpy's sort, midk the middle of the descending sort.
    x = RNG.permutation(40).reshape(4, 10).astype(DTYPES[dtype]) - 17
    (tv, ti), (bv, bi), (mv, mi) = _run(lambda t: (st.topk(t, 3), st.bottomk(t, 4), st.midk(t, 5)), x)
    desc = -np.sort(-x.astype(np.float64), axis=-1)
    np.testing.assert_array_equal(tv, desc[:, :3])
    np.testing.assert_array_equal(bv, np.sort(x, axis=-1)[:, :4])
    np.testing.assert_array_equal(mv, desc[:, 2:7])
    for v, i in ((tv, ti), (bv, bi), (mv, mi)):
        np.testing.assert_array_equal(np.take_along_axis(x, i, axis=-1), v)


def test_nan_ranks_above_inf():
    x = np.array([1.0, np.nan, np.inf, 3.0, np.nan, -np.inf], np.float32)
    (tv, ti), (bv, bi), (mv, mi), (av, ai) = _run(
        lambda t: (st.topk(t, 3), st.bottomk(t, 6), st.midk(t, 2), st.bottomk(t, 2)), x)
    np.testing.assert_array_equal(ti, [1, 4, 2])  # torch.topk: NaN is the largest
    np.testing.assert_array_equal(tv, [np.nan, np.nan, np.inf])
    np.testing.assert_array_equal(bi, [5, 0, 3, 2, 1, 4])  # ascending: NaN last, in index order
    np.testing.assert_array_equal(mi, [2, 3])  # descending ranks [2, 4): inf, 3
    np.testing.assert_array_equal(ai, [5, 0])


def test_ties_lower_index_first():
    x = np.array([2, 2, 1, 2, 1, 3], np.int64)
    (tv, ti), (bv, bi), (mv, mi) = _run(lambda t: (st.topk(t, 3), st.bottomk(t, 3), st.midk(t, 4)), x)
    np.testing.assert_array_equal(ti, [5, 0, 1])
    np.testing.assert_array_equal(bi, [2, 4, 0])  # NOT the reverse of the descending order
    np.testing.assert_array_equal(mi, [0, 1, 3, 2])  # descending order 5,0,1,3,2,4; ranks [1, 5)
    np.testing.assert_array_equal(mv, [2, 2, 2, 1])
    z = np.array([0.0, -0.0, 0.0, -0.0], np.float32)  # -0.0 == +0.0: ties
    _, zi = _run(lambda t: st.topk(t, 4), z)
    np.testing.assert_array_equal(zi, [0, 1, 2, 3])


@pytest.mark.parametrize("dtype", ["i32", "i64"])
def test_integer_extremes(dtype):
    info = np.iinfo(DTYPES[dtype])
    x = np.array([[info.min, 5, info.min, info.max, -1, info.max]], DTYPES[dtype])
    for kind in FNS:
        for k in (1, 3, 6):
            _check(_run(lambda t, kind=kind, k=k: FNS[kind](t, k), x), x, kind, k, -1)
    v, i = _run(lambda t: st.topk(t, 6), x)
    np.testing.assert_array_equal(i, [[3, 5, 1, 4, 0, 2]])


def test_midk_parity():
    x = np.arange(10, 0, -1).astype(np.float32)  # descending rank r holds 10 - r at index r
    for k in range(1, 11):
        v, i = _run(lambda t, k=k: st.midk(t, k), x)
        start = (10 - k) // 2
        np.testing.assert_array_equal(i, np.arange(start, start + k))


def test_empty_other_dimension():
    x = np.zeros((0, 5), np.float32)
    v, i = _run(lambda t: st.topk(t, 2), x)
    assert v.shape == (0, 2) and i.shape == (0, 2) and i.dtype == np.int64


def test_rankk_spellings_and_eager():
    x = _data((3, 7), "f32")
    for kind in FNS:
        for spelling in (kind, f"{kind}k"):
            _check(_run(lambda t, s=spelling: st.rankk(s, t, 3), x), x, kind, 3, -1)
    # eager: plain numpy arrays in, numpy arrays out; numpy integers are fine for k and axis
    _check(st.topk(x, 2), x, "top", 2, -1)
    _check(st.rankk("mid", x, np.int64(3), axis=np.int32(0)), x, "mid", 3, 0)
    _check(st.bottomk(x.tolist(), 4), np.array(x.tolist()), "bottom", 4, -1)


def test_static_k_argument():
    x = _data((4, 9), "bf16")
    f = st.compile(lambda t, k: st.topk(t, k), target="interp", static_argnums=1)
    for k in (1, 5, 9):
        _check(f(x, k), x, "top", k, -1)


def test_ir_is_one_op_with_canonical_axis():
    x = np.ones((4, 8), np.float32)
    ir = st.compile(lambda t: (st.topk(t, 2, axis=-1), st.midk(t, 3, axis=1), st.bottomk(t, 2, axis=-2))).lower(x)
    s = str(ir)
    assert s.count("spiral.rankk") == 3 and "sort" not in s
    assert '{kind = "top", k = 2 : i64} : tensor<4x8xf32> -> tensor<4x2xf32>, tensor<4x2xi64>' in s
    assert '{kind = "mid", k = 3 : i64} : tensor<4x8xf32>' in s  # axis 1 is the last: omitted
    assert '{kind = "bottom", k = 2 : i64, axis = 0 : i64} : tensor<4x8xf32> -> tensor<2x8xf32>' in s


def test_interpreter_on_written_ir_with_negative_axis():
    module = text.parse("""
func.func @f(%x: tensor<3x5x4xf16>) -> (tensor<3x2x4xf16>, tensor<3x2x4xi64>) {
  %v, %i = spiral.rankk %x {kind = "bottom", k = 2, axis = -2}
      : tensor<3x5x4xf16> -> tensor<3x2x4xf16>, tensor<3x2x4xi64>
  func.return %v, %i : tensor<3x2x4xf16>, tensor<3x2x4xi64>
}
""")
    x = _data((3, 5, 4), "f16")
    _check(run_module(module, [x]), x, "bottom", 2, -2)


# --- errors: a TraceError naming the user's line and the problem ---------------------------------
def _line_of(marker: str) -> int:
    for i, line in enumerate(inspect.getsource(inspect.getmodule(_line_of)).splitlines(), 1):
        if marker in line and "_line_of" not in line:
            return i
    raise AssertionError(marker)


def _expect_error(fn, args, marker, *fragments, **compile_kw):
    with pytest.raises(st.TraceError) as info:
        _run(fn, *args, **compile_kw)
    msg = str(info.value)
    assert f"{HERE}:{_line_of(marker)}:" in msg, msg
    for frag in fragments:
        assert frag in msg, msg
    assert "\n" not in msg


X = np.linspace(-1, 1, 8 * 128, dtype=np.float32).reshape(8, 128)


def test_k_exceeds_axis():
    _expect_error(lambda t: st.topk(t, 300), (X,), "st.topk(t, 300)",
                  "topk k = 300 exceeds the length 128 of axis 1")
    _expect_error(lambda t: st.midk(t, 9, axis=-2), (X,), "st.midk(t, 9, axis=-2)",
                  "midk k = 9 exceeds the length 8 of axis 0")


def test_k_too_small():
    _expect_error(lambda t: st.bottomk(t, 0), (X,), "st.bottomk(t, 0)", "bottomk k = 0 must be at least 1")
    _expect_error(lambda t: st.topk(t, -2), (X,), "st.topk(t, -2)", "topk k = -2 must be at least 1")


def test_k_must_be_static_int():
    _expect_error(lambda t, kk: st.topk(t, kk), (X, 3), "st.topk(t, kk)", "topk k must be a Python int",
                  "static")
    _expect_error(lambda t: st.topk(t, 2.0), (X,), "st.topk(t, 2.0)", "topk k must be an int, got float")
    _expect_error(lambda t: st.midk(t, True), (X,), "st.midk(t, True)", "midk k must be an int, got a bool")
    _expect_error(lambda t: st.topk(t, 2, axis=t), (X,), "st.topk(t, 2, axis=t)", "topk axis must be a Python int")


def test_axis_out_of_range():
    _expect_error(lambda t: st.topk(t, 2, axis=2), (X,), "st.topk(t, 2, axis=2)",
                  "topk axis 2 is out of range for a tensor of rank 2")
    _expect_error(lambda t: st.bottomk(t, 2, axis=-3), (X,), "st.bottomk(t, 2, axis=-3)",
                  "bottomk axis -3 is out of range")


def test_bad_kind():
    _expect_error(lambda t: st.rankk("left", t, 2), (X,), 'st.rankk("left", t, 2)',
                  "rankk kind must be one of", "'left'")
    _expect_error(lambda t: st.rankk(None, t, 2), (X,), "st.rankk(None, t, 2)", "got None")


def test_bad_input():
    _expect_error(lambda t: st.topk(t > 0, 2), (X,), "st.topk(t > 0, 2)", "topk does not accept bool tensors")
    _expect_error(lambda t: st.topk(t, 1), (np.array(1.5, np.float32),), "st.topk(t, 1), (np.array",
                  "topk needs a tensor of rank >= 1, got a 0-d tensor")
