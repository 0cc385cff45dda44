"""spiral.scatter_add and spiral.slice_scatter on the CPU backend (`st.compile(f, target="cpu")`) against numpy
references computed element by element, and bit for bit against the reference interpreter (both accumulate a
result element's updates in the order of increasing position along the axis): every dtype, several shapes and
axes (0, middle, last, negative), strided and broadcast operands (transposed, reversed, sliced, zero-stride),
duplicate, negative and out-of-range indices, threads splitting the outer loop, and the adjoint identities with
take_along_axis and slicing."""

import itertools

import ml_dtypes
import numpy as np
import pytest
from xdsl.dialects.builtin import IntegerAttr, i64

import spiraltorch as st
from spiraltorch.ir.ops import shape as sh
from spiraltorch.testing import assert_close, rand

RNG = np.random.default_rng(31337)
NP = {"f64": np.float64, "f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
      "i64": np.int64, "i32": np.int32, "i1": np.bool_}


def cpu(fn, *args):
    return st.compile(fn, target="cpu")(*args)


def same_as_interp(fn, *args):
    """fn on the CPU; its outputs must equal the interpreter's exactly (values, dtype, shape). Returns them."""
    got = cpu(fn, *args)
    want = st.compile(fn, target="interp")(*args)
    got_t, want_t = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    for k, (g, w) in enumerate(zip(got_t, want_t, strict=True)):
        assert_close(g, w, rtol=0, atol=0, err_msg=f"output {k} (cpu vs interp):")
    return got


def ref_scatter_add(idx, upd, axis, n):
    """Element by element: out[p with p[axis] = norm(idx[p])] += upd[p], accumulated in float64 (or int64)."""
    idx, upd = np.asarray(idx), np.asarray(upd)
    axis %= upd.ndim
    shape = list(upd.shape)
    shape[axis] = n
    is_float = upd.dtype.kind == "f" or upd.dtype == ml_dtypes.bfloat16
    acc = np.zeros(shape, np.float64 if is_float else np.int64)
    for p in itertools.product(*map(range, upd.shape)):
        i = int(idx[p])
        i = i + n if i < 0 else i
        q = list(p)
        q[axis] = min(max(i, 0), n - 1)
        acc[tuple(q)] += upd[p].astype(acc.dtype)
    return acc.astype(upd.dtype)


def ref_slice_scatter(base, src, start, stride):
    out = np.array(base, copy=True)
    for j in itertools.product(*map(range, src.shape)):
        out[tuple(b + k * s for b, k, s in zip(start, j, stride, strict=True))] = src[j]
    return out


def tol(dtype, terms):
    r, a = {"f64": (1e-12, 1e-12), "f32": (2e-6, 2e-6), "f16": (2e-3, 2e-3), "bf16": (1.6e-2, 1.6e-2)}.get(
        dtype, (0, 0))
    return {"rtol": r, "atol": a * np.sqrt(terms) * 2}


def indices(shape, n, dtype="i64", spread=2):
    """Random indices in [-n - spread, n + spread): negative, in range, out of range, many repeated."""
    return RNG.integers(-n - spread, n + spread, size=shape).astype(NP[dtype])


# --- scatter_add -------------------------------------------------------------------------------------
CASES = [((4, 3), 1, 10), ((4, 3), 0, 2), ((4, 3), -1, 5), ((4, 3), -2, 1), ((7,), 0, 3), ((7,), -1, 9),
         ((2, 3, 5), 1, 4), ((2, 3, 5), 0, 3), ((2, 3, 5), -1, 2), ((1, 6, 1), 1, 4), ((3, 1, 2), 1, 6)]


@pytest.mark.parametrize("dtype", ["f32", "f64", "i32", "i64", "f16", "bf16"])
@pytest.mark.parametrize("shape,axis,n", CASES, ids=str)
def test_scatter_add(shape, axis, n, dtype):
    i = indices(shape, n, "i32" if len(shape) % 2 else "i64")
    u = rand(shape, dtype, RNG)
    got = same_as_interp(lambda i, u: st.scatter_add_along_axis(i, u, axis, n), i, u)
    assert_close(got, ref_scatter_add(i, u, axis, n), **tol(dtype, shape[axis]))


