"""matmul (and `@`) traced and run on the interpreter against a float64 numpy reference."""

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.ir import dtypes, text
from spiraltorch.testing import assert_close, rand

RNG = np.random.default_rng(99)

SHAPES = [
    ((3, 4), (4, 5)), ((1, 1), (1, 1)), ((1, 4), (4, 1)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (2, 4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)),
    ((4,), (2, 4, 5)), ((2, 3, 4), (4,)), ((1,), (1, 3)), ((0, 4), (4, 3)), ((3, 0), (0, 2)), ((6, 16), (16, 7)),
]


def _run(fn, *args):
    return st.compile(fn, target="interp")(*args)


def _reference(a, b):
    """float64 product rounded once to numpy's result dtype."""
    out_dt = np.result_type(a, b)
    return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(out_dt)


def _tolerance(dtype, k):
    rtol, atol = {"f64": (1e-12, 1e-12), "f32": (1e-5, 1e-6), "f16": (2e-3, 1e-3), "bf16": (1.6e-2, 1e-2)}[dtype]
    return rtol, atol * max(k, 1) * 2  # cancellation: the error scales with sum |a_ik b_kj| ~ k


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16"])
def test_matmul_floats(shapes, dtype):
    a = rand(shapes[0], dtype, RNG)
    b = rand(shapes[1], dtype, RNG)
    rtol, atol = _tolerance(dtype, shapes[0][-1])
    expect = _reference(a, b)
    assert_close(_run(lambda x, y: x @ y, a, b), expect, rtol=rtol, atol=atol)
    assert_close(_run(st.matmul, a, b), expect, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shapes", SHAPES[:12], ids=str)
@pytest.mark.parametrize("dtype", ["i32", "i64"])
def test_matmul_integers_exact(shapes, dtype):
    a = rand(shapes[0], dtype, RNG)
    b = rand(shapes[1], dtype, RNG)
    assert_close(_run(st.matmul, a, b), np.matmul(a, b))


def test_matmul_integer_overflow_wraps_like_numpy():
    a = np.full((2, 3), 2**20, np.int32)
    b = np.full((3, 2), 2**12, np.int32)
    assert_close(_run(st.matmul, a, b), np.matmul(a, b))


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((4,), (4,)), ((2, 3, 4), (4,))], ids=str)
def test_matmul_bool_is_or_of_ands(shapes):
    a = rand(shapes[0], "i1", RNG)
    b = rand(shapes[1], "i1", RNG)
    assert_close(_run(st.matmul, a, b), np.matmul(a, b))


@pytest.mark.parametrize("da,db", [("f32", "f16"), ("f16", "f32"), ("f32", "i32"), ("i1", "f32"), ("i32", "i64"),
                                   ("bf16", "f32"), ("f32", "f64"), ("i64", "f16")])
def test_matmul_mixed_dtypes_promote_like_numpy(da, db):
    a = rand((3, 4), da, RNG)
    b = rand((4, 2), db, RNG)
    out = _run(st.matmul, a, b)
    expect = _reference(a, b)
    assert out.dtype == np.result_type(a, b)
    name = dtypes.lookup(out.dtype).name
    rtol, atol = _tolerance(name, 4) if dtypes.lookup(out.dtype).kind == "f" else (0, 0)
    assert_close(out, expect, rtol=rtol, atol=atol)


def test_matmul_with_constants_and_transposes():
    x = rand((3, 4), "f32", RNG)
    w = rand((5, 4), "f32", RNG)
    expect = _reference(x, w.T) + np.float32(1)
    assert_close(_run(lambda a: a @ w.T + 1, x), expect, rtol=1e-5, atol=1e-5)   # captured numpy weight
    assert_close(_run(lambda a, b: a @ b.T + 1, x, w), expect, rtol=1e-5, atol=1e-5)
    assert_close(_run(lambda a: w @ a[0], x), _reference(w, x[0]), rtol=1e-5, atol=1e-5)
    assert_close(_run(lambda a: np.matmul(a, w.T), x), _reference(x, w.T), rtol=1e-5, atol=1e-5)  # ufunc dispatch
    assert_close(_run(lambda a: [1.0, 2.0, 3.0] @ a, x), _reference(np.array([1.0, 2, 3]), x), rtol=1e-12, atol=1e-12)


def test_matmul_ir_for_vectors():
    ir = st.compile(st.matmul, target="interp").lower(np.ones(4, np.float32), np.ones((2, 4, 3), np.float32)).as_text()
    assert "spiral.reshape %a : tensor<4xf32> -> tensor<1x4xf32>" in ir
    assert "spiral.matmul" in ir and "tensor<1x4xf32>, tensor<2x4x3xf32> -> tensor<2x1x3xf32>" in ir
    assert "tensor<2x1x3xf32> -> tensor<2x3xf32>" in ir


def test_matmul_ir_round_trips():
    fn = st.compile(lambda a, b: a @ b, target="interp")
    module = fn.lower(np.ones((2, 3, 4), np.float16), np.ones((4, 5), np.float16)).module
    for generic in (False, True):
        assert text.parse(text.to_text(module, generic=generic)).is_structurally_equivalent(module)


def test_matmul_eager():
    a = rand((3, 4), "f32", RNG)
    b = rand((4,), "f32", RNG)
    assert_close(st.matmul(a, b), _reference(a, b), rtol=1e-5, atol=1e-5)


# --- errors -----------------------------------------------------------------------------------------
def check_error(fn, args, *fragments):
    with pytest.raises(st.TraceError) as info:
        _run(fn, *args)
    msg = str(info.value)
    assert f"test_ops_linalg.py:{fn.__code__.co_firstlineno + 1}:" in msg, msg
    for frag in fragments:
        assert frag in msg, msg


def test_errors():
    m = np.ones((3, 4), np.float32)

    def f(x):
        return x @ 2.0
    check_error(f, (m,), "matmul does not accept 0-d operands")

    def g(x):
        return st.matmul(x[0, 0], x)
    check_error(g, (m,), "matmul does not accept 0-d operands")

    def h(x):
        return x @ x
    check_error(h, (m,), "matmul: shapes (3, 4) and (3, 4) are not aligned: 4 (last axis of the first) != 3")

    def k(x):
        return x[0] @ x[:, 0]
    check_error(k, (m,), "matmul: shapes (4,) and (3,) are not aligned")

    def n(x):
        return st.broadcast_to(x, (2, 3, 4)) @ np.ones((3, 4, 5), np.float32)
    check_error(n, (m,), "batch axes of (2, 3, 4) and (3, 4, 5) do not broadcast")
