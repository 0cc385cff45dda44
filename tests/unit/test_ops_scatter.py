"""spiral.scatter_add (st.scatter_add_along_axis) and spiral.slice_scatter (st.slice_scatter), the transposes of
take_along_axis and slicing: traced and run on the interpreter against plain-Python/numpy references, their
adjoint identities, the IR verifier (builders and parsed IR) and the frontend's errors."""

import itertools

import ml_dtypes
import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.interp.interpreter import run_module
from spiraltorch.ir import dtypes, text
from spiraltorch.ir.ops import shape as sh
from spiraltorch.ir.shapes import ShapeError
from spiraltorch.testing import assert_close, rand

RNG = np.random.default_rng(777)
NP = {"f64": np.float64, "f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
      "i64": np.int64, "i32": np.int32}


def _run(fn, *args):
    return st.compile(fn, target="interp")(*args)


def check_error(fn, args, *fragments):
    """fn's first body line must raise a TraceError naming that line and containing every fragment."""
    with pytest.raises(st.TraceError) as info:
        _run(fn, *args)
    msg = str(info.value)
    assert f"test_ops_scatter.py:{fn.__code__.co_firstlineno + 1}:" in msg, msg
    for frag in fragments:
        assert frag in msg, msg


def ref_scatter_add(idx, upd, axis, n):
    """Element by element: out[p with p[axis] = norm(idx[p])] += upd[p], accumulated in float64 (or int64)."""
    axis %= upd.ndim
    shape = list(upd.shape)
    shape[axis] = n
    acc = np.zeros(shape, np.float64 if upd.dtype.kind == "f" or upd.dtype == ml_dtypes.bfloat16 else np.int64)
    for p in itertools.product(*map(range, upd.shape)):
        i = int(idx[p])
        i = i + n if i < 0 else i
        q = list(p)
        q[axis] = min(max(i, 0), n - 1)
        acc[tuple(q)] += upd[p].astype(acc.dtype)
    return acc.astype(upd.dtype)


def ref_slice_scatter(base, src, start, stride):
    out = base.copy()
    for j in itertools.product(*map(range, src.shape)):
        out[tuple(b + k * s for b, k, s in zip(start, j, stride, strict=True))] = src[j]
    return out


def tol(dtype, terms=1):
    """Tolerance of a sum of `terms` values of about 2 rounded once (half types) or in order (f32/f64)."""
    r, a = {"f64": (1e-12, 1e-12), "f32": (2e-6, 2e-6), "f16": (2e-3, 2e-3), "bf16": (1.6e-2, 1.6e-2)}.get(
        dtype, (0, 0))
    return {"rtol": r, "atol": a * np.sqrt(terms) * 2}


def indices(shape, n, dtype="i64", spread=0):
    """Random indices in [-n - spread, n + spread): negative, in range and (spread > 0) out of range."""
    return RNG.integers(-n - spread, n + spread, size=shape).astype(NP[dtype])


# --- scatter_add on the interpreter ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16", "i32", "i64"])
@pytest.mark.parametrize("idx_dtype", ["i32", "i64"])
@pytest.mark.parametrize("shape,axis,n", [((4, 3), 1, 10), ((4, 3), 0, 2), ((4, 3), -1, 5), ((4, 3), -2, 1),
                                          ((6,), 0, 4), ((2, 3, 5), 1, 7), ((2, 3, 5), -3, 3), ((1, 1, 4), 2, 1),
                                          ((3, 1, 2), 1, 6)], ids=str)
def test_scatter_add(shape, axis, n, dtype, idx_dtype):
    i = indices(shape, n, idx_dtype, spread=2)
    u = rand(shape, dtype, RNG)
    got = _run(lambda i, u: st.scatter_add_along_axis(i, u, axis, n), i, u)
    assert_close(got, ref_scatter_add(i, u, axis, n), **tol(dtype, shape[axis]))


