"""Every shape op traced and run on the interpreter against numpy: reshape, transpose, broadcast_to,
expand_dims, squeeze, concatenate, stack, moveaxis, swapaxes, take_along_axis and indexing."""

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.ir import text
from spiraltorch.testing import assert_close, rand

RNG = np.random.default_rng(4321)
DTYPES = ["f32", "i32", "i1", "bf16"]


def _run(fn, *args):
    return st.compile(fn, target="interp")(*args)


def _ir(fn, *args) -> str:
    return st.compile(fn, target="interp").lower(*args).as_text()


def check_error(fn, args, *fragments):
    """fn's first body line must raise a TraceError naming that line and containing every fragment."""
    with pytest.raises(st.TraceError) as info:
        _run(fn, *args)
    msg = str(info.value)
    assert f"test_ops_shape.py:{fn.__code__.co_firstlineno + 1}:" in msg, msg
    for frag in fragments:
        assert frag in msg, msg


# --- reshape family ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("src,dst", [((2, 3, 4), (4, 6)), ((2, 3, 4), (-1,)), ((6,), (1, 6, 1)), ((1,), ()),
                                     ((), (1, 1)), ((2, 3, 4), (3, -1, 2)), ((0, 4), (-1, 2)), ((0, 4), (2, 0, 3))],
                         ids=str)
def test_reshape(dtype, src, dst):
    x = rand(src, dtype, RNG)
    assert_close(_run(lambda a: a.reshape(dst), x), x.reshape(dst))
    assert_close(_run(lambda a: st.reshape(a, dst), x), np.reshape(x, dst))


def test_reshape_of_transposed_and_sliced_values():
    x = rand((4, 6), "f32", RNG)
    assert_close(_run(lambda a: a.T.reshape(3, 8), x), x.T.reshape(3, 8))
    assert_close(_run(lambda a: a[::-2, 1:5].reshape(-1), x), x[::-2, 1:5].reshape(-1))
    assert_close(_run(lambda a: a.transpose(1, 0)[2:, ::3].reshape(2, 2, 2), x), x.T[2:, ::3].reshape(2, 2, 2))
    assert_close(_run(lambda a: a.flatten(), x), x.flatten())
    assert_close(_run(st.ravel, x.T), np.ravel(x.T))
    assert_close(_run(lambda a: np.reshape(a, (2, -1)), x), x.reshape(2, -1))  # numpy function dispatch


def test_reshape_to_same_shape_emits_nothing():
    x = rand((3, 4), "f32", RNG)
    assert "spiral.reshape" not in _ir(lambda a: a.reshape(3, 4) + 1, x)
    assert "spiral.transpose" not in _ir(lambda a: a.transpose(0, 1) + 1, x)


@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), (-1, 0), (0, 1, 2)], ids=str)
def test_expand_dims(axis):
    x = rand((2, 3), "f32", RNG)
    if isinstance(axis, tuple) and len(axis) == 3:
        x = rand((), "f32", RNG)
    assert_close(_run(lambda a: st.expand_dims(a, axis), x), np.expand_dims(x, axis))


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 3), 2], ids=str)
def test_squeeze(axis):
    x = rand((1, 3, 1, 1), "i32", RNG)
    assert_close(_run(lambda a: st.squeeze(a, axis), x), np.squeeze(x, axis))
    assert_close(_run(lambda a: a.squeeze(axis), x), x.squeeze(axis))


def test_squeeze_0d_and_all_ones():
    assert_close(_run(st.squeeze, np.float32(3.0)), np.squeeze(np.float32(3.0)))
    x = rand((1, 1), "f32", RNG)
    assert_close(_run(st.squeeze, x), np.squeeze(x))


# --- transpose family -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axes", [((3, 4), None), ((2, 3, 4), None), ((2, 3, 4), (1, 0, 2)),
                                        ((2, 3, 4), (-1, 0, -2)), ((1, 5, 1), (2, 1, 0)), ((5,), None), ((), None)],
                         ids=str)
def test_transpose(dtype, shape, axes):
    x = rand(shape, dtype, RNG)
    assert_close(_run(lambda a: st.transpose(a, axes), x), np.transpose(x, axes))


