"""Every elementwise op traced and run on the interpreter against numpy on random inputs."""

import math

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.testing import assert_close, rand

RNG = np.random.default_rng(1234)
SHAPES = [((5,), (5,)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3)), ((), (4, 2)), ((2, 3), ())]
erf64 = np.vectorize(math.erf)

BINARY = [
    (st.add, np.add), (st.subtract, np.subtract), (st.multiply, np.multiply), (st.divide, np.divide),
    (st.maximum, np.maximum), (st.minimum, np.minimum), (st.floor_divide, np.floor_divide), (st.mod, np.mod),
]
COMPARE = [
    (st.equal, np.equal), (st.not_equal, np.not_equal), (st.less, np.less), (st.less_equal, np.less_equal),
    (st.greater, np.greater), (st.greater_equal, np.greater_equal),
]


def _sig(x):
    return 1 / (1 + np.exp(-x))


UNARY = [
    (st.negative, np.negative, (-3, 3)), (st.abs, np.abs, (-3, 3)), (st.exp, np.exp, (-5, 5)),
    (st.log, np.log, (0.01, 9)), (st.log1p, np.log1p, (-0.9, 9)), (st.tanh, np.tanh, (-4, 4)),
    (st.sigmoid, _sig, (-8, 8)), (st.sqrt, np.sqrt, (0.01, 9)), (st.rsqrt, lambda x: 1 / np.sqrt(x), (0.01, 9)),
    (st.sin, np.sin, (-6, 6)), (st.cos, np.cos, (-6, 6)), (st.erf, erf64, (-3, 3)),
    (st.relu, lambda x: np.maximum(x, 0), (-3, 3)),
    (st.gelu, lambda x: 0.5 * x * (1 + erf64(x / np.sqrt(2))), (-4, 4)),
]


def _run(fn, *args):
    return st.compile(fn, target="interp")(*args)


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("st_fn,np_fn", BINARY, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("dtype", ["f32", "f64", "i32"])
def test_binary(st_fn, np_fn, shapes, dtype):
    if dtype == "i32" and np_fn is np.divide:
        pytest.skip("covered by test_integer_true_division")
    a = rand(shapes[0], dtype, RNG)
    b = rand(shapes[1], dtype, RNG, low=0.5, high=3)
    if dtype == "i32":
        b = np.where(b == 0, 3, b).astype(b.dtype)  # numpy's int division by zero is undefined too
    assert_close(_run(lambda x, y: st_fn(x, y), a, b), np_fn(a, b).astype(np.result_type(a, b)))


@pytest.mark.parametrize("shapes", SHAPES[:3], ids=str)
@pytest.mark.parametrize("st_fn,np_fn", COMPARE, ids=lambda f: getattr(f, "__name__", ""))
def test_compare(st_fn, np_fn, shapes):
    a = rand(shapes[0], "i32", RNG)  # small ints so that equality happens
    b = rand(shapes[1], "i32", RNG)
    assert_close(_run(st_fn, a, b), np_fn(a, b))
    af = a.astype(np.float32)
    assert_close(_run(st_fn, af, b), np_fn(af, b))  # mixed dtypes promote like numpy


@pytest.mark.parametrize("st_fn,np_fn,rng", UNARY, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 1, 3), ()], ids=str)
def test_unary_f32(st_fn, np_fn, rng, shape):
    x = rand(shape, "f32", RNG, *rng)
    expect = np_fn(x.astype(np.float64)).astype(np.float32)
    assert_close(_run(st_fn, x), expect, rtol=4e-6, atol=2e-6)