def test_scatter_add_duplicates_sum_and_half_types_round_once():
    i = np.array([[0, 0, 0, 2], [3, 3, -1, -4]])
    u = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]], np.float32)
    want = np.array([[6.0, 0.0, 4.0, 0.0], [8.0, 0.0, 0.0, 18.0]], np.float32)
    assert_close(_run(lambda i, u: st.scatter_add_along_axis(i, u, 1, 4), i, u), want)
    # 2048 + 1 + 1 in f16: added one at a time in f16 it stays 2048 (ulp 2); in f32 then rounded once: 2050
    h = np.array([[2048.0, 1.0, 1.0]], np.float16)
    out = _run(lambda i, u: st.scatter_add_along_axis(i, u, 1, 1), np.zeros((1, 3), np.int32), h)
    assert out.dtype == np.float16 and out[0, 0] == 2050.0
    # ints wrap like numpy's add
    big = np.array([2**31 - 1, 1], np.int32)
    assert _run(lambda i, u: st.scatter_add_along_axis(i, u, 0, 1), np.zeros(2, np.int64), big)[0] == -2**31


def test_scatter_add_out_of_range_and_negative_indices_follow_take_along_axis():
    n = 5
    i = np.array([[-100, -6, -5, -1, 0, 4, 5, 100]])
    u = np.arange(1, 9, dtype=np.float64)[None]
    want = np.zeros((1, n))
    for k, v in zip(np.clip(np.where(i[0] < 0, i[0] + n, i[0]), 0, n - 1), u[0], strict=True):
        want[0, k] += v
    assert_close(_run(lambda i, u: st.scatter_add_along_axis(i, u, 1, n), i, u), want)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_scatter_add_is_the_adjoint_of_take_along_axis(axis):
    """sum(take_along_axis(x, i, axis) * u) == sum(x * scatter_add(i, u, axis, n)) for random x, i, u."""
    x = rand((3, 4, 5), "f64", RNG)
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = 7
    i = indices(shape, n, spread=3)
    u = rand(shape, "f64", RNG)

    def f(x, i, u):
        return ((st.take_along_axis(x, i, axis) * u).sum(), (x * st.scatter_add_along_axis(i, u, axis, n)).sum())

    lhs, rhs = _run(f, x, i, u)
    assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_scatter_add_frontend_conveniences():
    i = np.array([[1, 0], [2, 2]], np.int32)
    # updates broadcast to the indices' shape (like numpy.put_along_axis's values): scalars, rows, columns
    assert_close(_run(lambda i: st.scatter_add_along_axis(i, 1.5, 1, 3), i),
                 ref_scatter_add(i, np.full((2, 2), 1.5), 1, 3))
    assert_close(_run(lambda i: st.scatter_add_along_axis(i, 2, 1, 3), i), ref_scatter_add(i, np.full((2, 2), 2), 1, 3))
    col = np.array([[1.0], [10.0]], np.float32)
    assert_close(_run(lambda i, c: st.scatter_add_along_axis(i, c, 1, 3), i, col),
                 ref_scatter_add(i, np.broadcast_to(col, (2, 2)), 1, 3))
    assert_close(_run(lambda i: st.scatter_add_along_axis(i, np.float16(0.5), 0, 4), i),
                 ref_scatter_add(i, np.full((2, 2), 0.5, np.float16), 0, 4))
    # a strided (transposed) traced index and updates
    u = rand((2, 3), "f32", RNG)
    j = indices((2, 3), 4)
    assert_close(_run(lambda j, u: st.scatter_add_along_axis(j.T, u.T, 1, 4), j, u),
                 ref_scatter_add(j.T, u.T, 1, 4), **tol("f32", 2))
    # empty updates: zeros (length 0 is then allowed too)
    e = np.zeros((2, 0), np.int64)
    assert_close(_run(lambda e: st.scatter_add_along_axis(e, np.zeros((2, 0), np.float32), 1, 3), e),
                 np.zeros((2, 3), np.float32))
    assert_close(_run(lambda e: st.scatter_add_along_axis(e, np.zeros((2, 0), np.float32), 1, 0), e),
                 np.zeros((2, 0), np.float32))


def test_scatter_add_ir():
    i = np.zeros((4, 3), np.int64)
    u = np.ones((4, 3), np.float32)
    ir = st.compile(lambda i, u: st.scatter_add_along_axis(i, u, -1, 10), target="interp").lower(i, u).as_text()
    assert ("spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi64>, tensor<4x3xf32> -> tensor<4x10xf32>"
            in ir), ir


