"""Every differentiable op's reverse- and forward-mode rule against central finite differences (float64,
reference interpreter), on random inputs of several shapes; second derivatives for the smooth ones."""

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.autodiff.gradcheck import check_grads

RNG = np.random.default_rng(2024)


def normal(*shape):
    return RNG.standard_normal(shape)


def pos(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def apart(*shape):
    """Distinct values (no ties for max/min/sort), spread out so that small steps keep the order."""
    n = int(np.prod(shape)) if shape else 1
    return (RNG.permutation(n).reshape(shape) * 0.37 + RNG.uniform(-0.05, 0.05, shape)).astype(np.float64)


def labels(shape, classes):
    return RNG.integers(0, classes, shape).astype(np.int64)


UNARY = {
    "neg": (st.negative, normal), "abs": (st.abs, normal), "relu": (st.relu, normal), "exp": (st.exp, normal),
    "log": (st.log, pos), "log1p": (st.log1p, pos), "tanh": (st.tanh, normal), "sigmoid": (st.sigmoid, normal),
    "sqrt": (st.sqrt, pos), "rsqrt": (st.rsqrt, pos), "sin": (st.sin, normal), "cos": (st.cos, normal),
    "erf": (st.erf, normal), "gelu": (st.gelu, normal),
    "gelu_tanh": (lambda x: st.gelu(x, approximate="tanh"), normal),
}
SMOOTH_UNARY = {"neg", "exp", "log", "log1p", "tanh", "sigmoid", "sqrt", "rsqrt", "sin", "cos", "erf", "gelu",
                "gelu_tanh"}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_unary(name, shape):
    fn, make = UNARY[name]
    check_grads(fn, (make(*shape),), order=2 if name in SMOOTH_UNARY else 1)


BINARY = {
    "add": (st.add, normal, normal), "sub": (st.subtract, normal, normal), "mul": (st.multiply, normal, normal),
    "div": (st.divide, normal, pos), "pow": (st.power, pos, normal),
    "maximum": (st.maximum, normal, normal), "minimum": (st.minimum, normal, normal),
    "mod": (st.mod, pos, pos), "floor_divide": (lambda a, b: st.floor_divide(a, b) + a * b, pos, pos),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3))])
def test_binary_broadcasting(name, shapes):
    fn, ma, mb = BINARY[name]
    a, b = ma(*shapes[0]), mb(*shapes[1])
    if name == "mod":  # stay away from the jumps of mod
        b = b + 3.0
    smooth = name in ("add", "sub", "mul", "div", "pow")
    check_grads(fn, (a, b), order=2 if smooth else 1)


def test_scalar_operands_and_where():
    x, y = normal(3, 4), normal(4)
    check_grads(lambda x: 2.0 * x - x / 3.0 + x**3, (x,), order=2)
    check_grads(lambda x, y: st.where(x > 0, x * y, st.exp(y)), (x, y), order=2)


def test_maximum_tie_splits_the_gradient():
    x = np.array([1.0, 2.0, 3.0])
    g = st.compile(st.grad(lambda a, b: st.sum(st.maximum(a, b)), argnums=(0, 1)), target="interp")(x, x.copy())
    np.testing.assert_array_equal(g[0], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(g[1], [0.5, 0.5, 0.5])


def test_max_reduction_ties_split_equally():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    g = st.compile(st.grad(lambda x: st.sum(st.max(x, axis=1))), target="interp")(x)
    np.testing.assert_array_equal(g, [[0, 0.5, 0.5], [1, 0, 0]])


REDUCTIONS = {
    "sum": st.sum, "mean": st.mean, "max": st.max, "min": st.min, "logsumexp": st.logsumexp,
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), ((0, 2), True), (-1, True)])
def test_reductions(name, axis, keepdims):
    fn = REDUCTIONS[name]
    x = apart(2, 3, 4) if name in ("max", "min") else normal(2, 3, 4)
    check_grads(lambda x: fn(x, axis=axis, keepdims=keepdims), (x,), order=1 if name in ("max", "min") else 2)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_family(axis):
    x = normal(3, 5)
    check_grads(lambda x: st.softmax(x, axis=axis), (x,), order=2)
    check_grads(lambda x: st.log_softmax(x, axis=axis), (x,), order=2)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("batch", [(6,), (2, 3), ()])