@pytest.mark.parametrize("st_fn,np_fn,rng", UNARY, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("dtype", ["f16", "bf16", "f64"])
def test_unary_other_floats(st_fn, np_fn, rng, dtype):
    x = rand((4, 6), dtype, RNG, *rng)
    expect = np_fn(x.astype(np.float64)).astype(x.dtype)
    assert_close(_run(st_fn, x), expect, rtol=1e-12 if dtype == "f64" else None, atol=1e-12 if dtype == "f64" else None)


def test_gelu_tanh():
    x = rand((3, 8), "f32", RNG, -4, 4)
    c = np.sqrt(2 / np.pi)
    xd = x.astype(np.float64)
    expect = (0.5 * xd * (1 + np.tanh(c * (xd + 0.044715 * xd**3)))).astype(np.float32)
    assert_close(_run(lambda x: st.gelu(x, approximate="tanh"), x), expect, rtol=4e-6, atol=2e-6)


def test_power_float_and_int():
    a = rand((3, 4), "f32", RNG, 0.1, 3)
    b = rand((4,), "f32", RNG, -2, 2)
    assert_close(_run(lambda x, y: x**y, a, b), (a.astype(np.float64) ** b).astype(np.float32), rtol=1e-5)
    i = rand((6,), "i32", RNG, -3, 3)
    assert_close(_run(lambda x: x**3, i), i**3)
    neg = np.array([2, -1, 1, 5, -1], np.int32)
    assert_close(_run(lambda x, e: x**e, neg, np.array([-1, -3, -2, -1, -2], np.int32)),
                 np.array([0, -1, 1, 0, 1], np.int32))


def test_integer_true_division():
    a = rand((5,), "i32", RNG)
    b = np.array([1, 2, 3, -4, 7], np.int32)
    out = _run(lambda x, y: x / y, a, b)
    assert_close(out, a / b)  # float64, like numpy


def test_logical_ops():
    p = rand((3, 4), "i1", RNG)
    q = rand((4,), "i1", RNG)
    assert_close(_run(st.logical_and, p, q), np.logical_and(p, q))
    assert_close(_run(st.logical_or, p, q), np.logical_or(p, q))
    assert_close(_run(st.logical_xor, p, q), np.logical_xor(p, q))
    assert_close(_run(st.logical_not, p), np.logical_not(p))
    assert_close(_run(lambda a, b: (a & b) | ~a ^ b, p, q), (p & q) | ~p ^ q)
    x = rand((5,), "f32", RNG)
    assert_close(_run(lambda a: st.logical_and(a > 0, a), x), np.logical_and(x > 0, x))


def test_where_broadcast_and_promotion():
    c = rand((3, 1), "i1", RNG)
    a = rand((3, 4), "f32", RNG)
    b = rand((4,), "f64", RNG)
    assert_close(_run(st.where, c, a, b), np.where(c, a, b))
    assert_close(_run(lambda c, a: st.where(c, a, 0.5), c, a), np.where(c, a, np.float32(0.5)))


@pytest.mark.parametrize("src,dst", [("f32", "i32"), ("f32", "f16"), ("f32", "bf16"), ("i32", "f32"),
                                     ("f64", "f32"), ("i1", "f32"), ("f32", "i1"), ("i64", "i32")])
def test_astype(src, dst):
    from spiraltorch.ir import dtypes

    x = rand((4, 5), src, RNG, -50, 50)
    assert_close(_run(lambda x: x.astype(dst), x), x.astype(dtypes.lookup(dst).np))


def test_numpy_promotion_rules():
    x32 = rand((4,), "f32", RNG)
    i32 = rand((4,), "i32", RNG)
    f16 = rand((4,), "f16", RNG)
    cases = [
        (lambda a: a * 2.0, (x32,), lambda a: a * 2.0),
        (lambda a: a + 1, (i32,), lambda a: a + 1),
        (lambda a: a * 2.5, (i32,), lambda a: a * 2.5),
        (lambda a, b: a + b, (x32, i32), lambda a, b: a + b),
        (lambda a, b: a * b, (f16, x32), lambda a, b: a * b),
        (lambda a: st.exp(a), (i32,), lambda a: np.exp(a)),
        (lambda a: a + np.float64(1.5), (x32,), lambda a: a + np.float64(1.5)),
    ]
    for fn, args, ref in cases:
        out = _run(fn, *args)
        assert_close(out, ref(*args), rtol=1e-5, atol=1e-5)


def test_numpy_ufuncs_dispatch_to_ops():
    x = rand((3, 3), "f32", RNG)
    assert_close(_run(lambda a: np.exp(a) + np.maximum(a, 0.0), x), np.exp(x) + np.maximum(x, np.float32(0)),
                 rtol=4e-6)
    assert_close(_run(lambda a: np.ones(3, np.float32) + a, x), np.ones(3, np.float32) + x)


def test_eager_calls_match_numpy():
    x = rand((2, 3), "f32", RNG)
    assert_close(st.exp(x), np.exp(x), rtol=4e-6)
    assert_close(st.add(x, 1), x + 1)
    assert_close(st.where(x > 0, x, 0.0), np.where(x > 0, x, np.float32(0)))