# --- slice_scatter on the interpreter ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["f32", "f64", "f16", "bf16", "i32", "i64", "i1"])
@pytest.mark.parametrize("base_shape,src_shape,start,stride", [
    ((4, 8), (4, 3), (0, 1), (1, 2)),
    ((4, 8), (2, 3), (3, 7), (-1, -3)),
    ((4, 8), (4, 8), (0, 0), (1, 1)),
    ((4, 8), (4, 8), (3, 7), (-1, -1)),
    ((5,), (2,), (4,), (-4,)),
    ((2, 3, 4), (1, 3, 2), (1, 0, 1), (1, 1, 2)),
    ((2, 3, 4), (2, 0, 4), (0, 0, 0), (1, 1, 1)),
    ((3, 1), (1, 1), (2, 0), (1, 1)),
], ids=str)
def test_slice_scatter(dtype, base_shape, src_shape, start, stride):
    base = rand(base_shape, dtype, RNG)
    src = rand(src_shape, dtype, RNG)
    got = _run(lambda b, s: st.slice_scatter(b, s, start, stride), base, src)
    assert_close(got, ref_slice_scatter(base, src, start, stride), rtol=0, atol=0)


def test_slice_scatter_is_the_adjoint_of_slice():
    """sum(x[window] * s) == sum(x * slice_scatter(zeros, s, window)) for random x, s."""
    x = rand((5, 6, 7), "f64", RNG)
    s = rand((3, 2, 4), "f64", RNG)

    def f(x, s):
        sliced = x[4::-2, 1:6:3, ::2]
        placed = st.slice_scatter(st.zeros_like(x), s, (4, 1, 0), (-2, 3, 2))
        return (sliced * s).sum(), (x * placed).sum(), placed

    lhs, rhs, placed = _run(f, x, s)
    assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)
    want = np.zeros_like(x)
    want[4::-2, 1:6:3, ::2] = s
    assert_close(placed, want)


def test_slice_scatter_casts_src_like_numpy_assignment_and_takes_views():
    base = rand((3, 4), "i32", RNG)
    src = np.array([[1.7, -2.5]], np.float32)
    want = base.copy()
    want[1:2, 0:4:3] = src
    assert_close(_run(lambda b, s: st.slice_scatter(b, s, (1, 0), (1, 3)), base, src), want)
    x = rand((4, 3), "f32", RNG)
    y = rand((2, 4), "f32", RNG)
    want = x.T.copy()
    want[::2, ::-1] = y
    assert_close(_run(lambda x, y: st.slice_scatter(x.T, y, (0, 3), (2, -1)), x, y), want)
    # eager, on numpy arrays
    assert_close(st.slice_scatter(x, y[:, :3] * 0 + 1, (0, 0), (2, 1)), ref_slice_scatter(x, np.ones((2, 3),
                 np.float32), (0, 0), (2, 1)))


def test_eager_calls():
    i = np.array([[2, 0, 2]])
    u = np.array([[1.0, 2.0, 3.0]], np.float32)
    assert_close(st.scatter_add_along_axis(i, u, 1, 3), np.array([[2.0, 0.0, 4.0]], np.float32))
    assert_close(st.scatter_add_along_axis(i, u, 0, 2), ref_scatter_add(i, u, 0, 2))


# --- IR: builders, verifier, parsed IR ----------------------------------------------------------------
def _values(*types):
    from xdsl.dialects.test import TestOp

    return TestOp(result_types=list(types)).results


def T(shape, dt):  # noqa: N802
    return dtypes.tensor_type(shape, dt)


def test_builders():
    i, u = _values(T((4, 3), "i32"), T((4, 3), "f32"))
    op = sh.ScatterAddOp.make(i, u, axis=1, result_types=[sh.scatter_add_type(u.type, 1, 10)])
    assert op.result.type == T((4, 10), "f32") and op.normalized_axis() == 1
    op = sh.ScatterAddOp.make(i, u, axis=-2, result_types=[sh.scatter_add_type(u.type, -2, 2)])
    assert op.result.type == T((2, 3), "f32") and op.normalized_axis() == 0
    b, s = _values(T((4, 8), "f16"), T((4, 3), "f16"))
    op = sh.SliceScatterOp.make(b, s, start=(0, 1), stride=(1, 2))
    assert op.result.type == b.type


