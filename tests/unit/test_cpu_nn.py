"""CPU kernels of the nn ops (softmax, log_softmax, cross_entropy, nll_loss, one_hot) against the interpreter.

Each compiled function computes several results at once to keep the number of JIT compilations small.
"""

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.testing import compare_targets, rand

RNG = np.random.default_rng(2024)
FLOATS = ["f32", "f64", "f16", "bf16"]
# f32: exp/log are our own polynomials (a few ulp from numpy's) and sums are reassociated.
TOL = {"f32": (1e-5, 2e-6)}


def _tol(dtype):
    return TOL.get(dtype, (None, None))


def _both(x, axes):
    return tuple(st.softmax(x, axis=a) for a in axes) + tuple(st.log_softmax(x, axis=a) for a in axes)


def _labels(shape, classes, dtype=np.int64):
    return RNG.integers(0, classes, size=shape).astype(dtype)


# --- softmax / log_softmax ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_every_axis(dtype):
    # (4, 6, 5): axis 2 is a row kernel, axes 0 and 1 use the blocked kernel (contiguous dims merged).
    x = rand((4, 6, 5), dtype, RNG, -4, 4)
    rtol, atol = _tol(dtype)
    compare_targets(lambda x: _both(x, (0, 1, 2, -1)), x, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_long_rows_and_partial_blocks(dtype):
    # 1100 columns: more than one block of the blocked kernel (f32: 1024 lanes, f64: 512), the last partial.
    x = rand((37, 1100), dtype, RNG, -8, 8)
    rtol, atol = _tol(dtype)
    compare_targets(lambda x: _both(x, (0, 1)), x, rtol=rtol, atol=atol)


def test_softmax_strided_views():
    x = rand((6, 9, 8), "f32", RNG, -3, 3)
    rtol, atol = _tol("f32")
    compare_targets(lambda x: (st.softmax(x.T, axis=0), st.softmax(x.T, axis=2), st.log_softmax(x[:, ::2, 1:], axis=1),
                               st.softmax(x[::-1, 3], axis=0), st.log_softmax(st.transpose(x, (1, 0, 2)), axis=-1),
                               st.softmax(st.broadcast_to(x[:1], (6, 9, 8)), axis=0)),
                    x, rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_edge_values(dtype):
    x = rand((9, 5), dtype, RNG)
    x[...] = np.array(_edge_rows_f64(dtype)).astype(x.dtype)
    xt = np.ascontiguousarray(x.T)  # the same rows along axis 0: the blocked kernel
    rtol, atol = _tol(dtype)
    compare_targets(lambda x, xt: (*_both(x, (1,)), *_both(xt, (0,)), *_both(x, (0,))), x, xt, rtol=rtol, atol=atol)


def _edge_rows_f64(dtype):
    inf, nan = np.inf, np.nan
    big = {"f32": 3e38, "bf16": 3e38, "f16": 6e4, "f64": 1e308}[dtype]
    return [
        [0.5, 1.0, -1.0, 2.0, 0.0],
        [1e4, -1e4, 1e4, 0.0, 9999.0],  # ties at the max, large logits
        [-inf, 1.0, 2.0, -inf, 0.0],  # -inf entries in a finite row: 0 / -inf
        [-inf, -inf, -inf, -inf, -inf],  # only -inf: NaN row
        [inf, 1.0, 2.0, 3.0, 0.0],  # +inf: NaN row
        [nan, 1.0, 2.0, 3.0, 0.0],  # NaN: NaN row
        [-inf, inf, 0.0, nan, 1.0],
        [big, -big, 0.0, big, 1.0],  # x - max overflows to -inf
        [3.0, 3.0, 3.0, 3.0, 3.0],
    ]


def test_softmax_degenerate_shapes():
    compare_targets(lambda a, b, c, d: (*_both(a, (0,)), *_both(b, (0, 1)), *_both(c, (0, 1)), *_both(d, (1, 2))),
                    rand((7,), "f32", RNG), rand((1, 6), "f32", RNG), rand((0, 5), "f32", RNG),
                    rand((3, 0, 2), "f32", RNG), rtol=1e-5, atol=2e-6)


# --- cross_entropy / nll_loss ------------------------------------------------------------------------
def _losses(logits, labels):
    return tuple(fn(logits, labels, reduction=r) for fn in (st.cross_entropy, st.nll_loss)
                 for r in ("none", "sum", "mean"))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("label_dtype", [np.int64, np.int32])
def test_losses(dtype, label_dtype):
    logits = rand((33, 10), dtype, RNG, -5, 5)
    labels = _labels((33,), 10, label_dtype)
    labels[[0, 5]] = [0, 9]  # both ends of the class range
    rtol, atol = _tol(dtype)
    compare_targets(_losses, logits, labels, rtol=rtol, atol=atol)


def test_losses_batch_shapes_and_views():
    logits3 = rand((2, 3, 7), "f32", RNG, -4, 4)
    labels3 = _labels((2, 3), 7)
    one = rand((7,), "f32", RNG, -4, 4)  # rank 1: one sample with a 0-d label
    label0 = np.array(4, np.int64)
    wide = rand((7, 12), "f32", RNG, -4, 4)  # its transpose: a strided class axis
    labels_w = _labels((12,), 7, np.int32)
    compare_targets(lambda a, la, b, lb, w, lw: (*_losses(a, la), *_losses(b, lb), *_losses(w.T, lw),
                                                 *_losses(a[:, ::2], la[:, ::2])),
                    logits3, labels3, one, label0, wide, labels_w, rtol=1e-5, atol=2e-6)


def test_losses_out_of_range_labels_and_edge_rows():
    logits = rand((8, 5), "f32", RNG, -3, 3)
    logits[2] = [np.nan, 0, 1, 2, 3]
    logits[3] = [np.inf, 0, 1, 2, 3]
    logits[4] = -np.inf
    logits[5] = [-np.inf, 0, 1, 2, 3]
    logits[6] = [1e4, 0, -1e4, 2, 1e4]
    labels = np.array([0, 4, 1, 1, 0, 2, 2, 3], np.int64)
    bad = labels.copy()
    bad[[1, 7]] = [-1, 5]  # negative and == C: NaN losses, NaN sum/mean
    rows = [0, 1, 5, 6, 7]  # finite rows only: the reduced losses stay finite
    compare_targets(lambda x, lab, bad, fx, flab: (*_losses(x, lab), *_losses(x, bad), *_losses(fx, flab)),
                    logits, labels, bad, logits[rows], labels[rows], rtol=1e-5, atol=2e-6)
    lp = np.array([[-np.inf, -1.0, 0.0]], np.float32)  # nll of a -inf log-probability is +inf
    compare_targets(lambda x, lab: _losses(x, lab), lp, np.array([0], np.int32))


def test_losses_without_labels():
    # no rows: "none" is empty, "sum" is 0, "mean" is 0 / 0 = NaN
    compare_targets(_losses, rand((0, 4), "f32", RNG), np.zeros((0,), np.int64))


# --- one_hot -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("out_dtype", ["f32", "f64", "f16", "bf16", "i32", "i64", "i1"])
def test_one_hot_dtypes(out_dtype):
    labels = np.array([[0, 3, -1, 5], [4, 2, 7, 1]], np.int64)  # -1 and 5, 7 are out of range: zero rows
    compare_targets(lambda lab: st.one_hot(lab, 5, dtype=out_dtype), labels)


def test_one_hot_shapes_and_views():
    lab32 = rand((3, 4), "i32", RNG, -2, 6)
    lab0 = np.array(2, np.int64)
    compare_targets(lambda a, b: (st.one_hot(a, 6), st.one_hot(a.T, 3, dtype="i32"), st.one_hot(b, 4),
                                  st.one_hot(a[:, ::2], 1), st.one_hot(a[:0], 3)), lab32, lab0)


def test_nn_ops_inside_a_larger_function():
    # several nn ops sharing inputs; their results are outputs, temporaries and inputs of other kernels
    x = rand((16, 6), "f32", RNG, -2, 2)
    w = rand((6,), "f32", RNG, -1, 1)
    labels = _labels((16,), 6)

    def head(x, w, labels):
        logits = x * w + 1
        p = st.softmax(logits, axis=-1)
        onehot = st.one_hot(labels, 6)
        err = ((p - onehot) * (p - onehot)).sum()
        return st.cross_entropy(logits, labels), err, st.nll_loss(st.log_softmax(logits), labels)

    compare_targets(head, x, w, labels, rtol=1e-5, atol=2e-6)


def test_kernel_shapes():
    # lowering only (no JIT): a row kernel for the contiguous axis, the blocked one (stack arrays of
    # per-lane max/sum) for a strided axis, and a parallel row kernel + one-task sum for a mean loss
    from spiraltorch.codegen.cpu_target import kernel_module
    from spiraltorch.ir import text

    def kernels(fn, *args):
        return text.to_text(kernel_module(st.compile(fn, target="cpu").lower(*args)))

    x = np.ones((64, 48), np.float32)
    rows = kernels(lambda x: st.softmax(x, axis=1), x)
    blocked = kernels(lambda x: st.softmax(x, axis=0), x)
    assert "k0_softmax" in rows and "memref.alloca" not in rows
    assert "k0_softmax" in blocked and "memref.alloca" in blocked
    loss = kernels(lambda x, lab: st.cross_entropy(x, lab), x, np.zeros(64, np.int64))
    assert "@k0_cross_entropy" in loss and "@k1_cross_entropy_mean" in loss