def test_transpose_spellings():
    x = rand((2, 3, 4), "f32", RNG)
    assert_close(_run(lambda a: a.T, x), x.T)
    assert_close(_run(lambda a: a.transpose(2, 0, 1), x), x.transpose(2, 0, 1))
    assert_close(_run(lambda a: a.transpose((2, 0, 1)), x), x.transpose((2, 0, 1)))
    assert_close(_run(lambda a: st.permute(a, 1, 2, 0), x), x.transpose(1, 2, 0))
    assert_close(_run(lambda a: st.permute_dims(a, (1, 2, 0)), x), np.permute_dims(x, (1, 2, 0)))
    assert_close(_run(lambda a: np.transpose(a, (0, 2, 1)), x), x.transpose(0, 2, 1))


@pytest.mark.parametrize("src,dst", [(0, -1), (-1, 0), ((0, 1), (-1, -2)), ((2, 0), (0, 1)), (1, 1)], ids=str)
def test_moveaxis(src, dst):
    x = rand((2, 3, 4), "f32", RNG)
    assert_close(_run(lambda a: st.moveaxis(a, src, dst), x), np.moveaxis(x, src, dst))


def test_swapaxes():
    x = rand((2, 3, 4), "f32", RNG)
    assert_close(_run(lambda a: st.swapaxes(a, 0, -1), x), np.swapaxes(x, 0, -1))
    assert_close(_run(lambda a: st.swapaxes(a, 1, 1), x), x)


# --- broadcast_to -----------------------------------------------------------------------------------
@pytest.mark.parametrize("src,dst", [((3,), (4, 3)), ((3, 1), (3, 5)), ((1, 1), (2, 3, 4)), ((), (2, 2)),
                                     ((2, 1, 4), (3, 2, 5, 4)), ((4,), 4), ((1,), (0,))], ids=str)
def test_broadcast_to(src, dst):
    x = rand(src, "f32", RNG)
    out = _run(lambda a: st.broadcast_to(a, dst), x)
    assert_close(out, np.broadcast_to(x, dst))
    assert out.flags.writeable  # a fresh array, not numpy's read-only view


def test_outputs_do_not_alias_inputs():
    x = rand((2, 3), "f32", RNG)
    keep = x.copy()
    for fn in (lambda a: a.reshape(3, 2), lambda a: a[1:], lambda a: a.T, lambda a: st.squeeze(a[None])):
        out = _run(fn, x)
        assert not np.shares_memory(out, x)
        out[...] = 0
    assert_close(x, keep)


# --- concatenate / stack ----------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, -1, -3], ids=str)
def test_concatenate(axis):
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    shapes = [tuple(d + i if ax == axis % 3 else d for ax, d in enumerate(s)) for i, s in enumerate(shapes)]
    xs = [rand(s, "f32", RNG) for s in shapes]
    assert_close(_run(lambda a, b, c: st.concatenate([a, b, c], axis=axis), *xs), np.concatenate(xs, axis=axis))


@pytest.mark.parametrize("other", ["f16", "i32", "i1", "f64", "bf16"])
def test_concatenate_promotes_like_numpy(other):
    a = rand((2, 3), "f32", RNG)
    b = rand((1, 3), other, RNG)
    expect = np.concatenate([a, b])
    assert_close(_run(lambda x, y: st.concatenate((x, y)), a, b), expect)
    assert_close(_run(lambda x, y: st.concatenate((y, x), axis=0, dtype="f64"), a, b),
                 np.concatenate([b, a], dtype=np.float64))


def test_concatenate_variants():
    a = rand((2, 3), "i32", RNG)
    b = rand((4,), "i32", RNG)
    assert_close(_run(lambda x, y: st.concatenate([x, y], axis=None), a, b), np.concatenate([a, b], axis=None))
    assert_close(_run(lambda x: st.concatenate([x]), a), a)
    assert_close(_run(lambda x: st.concatenate(x), a), np.concatenate(a))  # a tensor is a sequence of rows
    one = np.ones((1, 3), np.int32)
    assert_close(_run(lambda x: st.concat([x, one]), a), np.concatenate([a, one]))
    z = rand((0, 3), "f32", RNG)
    f = rand((2, 3), "f32", RNG)
    assert_close(_run(lambda x, y: st.concatenate([x, y]), z, f), np.concatenate([z, f]))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3], ids=str)