@pytest.mark.parametrize("types,axis,result,message", [
    ((((4, 3), "f32"), ((4, 3), "f32")), 1, ((4, 5), "f32"), "indices must be an integer tensor (i32 or i64), got f32"),
    ((((4, 3), "i64"), ((4, 3), "i1")), 1, ((4, 5), "i1"), "updates must be numeric (bool cannot be summed), got i1"),
    ((((4, 3), "i64"), ((4, 3), "f32")), 1, ((4, 5), "f64"), "result dtype f64 differs from the updates dtype f32"),
    ((((), "i64"), ((), "f32")), 0, ((), "f32"), "needs updates of rank >= 1"),
    ((((4, 3), "i64"), ((4, 3), "f32")), 2, ((4, 5), "f32"), "axis 2 is out of range for rank 2"),
    ((((4, 3), "i64"), ((4, 3), "f32")), -3, ((4, 5), "f32"), "axis -3 is out of range for rank 2"),
    ((((4, 1), "i64"), ((4, 3), "f32")), 1, ((4, 5), "f32"), "indices and updates must have one shape"),
    ((((4, 3), "i64"), ((4, 3), "f32")), 1, ((20,), "f32"), "result rank 1 differs from the updates rank 2"),
    ((((4, 3), "i64"), ((4, 3), "f32")), 1, ((5, 5), "f32"), "result shape (5, 5) differs from the updates shape"),
    ((((4, 3), "i64"), ((4, 3), "f32")), 1, ((4, 0), "f32"), "cannot add elements into axis 1 of size 0"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_scatter_add_verifier(types, axis, result, message):
    i, u = _values(*(T(s, d) for s, d in types))
    with pytest.raises(ShapeError) as info:
        sh.ScatterAddOp.make(i, u, axis=axis, result_types=[T(*result)])
    assert str(info.value).startswith("spiral.scatter_add ") and message in str(info.value), str(info.value)


@pytest.mark.parametrize("base,src,start,stride,message", [
    (((4, 8), "f32"), ((4, 3), "i32"), (0, 0), (1, 1), "operands must have one dtype, got f32 and i32"),
    (((4, 8), "f32"), ((3,), "f32"), (0, 0), (1, 1), "src rank 1 differs from the base rank 2"),
    (((4, 8), "f32"), ((4, 3), "f32"), (0,), (1, 1), "start must have 2 entries (the rank), got 1"),
    (((4, 8), "f32"), ((4, 3), "f32"), (0, 0), (1, 1, 1), "stride must have 2 entries (the rank), got 3"),
    (((4, 8), "f32"), ((4, 3), "f32"), (0, 0), (1, 0), "stride must not be zero (axis 1)"),
    (((4, 8), "f32"), ((4, 3), "f32"), (0, 2), (1, 3), "axis 1 writes index 8 (start 2, stride 3, count 3), out of"),
    (((4, 8), "f32"), ((4, 3), "f32"), (1, 0), (-1, 1), "axis 0 writes index -2 (start 1, stride -1, count 4)"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_slice_scatter_verifier(base, src, start, stride, message):
    b, s = _values(T(*base), T(*src))
    with pytest.raises(ShapeError) as info:
        sh.SliceScatterOp.make(b, s, start=start, stride=stride)
    assert str(info.value).startswith("spiral.slice_scatter ") and message in str(info.value), str(info.value)


def test_parsed_ir_with_a_negative_axis_runs():
    src = """
    func.func @f(%i: tensor<2x3xi32>, %u: tensor<2x3xf32>, %b: tensor<2x5xf32>) -> (tensor<2x4xf32>, tensor<2x5xf32>) {
      %0 = spiral.scatter_add %i, %u {axis = -1 : i64} : tensor<2x3xi32>, tensor<2x3xf32> -> tensor<2x4xf32>
      %1 = spiral.slice_scatter %b, %u {start = array<i64: 1, 4>, stride = array<i64: -1, -2>}
             : tensor<2x5xf32>, tensor<2x3xf32> -> tensor<2x5xf32>
      func.return %0, %1 : tensor<2x4xf32>, tensor<2x5xf32>
    }
    """
    module = text.parse(src)
    text.verify(module)
    i = indices((2, 3), 4, "i32", spread=1)
    u = rand((2, 3), "f32", RNG)
    b = rand((2, 5), "f32", RNG)
    r0, r1 = run_module(module, [i, u, b])
    assert_close(r0, ref_scatter_add(i, u, 1, 4), **tol("f32", 3))
    assert_close(r1, ref_slice_scatter(b, u, (1, 4), (-1, -2)))


def test_ir_round_trips_through_text():
    i = indices((3, 4), 5, "i32")
    u = rand((3, 4), "f32", RNG)
    fn = st.compile(lambda i, u: (st.scatter_add_along_axis(i, u, 0, 6), st.slice_scatter(u, u[::2, 1:], (0, 1),
                                                                                           (2, 1))), target="interp")
    module = fn.lower(i, u).module
    for generic in (False, True):
        again = text.parse(text.to_text(module, generic=generic))
        assert again.is_structurally_equivalent(module)


# --- frontend errors ----------------------------------------------------------------------------------
X = np.ones((2, 3), np.float32)
I = np.zeros((2, 3), np.int64)  # noqa: E741


def test_errors_scatter_add_along_axis():
    def f(x):
        return st.scatter_add_along_axis(x, x, 1, 4)
    check_error(f, (X,), "scatter_add_along_axis: indices must be an integer tensor, got f32")

    def g(x):
        return st.scatter_add_along_axis(I, x > 0, 1, 4)
    check_error(g, (X,), "updates must be numeric, got bool")

    def h(x):
        return st.scatter_add_along_axis(I, x, 2, 4)
    check_error(h, (X,), "scatter_add_along_axis: axis 2 is out of bounds for a tensor of dimension 2")

    def k(x):
        return st.scatter_add_along_axis(I, x, 1, 0)
    check_error(k, (X,), "length must be >= 1", "got 0")

    def m(x):
        return st.scatter_add_along_axis(I, x[:, :2], 1, 4)
    check_error(m, (X,), "updates of shape (2, 2) cannot be broadcast to the indices' shape (2, 3)")

    def n(x):
        return st.scatter_add_along_axis(I[0, 0], x[0, 0], 0, 4)
    check_error(n, (X,), "indices must have at least one dimension")

    def p(x):
        return st.scatter_add_along_axis(I, x, None, 4)
    check_error(p, (X,), "axis must be an int")

    def q(x):
        return st.scatter_add_along_axis(I, x, 1, 2.5)
    check_error(q, (X,), "length must be an int")

    def r(x):
        return st.scatter_add_along_axis(I, x, 1, -1)
    check_error(r, (X,), "length must be >= 1", "got -1")


def test_errors_slice_scatter():
    def f(x):
        return st.slice_scatter(x, x[0], (0, 0), (1, 1))
    check_error(f, (X,), "slice_scatter: src must have the rank of base: src has shape (3,), base has shape (2, 3)")

    def g(x):
        return st.slice_scatter(x, x, (0,), (1, 1))
    check_error(g, (X,), "start must have one entry per axis of base (2), got 1")

    def h(x):
        return st.slice_scatter(x, x, (0, 0), (1, 1, 1))
    check_error(h, (X,), "stride must have one entry per axis of base (2), got 3")

    def k(x):
        return st.slice_scatter(x, x[:, :1], (0, 0), (1, 0))
    check_error(k, (X,), "stride must not be zero (axis 1)")

    def m(x):
        return st.slice_scatter(x, x[:, :2], (0, 2), (1, 1))
    check_error(m, (X,), "on axis 1, src's 2 elements with start 2 and stride 1 reach index 3, out of bounds for "
                         "base's size 3")

    def n(x):
        return st.slice_scatter(x, x, (-1, 0), (1, 1))
    check_error(n, (X,), "reach index -1, out of bounds")

    def p(x):
        return st.slice_scatter(x, x, (0, 0.5), (1, 1))
    check_error(p, (X,), "start must be an int")