def test_scatter_add_duplicates_and_index_rule():
    n = 5
    i = np.array([[-100, -6, -5, -1, 0, 4, 5, 100, 0, 0, -5, 2]], np.int32)
    u = (np.arange(1, 13, dtype=np.float32) * 0.5)[None]
    want = np.zeros((1, n), np.float32)
    for k, v in zip(np.clip(np.where(i[0] < 0, i[0] + n, i[0]), 0, n - 1), u[0], strict=True):
        want[0, k] += v
    assert_close(same_as_interp(lambda i, u: st.scatter_add_along_axis(i, u, 1, n), i, u), want)
    # every update on one element, along axis 0 (outer loop over axis 1) and along the only axis (rank 1)
    ones = np.ones((64, 3), np.float32)
    assert_close(same_as_interp(lambda u: st.scatter_add_along_axis(np.full((64, 3), 7), u, 0, 2), ones),
                 np.array([[0, 0, 0], [64, 64, 64]], np.float32))
    v = rand((50,), "i32", RNG)
    assert_close(same_as_interp(lambda v: st.scatter_add_along_axis(np.zeros(50, np.int32), v, 0, 1), v),
                 np.array([v.sum()], np.int32))
    # f16 accumulates in f32 and rounds once: 2048 + 1 + 1 = 2050 (one at a time in f16 it would stay 2048)
    h = np.array([[2048.0, 1.0, 1.0]], np.float16)
    assert cpu(lambda h: st.scatter_add_along_axis(np.zeros((1, 3), np.int64), h, 1, 1), h)[0, 0] == 2050.0
    # integers wrap like numpy's add
    big = np.array([2**31 - 1, 1], np.int32)
    assert cpu(lambda b: st.scatter_add_along_axis(np.zeros(2, np.int32), b, 0, 1), big)[0] == -2**31