def test_stack(axis):
    xs = [rand((2, 3), "f32", RNG) for _ in range(3)]
    assert_close(_run(lambda a, b, c: st.stack([a, b, c], axis=axis), *xs), np.stack(xs, axis=axis))


def test_stack_promotes_and_0d():
    a, b = np.float32(1.5), np.int32(3)
    assert_close(_run(lambda x, y: st.stack([x, y]), a, b), np.stack([a, b]))
    x = rand((3,), "f16", RNG)
    y = rand((3,), "f32", RNG)
    assert_close(_run(lambda p, q: st.stack((p, q), axis=1), x, y), np.stack((x, y), axis=1))


# --- take_along_axis --------------------------------------------------------------------------------
@pytest.mark.parametrize("idx_dtype", ["i32", "i64"])
@pytest.mark.parametrize("dtype", ["f32", "f16", "i32"])
@pytest.mark.parametrize("axis", [0, 1, -1], ids=str)
def test_take_along_axis(axis, dtype, idx_dtype):
    x = rand((3, 4, 5), dtype, RNG)
    n = x.shape[axis]
    shape = list(x.shape)
    shape[axis] = 6
    idx = RNG.integers(-n, n, size=shape).astype(np.dtype(idx_dtype.replace("i", "int")))
    assert_close(_run(lambda a, i: st.take_along_axis(a, i, axis=axis), x, idx), np.take_along_axis(x, idx, axis))


def test_take_along_axis_broadcasts_non_axis_dims():
    x = rand((3, 1, 5), "f32", RNG)
    idx = RNG.integers(0, 5, size=(1, 4, 2))
    assert_close(_run(lambda a, i: st.take_along_axis(a, i, axis=2), x, idx), np.take_along_axis(x, idx, 2))
    # top-k style use: indices from argsort of a constant
    y = rand((4, 6), "f32", RNG)
    order = np.argsort(y, axis=1)[:, ::-1][:, :2].copy()
    assert_close(_run(lambda a: st.take_along_axis(a, order, 1), y), np.take_along_axis(y, order, 1))


def test_take_along_axis_default_and_none_axis():
    x = rand((3, 4), "f32", RNG)
    idx = RNG.integers(0, 4, size=(3, 2))
    assert_close(_run(st.take_along_axis, x, idx), np.take_along_axis(x, idx, axis=-1))
    flat = RNG.integers(-12, 12, size=(5,))
    assert_close(_run(lambda a, i: st.take_along_axis(a, i, None), x, flat), np.take_along_axis(x, flat, None))


def test_take_along_axis_out_of_range_indices_clamp():
    x = rand((2, 4), "f32", RNG)
    idx = np.array([[-9, 4, 100, -4], [7, -5, 3, -1]], np.int32)
    clamped = np.clip(np.where(idx < 0, idx + 4, idx), 0, 3)
    assert_close(_run(lambda a, i: st.take_along_axis(a, i, 1), x, idx), np.take_along_axis(x, clamped, 1))


# --- indexing ---------------------------------------------------------------------------------------
INDEXES = [
    0, -1, 2, slice(None), slice(1, None), slice(None, -1), slice(None, None, -1), slice(-2, None, -2),
    slice(10, -10, -3), slice(-100, 100), slice(5, 1), slice(3, 3), (1, 2), (-1, slice(None), 0),
    (Ellipsis, 1), (None, 0), (slice(None), None, slice(None, None, 2)), (Ellipsis, None), (None, Ellipsis, None),
    (0, Ellipsis, slice(1, 3), None), (), Ellipsis, np.int64(-2), (np.array(1), slice(0, 2)),
]


@pytest.mark.parametrize("index", INDEXES, ids=repr)
def test_getitem_forms(index):
    x = rand((4, 5, 3), "f32", RNG)
    assert_close(_run(lambda a: a[index], x), x[index])


def _random_index(shape, rng):
    items = []
    ndim_left = len(shape)
    used_ellipsis = False
    for _ in range(rng.integers(0, len(shape) + 3)):
        kind = rng.choice(["int", "slice", "slice", "none", "ellipsis"])
        if kind == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            items.append(Ellipsis)
        elif kind == "none":
            items.append(None)
        elif ndim_left > 0:
            n = shape[len(shape) - ndim_left] if not used_ellipsis else 3
            ndim_left -= 1
            if kind == "int":
                items.append(int(rng.integers(-n, n)) if n else slice(None))
            else:
                lo, hi = (None if rng.random() < 0.3 else int(rng.integers(-n - 3, n + 3)) for _ in range(2))
                step = None if rng.random() < 0.3 else int(rng.choice([-3, -2, -1, 1, 2, 3]))
                items.append(slice(lo, hi, step))
    return tuple(items)


