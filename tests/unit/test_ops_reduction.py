"""Every reduction traced and run on the interpreter against numpy (float64 references for floats)."""

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.ir import dtypes
from spiraltorch.testing import assert_close, rand, tolerance

RNG = np.random.default_rng(4321)

# (shape, axis) pairs: ints, negative axes, tuples, None, () and size-1 dims.
CASES = [
    ((7,), None), ((7,), 0), ((7,), -1), ((3, 5), 1), ((3, 5), -2), ((3, 5), (0, 1)), ((2, 1, 4), (0, 2)),
    ((2, 1, 4), 1), ((2, 3, 4), (-1, 0)), ((2, 3, 4), None), ((3, 5), ()), ((), None),
]
REDUCE = [(st.sum, np.sum), (st.mean, np.mean), (st.max, np.max), (st.min, np.min)]


def _run(fn, *args):
    return st.compile(fn, target="interp")(*args)


def _count(shape, axis) -> int:
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def _close(out, ref64, dtype, n):
    """Compare with a float64 reference rounded to dtype; reductions scale atol by sqrt(n)."""
    d = dtypes.lookup(dtype)
    rtol, atol = tolerance(d.name)
    assert_close(out, np.asarray(ref64).astype(d.np), rtol=rtol * 2, atol=atol * 2 * np.sqrt(max(n, 1)))


