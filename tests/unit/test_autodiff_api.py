"""st.grad / value_and_grad / vjp / jvp: composition with each other and with st.compile, pytrees,
closures, errors, and the gradient module through the CPU backend against the interpreter."""

import re

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.testing import assert_close

RNG = np.random.default_rng(11)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def mlp_loss(params, x, y):
    h = st.relu(x @ params["w1"] + params["b1"])
    return st.cross_entropy(h @ params["w2"] + params["b2"], y)


def _params():
    return {"w1": f32(8, 16) * 0.5, "b1": f32(16) * 0.1, "w2": f32(16, 4) * 0.5, "b2": f32(4) * 0.1}


def _mlp_grads_numpy(p, x, y):
    z1 = x @ p["w1"] + p["b1"]
    h = np.maximum(z1, 0)
    logits = h @ p["w2"] + p["b2"]
    e = np.exp(logits - logits.max(1, keepdims=True))
    s = e / e.sum(1, keepdims=True)
    d = s.copy()
    d[np.arange(len(y)), y] -= 1
    d /= len(y)
    dh = d @ p["w2"].T * (z1 > 0)
    return {"w1": x.T @ dh, "b1": dh.sum(0), "w2": h.T @ d, "b2": d.sum(0)}


def test_grad_of_params_dict_matches_hand_derivation_on_every_path():
    p, x, y = _params(), f32(32, 8), RNG.integers(0, 4, 32)
    ref = _mlp_grads_numpy(p, x, y)
    eager = st.grad(mlp_loss)(p, x, y)
    compiled_outer = st.compile(st.grad(mlp_loss))(p, x, y)
    compiled_inner = st.grad(st.compile(mlp_loss))(p, x, y)
    interp = st.compile(st.grad(mlp_loss), target="interp")(p, x, y)
    for got in (eager, compiled_outer, compiled_inner, interp):
        assert set(got) == set(ref)
        for k in ref:
            assert_close(got[k], ref[k].astype(np.float32), rtol=1e-4, atol=1e-6, err_msg=k)


def test_value_and_grad_argnums_and_aux():
    p, x, y = _params(), f32(16, 8), RNG.integers(0, 4, 16)

    def loss_aux(params, x, y):
        loss = mlp_loss(params, x, y)
        return loss, {"double": 2.0 * loss}

    (value, aux), (gp, gx) = st.compile(st.value_and_grad(loss_aux, argnums=(0, 1), has_aux=True),
                                        target="interp")(p, x, y)
    expect = st.compile(mlp_loss, target="interp")(p, x, y)
    assert_close(value, expect)
    assert_close(aux["double"], 2 * expect)
    assert gx.shape == x.shape and set(gp) == set(p)
    g_only, aux2 = st.grad(loss_aux, has_aux=True)(p, x, y)
    assert_close(g_only["w1"], gp["w1"], rtol=1e-5, atol=1e-6)
    assert_close(aux2["double"], 2 * expect, rtol=1e-6)


def test_second_derivatives_of_scalar_functions():
    d2 = st.grad(st.grad(lambda x: x**3 + st.sin(x)))
    for x in (0.5, -1.25, 2.0):
        assert_close(d2(np.float64(x)), np.float64(6 * x - np.sin(x)), rtol=1e-12)
    d3 = st.compile(st.grad(st.grad(st.grad(lambda x: st.exp(2.0 * x)))), target="interp")
    assert_close(d3(np.float64(0.3)), np.float64(8 * np.exp(0.6)), rtol=1e-12)


def test_hessian_vector_product_by_forward_over_reverse():
    a = RNG.standard_normal((5, 5))
    a = a @ a.T
    x, v = RNG.standard_normal(5), RNG.standard_normal(5)

    def quad(x):
        return 0.5 * st.sum(x * (a @ x)) + st.sum(st.exp(x))

    @st.compile(target="interp")
    def hvp(x, v):
        return st.jvp(st.grad(quad), (x,), (v,))[1]

    assert_close(hvp(x, v), a @ v + np.exp(x) * v, rtol=1e-12, atol=1e-12)
    # and reverse-over-reverse gives the same
    rr = st.grad(lambda x: st.sum(st.grad(quad)(x) * v))
    assert_close(st.compile(rr, target="interp")(x), a @ v + np.exp(x) * v, rtol=1e-12, atol=1e-12)