def test_getitem_random_against_numpy():
    rng = np.random.default_rng(7)
    checked = 0
    for shape in [(5,), (4, 3), (3, 1, 4), (2, 3, 2, 3), (1, 0, 2)]:
        x = rand(shape, "f32", rng)
        for _ in range(25):
            index = _random_index(shape, rng)
            try:
                expect = x[index]
            except IndexError:
                continue
            assert_close(_run(lambda a, i=index: a[i], x), expect, err_msg=repr(index))
            checked += 1
    assert checked > 80


def test_getitem_on_0d_and_other_dtypes():
    s = np.float32(2.5)
    assert_close(_run(lambda a: a[()], s), s[()])
    assert_close(_run(lambda a: a[...], s), np.asarray(s)[...])
    assert_close(_run(lambda a: a[None, None], s), np.asarray(s)[None, None])
    for dtype in ["i1", "i32", "bf16", "f64"]:
        x = rand((3, 4), dtype, RNG)
        assert_close(_run(lambda a: a[::-1, 1:3], x), x[::-1, 1:3])


def test_getitem_emits_one_slice_and_one_reshape():
    x = rand((4, 5, 3), "f32", RNG)
    ir = _ir(lambda a: a[1, ::2, None], x)
    assert ir.count("spiral.slice") == 1 and ir.count("spiral.reshape") == 1
    assert "start = array<i64: 1, 0, 0>, stride = array<i64: 1, 2, 1>" in ir
    assert "spiral.slice" not in _ir(lambda a: a[:, ...] + 1, x)


def test_iteration_and_unpacking():
    x = rand((3, 2), "f32", RNG)
    assert_close(_run(lambda a: [r for r in a][2], x), x[2])
    assert_close(_run(lambda a: a[0] + a[-1], x), x[0] + x[-1])


def test_python_scalars_are_strong_in_shape_functions():
    # numpy's shape functions turn Python scalars into (strong, float64) 0-d arrays
    x = np.float32(1.5)
    assert_close(_run(lambda a: st.stack([a, 2.0]), x), np.stack([x, 2.0]))
    assert_close(_run(lambda a: st.reshape(2.0, (1,)) * a, x), np.reshape(2.0, (1,)) * x)
    assert_close(_run(lambda a, s: st.transpose(s) * a, x, 3.0), np.transpose(3.0) * x)
    assert_close(_run(lambda a, s: a * s, x, 3.0), x * 3.0)  # while a plain Python scalar stays weak


# --- errors -----------------------------------------------------------------------------------------
X = np.ones((2, 3, 4), np.float32)


def test_errors_reshape_family():
    def f(x):
        return x.reshape(5, 7)
    check_error(f, (X,), "cannot reshape (2, 3, 4) (24 elements) into (5, 7) (35 elements)")

    def g(x):
        return st.squeeze(x, 1)
    check_error(g, (X,), "squeeze: cannot squeeze axis 1", "size is 3")

    def h(x):
        return st.expand_dims(x, -5)
    check_error(h, (X,), "expand_dims: axis -5 is out of bounds for a tensor of dimension 4")

    def k(x):
        return x.reshape(-1, -1)
    check_error(k, (X,), "only one dimension can be -1")


def test_errors_transpose_and_broadcast():
    def f(x):
        return x.transpose(0, 1)
    check_error(f, (X,), "transpose: axes (0, 1) don't match a tensor of dimension 3")

    def g(x):
        return x.transpose(0, 2, -1)
    check_error(g, (X,), "transpose: repeated axis")

    def h(x):
        return st.broadcast_to(x, (3, 4))
    check_error(h, (X,), "cannot broadcast a tensor of shape (2, 3, 4) to shape (3, 4)")

    def k(x):
        return st.moveaxis(x, 3, 0)
    check_error(k, (X,), "moveaxis: axis 3 is out of bounds")


