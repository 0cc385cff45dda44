"""Every nn op traced and run on the interpreter against float64 numpy references."""

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.testing import assert_close, rand, tolerance

RNG = np.random.default_rng(777)


def _run(fn, *args):
    return st.compile(fn, target="interp")(*args)


# --- float64 references ----------------------------------------------------------------------------
def _log_softmax64(x, axis):
    x = np.asarray(x, np.float64)
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _softmax64(x, axis):
    return np.exp(_log_softmax64(x, axis))


def _pick(v, labels):
    return np.take_along_axis(v, np.asarray(labels, np.int64)[..., None], axis=-1)[..., 0]


def _reduce(losses, reduction):
    return {"none": losses, "sum": np.sum(losses), "mean": np.mean(losses)}[reduction]


def _cross_entropy64(logits, labels, reduction):
    return _reduce(-_pick(_log_softmax64(logits, -1), labels), reduction)


def _nll64(log_probs, labels, reduction):
    return _reduce(-_pick(np.asarray(log_probs, np.float64), labels), reduction)


def _labels(shape, classes, dtype="i64"):
    return RNG.integers(0, classes, size=shape).astype(np.dtype({"i64": np.int64, "i32": np.int32}[dtype]))


def _tol(dtype):
    return {"f32": (1e-5, 4e-6), "f64": (1e-12, 1e-12)}.get(dtype) or tolerance(dtype)


# --- softmax / log_softmax -------------------------------------------------------------------------
SHAPES_AXES = [((7,), -1), ((3, 5), -1), ((3, 5), 0), ((2, 1, 4), 1), ((2, 3, 4), -2), ((1, 6), 1), ((4, 1), -1)]


@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=str)
@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16"])
def test_softmax(shape, axis, dtype):
    x = rand(shape, dtype, RNG, -4, 4)
    rtol, atol = _tol(dtype)
    assert_close(_run(lambda a: st.softmax(a, axis=axis), x), _softmax64(x, axis).astype(x.dtype), rtol, atol)


@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=str)
@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16"])
def test_log_softmax(shape, axis, dtype):
    x = rand(shape, dtype, RNG, -4, 4)
    rtol, atol = _tol(dtype)
    assert_close(_run(lambda a: st.log_softmax(a, axis=axis), x), _log_softmax64(x, axis).astype(x.dtype),
                 rtol, atol)


def test_softmax_default_axis_is_last_and_ints_convert_like_exp():
    x = rand((3, 4), "f32", RNG)
    assert_close(_run(st.softmax, x), _softmax64(x, -1).astype(np.float32), *_tol("f32"))
    i = rand((2, 5), "i32", RNG)
    assert_close(_run(st.log_softmax, i), _log_softmax64(i, -1), *_tol("f64"))  # i32 -> f64 as np.exp


def test_softmax_family_is_stable_for_large_logits():
    x = np.array([[1e4, 1e4 + 1, 1e4 - 2, 0.0], [-1e4, -1e4 - 1, -3e4, -1e4 + 0.5],
                  [3e38, 3e38, 1e38, 0.0]], np.float32)
    sm = _run(st.softmax, x)
    lsm = _run(st.log_softmax, x)
    assert np.all(np.isfinite(sm)) and np.all(np.isfinite(lsm))
    ref = _log_softmax64(x, -1)
    assert_close(sm, np.exp(ref).astype(np.float32), *_tol("f32"))
    assert_close(lsm, ref.astype(np.float32), *_tol("f32"))
    labels = np.array([1, 3, 0], np.int64)
    assert_close(_run(lambda a, lab: st.cross_entropy(a, lab, reduction="none"), x, labels),
                 _cross_entropy64(x, labels, "none").astype(np.float32), *_tol("f32"))