@pytest.mark.parametrize("st_fn,np_fn", REDUCE, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("shape,axis", CASES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce_f32(st_fn, np_fn, shape, axis, keepdims):
    x = rand(shape, "f32", RNG)
    out = _run(lambda a: st_fn(a, axis=axis, keepdims=keepdims), x)
    _close(out, np_fn(x.astype(np.float64), axis=axis, keepdims=keepdims), "f32", _count(shape, axis))


@pytest.mark.parametrize("st_fn,np_fn", REDUCE, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("dtype", ["f64", "f16", "bf16"])
@pytest.mark.parametrize("shape,axis", [((4, 6), 1), ((3, 2, 5), (0, 2)), ((50,), None)], ids=str)
def test_reduce_other_floats(st_fn, np_fn, dtype, shape, axis):
    x = rand(shape, dtype, RNG)
    out = _run(lambda a: st_fn(a, axis=axis), x)
    # f16/bf16 accumulate in f32 and round once: the f64 result rounded to the dtype, within one rounding.
    _close(out, np_fn(x.astype(np.float64), axis=axis), dtype, _count(shape, axis) if dtype == "f64" else 1)


@pytest.mark.parametrize("shape,axis", CASES, ids=str)
def test_reduce_integers_follow_numpy_dtypes(shape, axis):
    i32 = rand(shape, "i32", RNG, -50, 50)
    i64 = rand(shape, "i64", RNG, -50, 50)
    b = rand(shape, "i1", RNG)
    for x in (i32, i64, b):
        assert_close(_run(lambda a: st.sum(a, axis=axis), x), np.sum(x, axis=axis))  # i32/bool -> i64
        assert_close(_run(lambda a: st.max(a, axis=axis, keepdims=True), x), np.max(x, axis=axis, keepdims=True))
        assert_close(_run(lambda a: st.min(a, axis=axis), x), np.min(x, axis=axis))
        assert_close(_run(lambda a: st.mean(a, axis=axis), x), np.mean(x, axis=axis), rtol=1e-12)  # -> f64


def test_dtype_argument():
    i = rand((3, 4), "i32", RNG, -50, 50)
    x = rand((3, 4), "f32", RNG)
    assert_close(_run(lambda a: st.sum(a, axis=0, dtype=np.int32), i), np.sum(i, axis=0, dtype=np.int32))
    assert_close(_run(lambda a: st.sum(a, 1, "float64"), x), np.sum(x.astype(np.float64), 1), rtol=1e-12)
    assert_close(_run(lambda a: np.mean(a, axis=1, dtype=np.float32), i), np.mean(i, axis=1, dtype=np.float32))


def test_integer_sum_wraps_like_numpy():
    x = np.array([2**62, 2**62, 2**62], np.int64)
    assert_close(_run(st.sum, x), np.sum(x))


@pytest.mark.parametrize("st_fn,np_fn", [(st.argmax, np.argmax), (st.argmin, np.argmin)], ids=["argmax", "argmin"])
@pytest.mark.parametrize("shape,axis", [((7,), None), ((7,), 0), ((3, 5), 1), ((3, 5), -2), ((2, 1, 4), None),
                                        ((2, 3, 4), -1), ((2, 3, 4), 1), ((), None)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", ["f32", "bf16", "i32"])
def test_arg_reduce(st_fn, np_fn, shape, axis, keepdims, dtype):
    x = rand(shape, dtype, RNG, -3, 3)  # i32 in a small range: many ties, the first index must win
    out = _run(lambda a: st_fn(a, axis=axis, keepdims=keepdims), x)
    assert_close(out, np_fn(x.astype(np.float32) if dtype == "bf16" else x, axis=axis, keepdims=keepdims))


def test_arg_reduce_ties_and_nan():
    x = np.array([[1.0, 3.0, 3.0, -2.0, -2.0], [np.nan, 5.0, np.nan, -1.0, -1.0], [0.5, 0.5, 0.5, 0.5, 0.5]],
                 np.float32)
    for st_fn, np_fn in [(st.argmax, np.argmax), (st.argmin, np.argmin)]:
        for axis in (None, 0, 1):
            out = _run(lambda a, f=st_fn, ax=axis: f(a, axis=ax), x)
            assert_close(out, np_fn(x, axis=axis))  # first max/min; the first NaN wins
    assert_close(_run(lambda a: st.argmax(a, axis=1), x), np.array([1, 0, 0]))
    b = np.array([[False, True, True], [False, False, False]])
    assert_close(_run(lambda a: st.argmax(a, axis=1), b), np.array([1, 0]))


def test_max_min_propagate_nan():
    x = np.array([[1.0, np.nan, 3.0], [2.0, -1.0, 0.5]], np.float32)
    assert_close(_run(lambda a: st.max(a, axis=1), x), np.max(x, axis=1))
    assert_close(_run(lambda a: st.min(a, axis=1), x), np.min(x, axis=1))
    assert np.isnan(_run(st.max, x))
    assert_close(_run(lambda a: st.sum(a, axis=0), x), np.sum(x, axis=0))  # NaN only in column 1


def _lse64(x, axis=None, keepdims=False):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


@pytest.mark.parametrize("shape,axis", CASES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_f32(shape, axis, keepdims):
    x = rand(shape, "f32", RNG, -4, 4)
    out = _run(lambda a: st.logsumexp(a, axis=axis, keepdims=keepdims), x)
    assert_close(out, _lse64(x, axis, keepdims).astype(np.float32), rtol=4e-6, atol=2e-6)


@pytest.mark.parametrize("dtype", ["f64", "f16", "bf16"])
def test_logsumexp_other_floats(dtype):
    x = rand((3, 7), dtype, RNG, -4, 4)
    out = _run(lambda a: st.logsumexp(a, axis=-1), x)
    rtol, atol = (1e-12, 1e-12) if dtype == "f64" else tolerance(dtype)
    assert_close(out, _lse64(x, -1).astype(x.dtype), rtol=rtol, atol=atol)


def test_logsumexp_ints_convert_like_exp():
    i = rand((4, 3), "i32", RNG)
    out = _run(lambda a: st.logsumexp(a, axis=0), i)
    assert_close(out, _lse64(i, 0), rtol=1e-12)  # i32 -> f64 as np.exp
    b = rand((5,), "i1", RNG)
    out = _run(st.logsumexp, b)
    assert out.dtype == np.exp(np.bool_(True)).dtype  # bool -> f16, as np.exp
    assert_close(out, _lse64(b).astype(np.float16))


def test_logsumexp_is_stable_and_handles_infinities():
    x = np.array([[1e4, 1e4 + 1, 1e4 - 3], [-1e4, -1e4, -1e4 - 2], [-np.inf, -np.inf, -np.inf],
                  [np.inf, 0.0, -np.inf], [-np.inf, 2.0, -np.inf], [np.nan, 1.0, 2.0]], np.float32)
    out = _run(lambda a: st.logsumexp(a, axis=1), x)
    assert_close(out, _lse64(x, 1).astype(np.float32), rtol=4e-6)
    assert out[2] == -np.inf and out[3] == np.inf and out[4] == 2.0 and np.isnan(out[5])
    assert np.all(np.isfinite(out[:2]))


def test_empty_axes_sum_mean():
    x = np.zeros((0, 3), np.float32)
    assert_close(_run(lambda a: st.sum(a, axis=0), x), np.zeros(3, np.float32))
    assert np.all(np.isnan(_run(lambda a: st.mean(a, axis=0), x)))
    assert_close(_run(lambda a: st.max(a, axis=1), x), np.zeros((0,), np.float32))  # nothing reduced is empty
    assert_close(_run(lambda a: st.logsumexp(a, axis=0), x), np.full(3, -np.inf, np.float32))


def test_methods_numpy_dispatch_and_aliases():
    x = rand((3, 4), "f32", RNG)
    out = _run(lambda a: (a.sum(axis=0), a.mean(), a.max(axis=1, keepdims=True), a.min(), a.argmax(axis=1),
                          a.argmin(), np.sum(a, axis=1), np.max(a), np.mean(a, axis=0), st.amax(a, 0),
                          st.amin(a, axis=-1)), x)
    refs = (x.sum(axis=0), x.mean(), x.max(axis=1, keepdims=True), x.min(), x.argmax(axis=1), x.argmin(),
            np.sum(x, axis=1), np.max(x), np.mean(x, axis=0), np.amax(x, 0), np.amin(x, axis=-1))
    for o, r in zip(out, refs, strict=True):
        assert_close(o, r, rtol=1e-5, atol=1e-6)


def test_eager_calls_match_numpy():
    x = rand((2, 3), "f32", RNG)
    assert_close(st.sum(x, axis=1), np.sum(x, axis=1), rtol=1e-5, atol=1e-6)
    assert_close(st.argmax(x), np.argmax(x))
    assert_close(st.mean(np.arange(5, dtype=np.int32)), np.mean(np.arange(5, dtype=np.int32)))
    assert_close(st.logsumexp(x, axis=(0, 1)), _lse64(x).astype(np.float32), rtol=4e-6)


# --- errors name the user's line -----------------------------------------------------------------
def _raises(fn, args, line, message):
    with pytest.raises(st.TraceError) as info:
        _run(fn, *args)
    text = str(info.value)
    assert f"test_ops_reduction.py:{line}:" in text, text
    assert message in text, text


def test_axis_out_of_range_names_the_line():
    def f(a):
        return st.sum(a, axis=2)

    _raises(f, (rand((3, 4), "f32", RNG),), f.__code__.co_firstlineno + 1,
            "sum: axis 2 is out of range for a tensor of rank 2")


def test_bad_axes_are_reported():
    x = rand((3, 4), "f32", RNG)

    def repeated(a):
        return st.max(a, axis=(1, -1))

    _raises(repeated, (x,), repeated.__code__.co_firstlineno + 1, "max: repeated axis in (1, -1)")

    def tuple_argmax(a):
        return st.argmax(a, axis=(0, 1))

    _raises(tuple_argmax, (x,), tuple_argmax.__code__.co_firstlineno + 1, "argmax: axis must be a single int")

    def float_axis(a):
        return st.mean(a, axis=1.0)

    _raises(float_axis, (x,), float_axis.__code__.co_firstlineno + 1, "mean: axis must be an int")

    def neg_argmin(a):
        return st.argmin(a, axis=-3)

    _raises(neg_argmin, (x,), neg_argmin.__code__.co_firstlineno + 1, "argmin: axis -3 is out of range")

    def bad_keepdims(a):
        return st.sum(a, axis=0, keepdims="yes")

    _raises(bad_keepdims, (x,), bad_keepdims.__code__.co_firstlineno + 1, "keepdims must be True or False")

    def int_mean(a):
        return st.mean(a, dtype=np.int32)

    _raises(int_mean, (x,), int_mean.__code__.co_firstlineno + 1, "mean: dtype must be a floating-point type, got i32")


def test_empty_axis_max_is_an_error():
    x = np.zeros((0, 3), np.float32)

    def f(a):
        return st.max(a, axis=0)

    _raises(f, (x,), f.__code__.co_firstlineno + 1,
            "spiral.max cannot reduce an empty axis: axis 0 of shape (0, 3) has size 0")

    def g(a):
        return st.argmin(a)

    _raises(g, (x,), g.__code__.co_firstlineno + 1, "spiral.argmin cannot reduce an empty axis")