def test_jvp_outputs_and_eager():
    x, t = f32(3, 4), f32(3, 4)
    out, tan = st.jvp(lambda x: (st.tanh(x), st.sum(x)), (x,), (t,))
    assert_close(out[0], np.tanh(x), rtol=1e-5, atol=1e-6)
    assert_close(tan[0], (1 - np.tanh(x) ** 2) * t, rtol=1e-5, atol=1e-6)
    assert_close(tan[1], np.float32(t.sum()), rtol=1e-5, atol=1e-5)


def test_vjp_eager_and_traced():
    x, w, ct = f32(3, 4), f32(4, 2), f32(3, 2)
    out, back = st.vjp(lambda x, w: x @ w, x, w)
    gx, gw = back(ct)
    assert_close(out, x @ w, rtol=1e-5, atol=1e-5)
    assert_close(gx, ct @ w.T, rtol=1e-5, atol=1e-5)
    assert_close(gw, x.T @ ct, rtol=1e-5, atol=1e-5)

    @st.compile(target="interp")
    def traced(x, w, ct):
        out, back = st.vjp(lambda x, w: x @ w, x, w)
        return out, back(ct)

    out2, (gx2, gw2) = traced(x, w, ct)
    assert_close(gx2, gx, rtol=1e-6, atol=1e-6)
    assert_close(gw2, gw, rtol=1e-6, atol=1e-6)


def test_vjp_gives_none_for_integer_primals():
    x, n = f32(4), np.arange(4)
    _, back = st.vjp(lambda x, n: x * n.astype(np.float32), x, n)
    gx, gn = back(np.ones(4, np.float32))
    assert gn is None
    assert_close(gx, np.arange(4, dtype=np.float32))


def test_closures_over_traced_values_are_differentiated_by_the_outer_transform():
    # d/dx [ d/dy (x*y) at y=1 ] = 1 (no perturbation confusion)
    assert_close(st.grad(lambda x: st.grad(lambda y: x * y)(1.0))(np.float64(2.0)), np.float64(1.0))

    @st.compile
    def step(w, x):
        return st.grad(lambda w: st.sum((x @ w) ** 2))(w)

    w, x = f32(3, 2), f32(5, 3)
    assert_close(step(w, x), 2 * x.T @ (x @ w), rtol=1e-5, atol=1e-5)


def test_output_independent_of_argument_has_zero_gradient():
    g = st.grad(lambda x, y: st.sum(y * 2.0), argnums=0)(f32(3), f32(3))
    assert_close(g, np.zeros(3, np.float32))


def test_gradient_module_on_cpu_matches_interpreter():
    p, x, y = _params(), f32(64, 8), RNG.integers(0, 4, 64)
    step = st.value_and_grad(mlp_loss)
    cpu = st.compile(step)(p, x, y)
    ref = st.compile(step, target="interp")(p, x, y)
    assert_close(cpu[0], ref[0], rtol=1e-5, atol=1e-6)
    for k in p:
        assert_close(cpu[1][k], ref[1][k], rtol=1e-4, atol=1e-6, err_msg=k)


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


def test_grad_of_integer_argument_is_a_clear_error():
    with pytest.raises(st.TraceError) as err:
        st.grad(lambda n: st.sum(n * 2.0))(np.arange(3))  # LINE-int-arg
    msg = str(err.value)
    assert "int64" in msg and "only floating-point arguments have gradients" in msg
    assert re.search(rf"test_autodiff_api.py:{_line_of('LINE-int-arg')}\b", msg), msg


def test_grad_of_non_scalar_is_a_clear_error():
    with pytest.raises(st.TraceError, match=r"needs a function returning a scalar.*tensor<3xf32>"):
        st.grad(lambda x: x * 2.0)(f32(3))


def test_print_after_autodiff_shows_the_gradient_module():
    lowered = st.compile(st.grad(lambda w: st.sum(st.exp(w)))).lower(f32(3))
    text = lowered.as_text()
    assert "spiral.vjp" in text and "func.func private" in text
    from spiraltorch.passes.registry import PipelineRun

    dumps = []
    PipelineRun("autodiff", {"autodiff"}, lambda name, m: dumps.append(str(m))).run(lowered.module)
    assert len(dumps) == 1 and "spiral.vjp" not in dumps[0] and "private" not in dumps[0]
    assert "spiral.exp" in dumps[0]