def test_softmax_infinities_and_nan():
    x = np.array([[-np.inf, 1.0, 2.0], [-np.inf, -np.inf, -np.inf], [np.inf, 1.0, 2.0], [np.nan, 1.0, 2.0]],
                 np.float32)
    sm = _run(st.softmax, x)
    lsm = _run(st.log_softmax, x)
    assert_close(sm[0], _softmax64(x[0], -1).astype(np.float32), *_tol("f32"))
    assert sm[0, 0] == 0 and lsm[0, 0] == -np.inf
    assert np.all(np.isnan(sm[1:])) and np.all(np.isnan(lsm[1:]))  # all -inf, +inf or NaN rows: NaN


# --- cross_entropy / nll_loss ----------------------------------------------------------------------
LOSS_SHAPES = [(4, 10), (1, 3), (5, 1), (7,), (2, 3, 6)]


@pytest.mark.parametrize("shape", LOSS_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_dtype", ["i64", "i32"])
def test_cross_entropy(shape, reduction, label_dtype):
    logits = rand(shape, "f32", RNG, -4, 4)
    labels = _labels(shape[:-1], shape[-1], label_dtype)
    out = _run(lambda a, b: st.cross_entropy(a, b, reduction=reduction), logits, labels)
    n = int(np.prod(shape[:-1]))
    assert_close(out, _cross_entropy64(logits, labels, reduction).astype(np.float32), rtol=1e-5,
                 atol=4e-6 * np.sqrt(n))


@pytest.mark.parametrize("shape", LOSS_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(shape, reduction):
    log_probs = rand(shape, "f32", RNG, -5, -0.01)
    labels = _labels(shape[:-1], shape[-1], "i32")
    out = _run(lambda a, b: st.nll_loss(a, b, reduction=reduction), log_probs, labels)
    assert_close(out, _nll64(log_probs, labels, reduction).astype(np.float32), rtol=4e-6, atol=2e-6)


@pytest.mark.parametrize("dtype", ["f64", "f16", "bf16"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_losses_other_floats(dtype, reduction):
    logits = rand((6, 5), dtype, RNG, -3, 3)
    labels = _labels((6,), 5)
    rtol, atol = _tol(dtype)
    out = _run(lambda a, b: st.cross_entropy(a, b, reduction=reduction), logits, labels)
    assert_close(out, _cross_entropy64(logits, labels, reduction).astype(logits.dtype), rtol, atol)
    out = _run(lambda a, b: st.nll_loss(a, b, reduction=reduction), logits, labels)
    assert_close(out, _nll64(logits, labels, reduction).astype(logits.dtype), rtol, atol)


def test_losses_take_int_scores_and_list_labels():
    logits = rand((3, 4), "i32", RNG)
    out = _run(lambda a: st.cross_entropy(a, [0, 3, 1]), logits)
    assert out.dtype == np.float64  # int logits convert like np.exp
    assert_close(out, _cross_entropy64(logits, [0, 3, 1], "mean"), *_tol("f64"))


def test_out_of_range_labels_give_nan():
    logits = rand((4, 3), "f32", RNG)
    labels = np.array([0, 3, -1, 2], np.int64)
    none = _run(lambda a, b: st.cross_entropy(a, b, reduction="none"), logits, labels)
    assert np.isnan(none[1]) and np.isnan(none[2]) and np.all(np.isfinite(none[[0, 3]]))
    ok = [0, 3]
    assert_close(none[ok], _cross_entropy64(logits[ok], labels[ok], "none").astype(np.float32), *_tol("f32"))
    assert np.isnan(_run(lambda a, b: st.cross_entropy(a, b), logits, labels))
    nll = _run(lambda a, b: st.nll_loss(a, b, reduction="none"), logits, labels)
    assert np.isnan(nll[1]) and np.isnan(nll[2]) and nll[0] == -logits[0, 0]


def test_losses_over_no_labels():
    logits = np.zeros((0, 4), np.float32)
    labels = np.zeros((0,), np.int64)
    assert np.isnan(_run(lambda a, b: st.cross_entropy(a, b), logits, labels))  # mean of nothing
    assert _run(lambda a, b: st.nll_loss(a, b, reduction="sum"), logits, labels) == 0
    assert _run(lambda a, b: st.cross_entropy(a, b, reduction="none"), logits, labels).shape == (0,)


# --- one_hot ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5,), (2, 3), ()], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_, st.bfloat16, "float64"])
def test_one_hot(shape, dtype):
    labels = RNG.integers(-2, 6, size=shape).astype(np.int32)  # includes out-of-range labels -> zero rows
    out = _run(lambda a: st.one_hot(a, 4, dtype=dtype), labels)
    want = (labels[..., None] == np.arange(4)).astype(np.dtype(dtype))
    assert_close(out, want)


def test_one_hot_default_dtype_and_eager():
    labels = np.array([[0, 2], [1, 7]], np.int64)
    want = (labels[..., None] == np.arange(3)).astype(np.float32)
    assert_close(_run(lambda a: st.one_hot(a, 3), labels), want)
    assert_close(st.one_hot(labels, 3), want)


def test_eager_calls_match_references():
    x = rand((2, 5), "f32", RNG)
    labels = np.array([4, 1])
    assert_close(st.softmax(x), _softmax64(x, -1).astype(np.float32), *_tol("f32"))
    assert_close(st.log_softmax(x, axis=0), _log_softmax64(x, 0).astype(np.float32), *_tol("f32"))
    assert_close(st.cross_entropy(x, labels, reduction="sum"),
                 _cross_entropy64(x, labels, "sum").astype(np.float32), *_tol("f32"))


# --- errors name the user's line -----------------------------------------------------------------
def _raises(fn, args, line, message):
    with pytest.raises(st.TraceError) as info:
        _run(fn, *args)
    text = str(info.value)
    assert f"test_ops_nn.py:{line}:" in text, text
    assert message in text, text


def test_label_errors():
    logits = rand((4, 3), "f32", RNG)

    def float_labels(a, b):
        return st.cross_entropy(a, b)

    _raises(float_labels, (logits, rand((4,), "f32", RNG)), float_labels.__code__.co_firstlineno + 1,
            "cross_entropy: labels must be integer class indices (int32 or int64), got f32")

    def bad_shape(a, b):
        return st.nll_loss(a, b)

    _raises(bad_shape, (logits, _labels((3,), 3)), bad_shape.__code__.co_firstlineno + 1,
            "spiral.nll_loss labels shape (3,) must equal the log_probs shape without its last (class) axis")

    def bool_labels(a):
        return st.one_hot(a > 0, 3)

    _raises(bool_labels, (logits,), bool_labels.__code__.co_firstlineno + 1,
            "one_hot: labels must be integer class indices (int32 or int64), got i1")


def test_argument_errors():
    logits = rand((4, 3), "f32", RNG)
    labels = _labels((4,), 3)

    def bad_reduction(a, b):
        return st.cross_entropy(a, b, reduction="avg")

    _raises(bad_reduction, (logits, labels), bad_reduction.__code__.co_firstlineno + 1,
            "cross_entropy: reduction must be \"mean\", \"sum\" or \"none\", got 'avg'")

    def no_classes(b):
        return st.one_hot(b, 0)

    _raises(no_classes, (labels,), no_classes.__code__.co_firstlineno + 1, "one_hot: num_classes must be >= 1, got 0")

    def axis_out_of_range(a):
        return st.softmax(a, axis=2)

    _raises(axis_out_of_range, (logits,), axis_out_of_range.__code__.co_firstlineno + 1,
            "softmax: axis 2 is out of range for a tensor of rank 2")

    def tuple_axis(a):
        return st.log_softmax(a, axis=(0, 1))

    _raises(tuple_axis, (logits,), tuple_axis.__code__.co_firstlineno + 1,
            "log_softmax: axis must be a single int, got (0, 1)")

    def rank0(a):
        return st.cross_entropy(st.sum(a), 1)

    _raises(rank0, (logits,), rank0.__code__.co_firstlineno + 1,
            "spiral.cross_entropy logits must have rank >= 1 (classes on the last axis), got a 0-d tensor")