def test_losses(reduction, batch):
    x, y = normal(*batch, 5), labels(batch, 5)
    check_grads(lambda x, y: st.cross_entropy(x, y, reduction=reduction), (x, y), order=2)
    check_grads(lambda x, y: st.nll_loss(x, y, reduction=reduction), (x, y), order=1)


def test_softmax_gradients_are_stable_for_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [3.0, 2.0, 1.0]], np.float32)
    y = np.array([1, 0])
    g = st.compile(st.grad(lambda x: st.cross_entropy(x, y)), target="interp")(x)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[0], [0.5, -0.5, 0.0], atol=1e-7)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)),
                                   ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4,))])
def test_matmul(sa, sb):
    check_grads(st.matmul, (normal(*sa), normal(*sb)), order=2)


def test_shape_ops():
    x, w1, w2 = normal(2, 3, 4), normal(4, 2, 3), normal(2, 5)
    check_grads(lambda x: st.reshape(x, (6, 4)) * 2.0, (x,), order=2)
    check_grads(lambda x: st.transpose(x, (2, 0, 1)) * w1, (x,))
    check_grads(lambda x: st.broadcast_to(x[:, :1, :], (5, 2, 3, 4)) ** 2, (x,), order=2)
    check_grads(lambda x: x[1:, ::2, ::-1] ** 2, (x,), order=2)
    check_grads(lambda x: x[0, 1] * x[-1, :, 2:3], (x,), order=2)
    check_grads(lambda x: st.concatenate([x, x * 2.0, x[:, :1]], axis=1) ** 2, (x,), order=2)
    check_grads(lambda x: st.stack([x, st.exp(x)], axis=-1), (x,))
    check_grads(lambda x: st.expand_dims(st.squeeze(x[:1], 0), 1) ** 2, (x,), order=2)
    check_grads(lambda x: st.swapaxes(x, 0, 2) @ w2, (x,))


def test_take_along_axis_and_scatter():
    x, w, u, s = normal(3, 6), normal(3, 1), normal(3, 3), normal(3, 3)
    idx = np.array([[0, 5, 5], [1, 1, 2], [4, 0, 3]])
    check_grads(lambda x: st.take_along_axis(x, idx, axis=1) ** 2, (x,), order=2)
    idx_b = np.array([[0], [2], [5]])  # broadcast along the other axis
    check_grads(lambda x: st.take_along_axis(x, idx_b, axis=1) * w, (x,))
    check_grads(lambda u: st.scatter_add_along_axis(idx, u, axis=1, length=6) ** 2, (u,), order=2)
    check_grads(lambda b, s: st.slice_scatter(b, s, (0, 1), (1, 2)) ** 2, (x, s), order=2)


@pytest.mark.parametrize("kind", ["top", "mid", "bottom"])
def test_rankk_values_gradient(kind):
    x, w = apart(3, 9), normal(3, 4)
    check_grads(lambda x: st.rankk(kind, x, 4)[0] * w, (x,))
    check_grads(lambda x: st.rankk(kind, x, 2, axis=0)[0] ** 2, (x,))


def test_rankk_gradient_lands_on_the_selected_indices():
    x = np.array([[0.1, 0.9, 0.5, 0.7]], np.float32)
    g = st.compile(st.grad(lambda x: st.sum(st.topk(x, 2)[0] * np.array([[10.0, 1.0]], np.float32))),
                   target="interp")(x)
    np.testing.assert_array_equal(g, [[0, 10, 0, 1]])


def test_astype_and_integer_paths():
    x = normal(3, 4)
    check_grads(lambda x: st.astype(st.astype(x, np.float32), np.float64) * x, (x,), eps=1e-2, rtol=1e-4)
    # an integer detour carries no gradient, but the rest of the function still does
    check_grads(lambda x: x * st.astype(st.argmax(x, axis=1), np.float64)[:, None] + st.sin(x), (x,))
    check_grads(lambda x: st.where(st.logical_not(x > 0), x, 2.0 * x) * st.astype(st.one_hot(
        st.argmin(x, axis=1), 4), np.float64), (x,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_grad_op(reduction):
    """The one-op gradient of cross_entropy is itself differentiable (grad of grad) in both arguments."""
    from spiraltorch.frontend.ops.common import emit
    from spiraltorch.ir.ops import nn

    x, y = normal(4, 5), labels((4,), 5)
    g = normal() if reduction != "none" else normal(4)
    check_grads(lambda x, g, y: emit(nn.CrossEntropyGradOp, x, st.astype(y, np.int64), g, reduction=reduction),
                (x, g, y), order=2)