def test_errors_concatenate_stack():
    def f(x):
        return st.concatenate([x, x[0]])
    check_error(f, (X,), "same number of dimensions", "(3, 4)")

    def g(x):
        return st.concatenate([x, x[:, :, :2]], axis=1)
    check_error(g, (X,), "on axis 2 tensor 0 has size 4 and tensor 1 has size 2")

    def h(x):
        return st.concatenate([x[0, 0, 0], x[0, 0, 1]])
    check_error(h, (X,), "0-d tensors cannot be concatenated")

    def k(x):
        return st.stack([x, x[:1]])
    check_error(k, (X,), "stack: all tensors must have the same shape")

    def m(x):
        return st.concatenate([], axis=0)
    check_error(m, (X,), "needs at least one tensor")

    def n(x):
        return st.concatenate([x, x], axis=3)
    check_error(n, (X,), "axis 3 is out of bounds for a tensor of dimension 3")


def test_errors_take_along_axis():
    def f(x):
        return st.take_along_axis(x, x, 1)
    check_error(f, (X,), "indices must be an integer tensor, got f32")

    def g(x):
        return st.take_along_axis(x, np.zeros((2, 3), np.int32), 1)
    check_error(g, (X,), "same number of dimensions")

    def h(x):
        return st.take_along_axis(x, np.zeros((3, 1, 1), np.int32), 1)
    check_error(h, (X,), "take_along_axis: input (2, 3, 4) and indices (3, 1, 1) do not broadcast on axis 0")

    def k(x):
        return st.take_along_axis(x, np.zeros((2, 3), np.int64), None)
    check_error(k, (X,), "with axis=None, indices must be 1-D")


def test_errors_indexing():
    def f(x):
        return x[2]
    check_error(f, (X,), "index 2 is out of bounds for axis 0 with size 2")

    def g(x):
        return x[0, -4]
    check_error(g, (X,), "index -4 is out of bounds for axis 1 with size 3")

    def h(x):
        return x[0, 0, 0, 0]
    check_error(h, (X,), "too many indices for tensor: tensor is 3-dimensional, but 4 were indexed")

    def k(x):
        return x[x > 0]
    check_error(k, (X,), "advanced indexing", "not supported", "take_along_axis")

    def m(x):
        return x[[0, 1]]
    check_error(m, (X,), "advanced indexing", "take_along_axis")

    def n(x):
        return x[np.array([0, 1])]
    check_error(n, (X,), "advanced indexing")

    def p(x):
        return x[..., 0, ...]
    check_error(p, (X,), "only have a single ellipsis")

    def q(x):
        return x[::0]
    check_error(q, (X,), "slice step cannot be zero")

    def r(x):
        return x[1.0]
    check_error(r, (X,), "valid indices", "float")

    def s(x):
        return x[True]
    check_error(s, (X,), "advanced indexing")

    def t(x, i):
        return x[i]
    check_error(t, (X, 1), "advanced indexing", "static_argnums")


def test_eager_calls_match_numpy():
    x = rand((2, 3), "f32", RNG)
    assert_close(st.reshape(x, (3, 2)), x.reshape(3, 2))
    assert_close(st.transpose(x), x.T)
    assert_close(st.concatenate([x, x], axis=1), np.concatenate([x, x], axis=1))
    assert_close(st.stack([x, x]), np.stack([x, x]))
    assert_close(st.expand_dims(x, 0), x[None])
    assert_close(st.broadcast_to(x[:1], (4, 3)), np.broadcast_to(x[:1], (4, 3)))
    idx = np.array([[2, 0], [1, 1]])
    assert_close(st.take_along_axis(x, idx, 1), np.take_along_axis(x, idx, 1))


def test_ir_round_trips_through_text():
    x = rand((3, 4), "f32", RNG)
    idx = np.array([[1], [0], [-1]], np.int32)
    fn = st.compile(lambda a, i: (a[::-1, 1:3].T.reshape(3, -1), st.broadcast_to(a[:, :1], (2, 3, 4)),
                                  st.concatenate([a, a], 1), st.take_along_axis(a, i, 1)), target="interp")
    module = fn.lower(x, idx).module
    for generic in (False, True):
        again = text.parse(text.to_text(module, generic=generic))
        assert again.is_structurally_equivalent(module)