@pytest.mark.parametrize("dtype", ["f32", "i64", "f16"])
def test_scatter_add_strided_and_broadcast_operands(dtype):
    i = indices((5, 4), 6)
    u = rand((5, 4), dtype, RNG)
    row = indices((1, 4), 6)
    col = rand((5, 1), dtype, RNG)
    big = rand((11, 8), dtype, RNG)

    def f(i, u, row, col, big):
        return (st.scatter_add_along_axis(i.T, u.T, 0, 6),  # transposed operands
                st.scatter_add_along_axis(i[::-2, 1:], u[::-2, 1:], 1, 3),  # reversed and sliced
                st.scatter_add_along_axis(st.broadcast_to(row, (5, 4)), u, 1, 6),  # zero-stride indices
                st.scatter_add_along_axis(i, col, 1, 6),  # updates broadcast by the frontend (zero stride)
                st.scatter_add_along_axis(i, big[1::2, ::2], -2, 4),  # updates a strided window of an input
                st.scatter_add_along_axis(i, u, 0, 3) * 2)  # the result is a temporary, not an output

    outs = same_as_interp(f, i, u, row, col, big)
    wants = (ref_scatter_add(i.T, u.T, 0, 6), ref_scatter_add(i[::-2, 1:], u[::-2, 1:], 1, 3),
             ref_scatter_add(np.broadcast_to(row, (5, 4)), u, 1, 6),
             ref_scatter_add(i, np.broadcast_to(col, (5, 4)), 1, 6), ref_scatter_add(i, big[1::2, ::2], 0, 4),
             ref_scatter_add(i, u, 0, 3) * NP[dtype](2))
    for k, (g, w) in enumerate(zip(outs, wants, strict=True)):
        assert_close(g, w, err_msg=f"output {k}:", **tol(dtype, 12))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_scatter_add_is_the_adjoint_of_take_along_axis(axis):
    """sum(take_along_axis(x, i, axis) * u) == sum(x * scatter_add(i, u, axis, n)) for random x, i, u."""
    x = rand((3, 4, 5), "f64", RNG)
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = 6
    i = indices(shape, n, spread=3)
    u = rand(shape, "f64", RNG)

    def f(x, i, u):
        return ((st.take_along_axis(x, i, axis) * u).sum(), (x * st.scatter_add_along_axis(i, u, axis, n)).sum())

    lhs, rhs = cpu(f, x, i, u)
    assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)
    assert_close(rhs, (x * ref_scatter_add(i, u, axis, n)).sum(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_scatter_add_threads_split_a_dim_other_than_the_axis(monkeypatch, axis):
    """With every kernel split across threads, few target positions (many collisions) must still sum exactly:
    the split dim is never the axis, so two threads never add into one element."""
    from spiraltorch.codegen.cpu_target import kernel_module
    from spiraltorch.ir import text

    monkeypatch.setenv("SPIRAL_PARALLEL_MIN", "1")
    monkeypatch.setenv("SPIRAL_NUM_THREADS", "4")
    i = indices((96, 96), 3, "i32", spread=1)
    u = rand((96, 96), "i64", RNG)
    fn = lambda i, u: st.scatter_add_along_axis(i, u, axis, 3)  # noqa: E731
    kmod = text.to_text(kernel_module(st.compile(fn, target="cpu").lower(i, u)))
    assert "spiral.parallel" in kmod
    for _ in range(3):
        assert_close(cpu(fn, i, u), ref_scatter_add(i, u, axis, 3))
    x = rand((96, 96), "f32", RNG)
    same_as_interp(lambda i, x: st.scatter_add_along_axis(i, x, axis, 3), i, x)


def test_scatter_add_negative_axis_in_the_ir():
    """The verifier accepts axis in [-rank, rank); the CPU lowering normalizes it like the interpreter."""
    i = indices((3, 4), 5, "i32")
    u = rand((3, 4), "f32", RNG)
    lowered = st.compile(lambda i, u: st.scatter_add_along_axis(i, u, 1, 5), target="cpu").lower(i, u)
    (op,) = [op for op in lowered.module.walk() if isinstance(op, sh.ScatterAddOp)]
    op.properties["axis"] = IntegerAttr(-1, i64)
    op.verify()
    assert "axis = -1" in lowered.as_text()
    (got,) = lowered.compile("cpu")([i, u])
    (want,) = lowered.compile("interp")([i, u])
    assert_close(got, want, rtol=0, atol=0)
    assert_close(got, ref_scatter_add(i, u, 1, 5), **tol("f32", 4))


def test_scatter_add_of_empty_updates_is_zeros():
    e = np.zeros((3, 0), np.int64)
    z = np.zeros((3, 0), np.float32)
    out = same_as_interp(lambda e, z: (st.scatter_add_along_axis(e, z, 1, 4), st.scatter_add_along_axis(e, z, 0, 2)),
                         e, z)
    assert_close(out[0], np.zeros((3, 4), np.float32))
    assert_close(out[1], np.zeros((2, 0), np.float32))


# --- slice_scatter -----------------------------------------------------------------------------------
WINDOWS = [((4, 8), (4, 3), (0, 1), (1, 2)), ((4, 8), (2, 3), (3, 7), (-1, -3)), ((4, 8), (4, 8), (0, 0), (1, 1)),
           ((4, 8), (4, 8), (3, 7), (-1, -1)), ((9,), (3,), (8,), (-4,)), ((2, 3, 4), (1, 3, 2), (1, 0, 1), (1, 1, 2)),
           ((2, 3, 4), (2, 0, 4), (0, 0, 0), (1, 1, 1)), ((3, 1), (1, 1), (2, 0), (1, 1))]


@pytest.mark.parametrize("dtype", ["f32", "f64", "i32", "i64", "f16", "i1"])
@pytest.mark.parametrize("base_shape,src_shape,start,stride", WINDOWS, ids=str)
def test_slice_scatter(dtype, base_shape, src_shape, start, stride):
    base = rand(base_shape, dtype, RNG)
    src = rand(src_shape, dtype, RNG)
    got = same_as_interp(lambda b, s: st.slice_scatter(b, s, start, stride), base, src)
    assert_close(got, ref_slice_scatter(base, src, start, stride), rtol=0, atol=0)


def test_slice_scatter_strided_and_broadcast_operands():
    x = rand((6, 5), "f32", RNG)
    y = rand((3, 4), "f32", RNG)
    row = rand((1, 6), "f32", RNG)

    def f(x, y, row):
        return (st.slice_scatter(x.T, y.T, (4, 5), (-1, -2)),  # transposed base and src, reversed window
                st.slice_scatter(st.broadcast_to(row, (5, 6)), y[::-1, 1:], (0, 1), (2, 2)),  # zero-stride base
                st.slice_scatter(x, st.broadcast_to(y[:1, :2], (3, 2)), (0, 1), (2, 3)),  # zero-stride src
                st.slice_scatter(x, x, (0, 0), (1, 1)),  # the whole base: only src is copied
                st.slice_scatter(x[::2], y, (0, 1), (1, 1)) + 1)  # a strided base, the result a temporary

    outs = same_as_interp(f, x, y, row)
    wants = (ref_slice_scatter(x.T, y.T, (4, 5), (-1, -2)),
             ref_slice_scatter(np.broadcast_to(row, (5, 6)), y[::-1, 1:], (0, 1), (2, 2)),
             ref_slice_scatter(x, np.broadcast_to(y[:1, :2], (3, 2)), (0, 1), (2, 3)), x,
             ref_slice_scatter(x[::2], y, (0, 1), (1, 1)) + np.float32(1))
    for k, (g, w) in enumerate(zip(outs, wants, strict=True)):
        assert_close(g, w, rtol=0, atol=0, err_msg=f"output {k}:")


def test_slice_scatter_leaves_its_base_alone():
    x = rand((4, 5), "i32", RNG)
    keep = x.copy()
    b, out = cpu(lambda x: (x, st.slice_scatter(x, x[:2, :2] * 0, (1, 1), (2, 3))), x)
    assert_close(b, keep)
    assert_close(x, keep)
    assert_close(out, ref_slice_scatter(x, np.zeros((2, 2), np.int32), (1, 1), (2, 3)))


def test_slice_scatter_is_the_adjoint_of_slice():
    """sum(x[window] * s) == sum(x * slice_scatter(zeros, s, window))."""
    x = rand((5, 6, 7), "f64", RNG)
    s = rand((3, 2, 4), "f64", RNG)

    def f(x, s):
        placed = st.slice_scatter(st.zeros_like(x), s, (4, 1, 0), (-2, 3, 2))
        return (x[4::-2, 1:6:3, ::2] * s).sum(), (x * placed).sum()

    lhs, rhs = cpu(f, x, s)
    assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)
    assert_close(lhs, (x[4::-2, 1:6:3, ::2] * s).sum(), rtol=1e-12, atol=1e-12)
