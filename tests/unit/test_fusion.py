"""The fuse pass and the memory planner through the cpu target: fused programs agree with the interpreter, the
canonical cases become the expected number of kernels, and temporaries share workspace by lifetime."""

import numpy as np
import pytest
from xdsl.dialects import func

import spiraltorch as st
from spiraltorch.codegen.cpu_target import kernel_module
from spiraltorch.testing import assert_close

RNG = np.random.default_rng(5)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _kernels(fn, *args) -> list[str]:
    kmod = kernel_module(st.compile(fn).lower(*args))
    return [op.sym_name.data for op in kmod.ops if isinstance(op, func.FuncOp) and "spiral.kernel" in op.attributes]


def gelu_chain(x, a, b):
    z = x * a + b
    return 0.5 * z * (1 + st.tanh(0.79788456 * (z + 0.044715 * z**3)))


def test_gelu_chain_is_one_kernel_and_matches_the_interpreter():
    x, a, b = f32(1000), np.float32(1.3), np.float32(0.2)
    assert len(_kernels(gelu_chain, x, a, b)) == 1
    assert_close(st.compile(gelu_chain)(x, a, b), st.compile(gelu_chain, target="interp")(x, a, b),
                 rtol=2e-6, atol=1e-6)


def test_cross_entropy_forward_and_backward_share_one_row_kernel():
    x, y = f32(64, 10), RNG.integers(0, 10, 64)
    names = _kernels(st.value_and_grad(st.cross_entropy), x, y)
    assert [n for n in names if "cross_entropy" in n] == ["k0_cross_entropy_fwd_bwd", "k1_cross_entropy_fwd_bwd_mean"]
    got = st.compile(st.value_and_grad(st.cross_entropy))(x, y)
    want = st.compile(st.value_and_grad(st.cross_entropy), target="interp")(x, y)
    assert_close(got[0], want[0], rtol=1e-6)
    assert_close(got[1], want[1], rtol=1e-5, atol=1e-8)


def test_loss_whose_cotangent_depends_on_the_loss_is_not_paired():
    x, y = f32(8, 5), RNG.integers(0, 5, 8)
    fn = st.grad(lambda x: st.cross_entropy(x, y) ** 2)
    assert_close(st.compile(fn)(x), st.compile(fn, target="interp")(x), rtol=1e-5, atol=1e-7)


def _mlp_step(w1, b1, w2, b2, x, y):
    def loss(p):
        h = st.relu(x @ p[0] + p[1])
        return st.cross_entropy(h @ p[2] + p[3], y)

    grads = st.grad(loss)((w1, b1, w2, b2))
    return tuple(p - 0.1 * g for p, g in zip((w1, b1, w2, b2), grads, strict=True))


def test_mlp_step_kernels_and_results():
    args = (f32(20, 32), f32(32), f32(32, 5), f32(5), f32(16, 20), RNG.integers(0, 5, 16))
    names = _kernels(_mlp_step, *args)
    assert sum("matmul" in n for n in names) == 5  # 2 forward, 3 backward (dx of the first layer is not needed)
    assert len(names) <= 16, names
    got = st.compile(_mlp_step)(*args)
    want = st.compile(_mlp_step, target="interp")(*args)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", ["f16", "bf16", "f64", "i32"])
def test_fused_chains_round_like_unfused_ops(dtype, monkeypatch):
    x = (RNG.uniform(0.5, 2.0, (7, 9)) * (10 if dtype == "i32" else 1)).astype(st.float32 if dtype == "f32" else {
        "f16": st.float16, "bf16": st.bfloat16, "f64": st.float64, "i32": st.int32}[dtype])

    def fn(x):
        return (x * x + x) * 3 - x

    fused = st.compile(fn)(x)
    monkeypatch.setenv("SPIRAL_FUSE", "0")
    unfused = st.compile(lambda x: fn(x))(x)
    np.testing.assert_array_equal(fused, unfused)
    np.testing.assert_array_equal(fused, st.compile(fn, target="interp")(x))


def test_temporaries_share_the_workspace_by_lifetime():
    def chain(x, w):  # matmuls keep four 64x64 intermediates apart; only two are ever alive at once
        for _ in range(4):
            x = st.tanh(x @ w)
        return x

    f = st.compile(chain)
    x, w = f32(64, 64), f32(64, 64) * 0.1
    assert_close(f(x, w), st.compile(chain, target="interp")(x, w), rtol=1e-4, atol=1e-6)
    (info,) = f.memory_info()
    one = 64 * 64 * 4
    assert info.input_bytes == 2 * one and info.output_bytes == one
    assert info.temporary_bytes < 3 * one + 2 ** 20, info  # + GEMM packing scratch, itself reused


def test_in_place_elementwise_results_are_correct():
    def fn(x, y):
        a = x @ y  # a temporary
        b = st.exp(a)  # may overwrite a (a dies here)
        c = b * 2.0 + a.sum()  # a.sum() keeps a alive past exp: no in-place for b then
        return c @ y

    x, y = f32(16, 16), f32(16, 16) * 0.1
    assert_close(st.compile(fn)(x, y), st.compile(fn, target="interp")(x, y), rtol=1e-4, atol=1e-5)


REDUCTION_CASES = [
    (lambda x, y: st.mean((x - y) ** 2), [(64, 33), (64, 33)]),
    (lambda x, y: st.sum(st.exp(x) * y, axis=0), [(256, 512), (512,)]),
    (lambda x, y: st.max(x * y, axis=1, keepdims=True), [(37, 19), (37, 1)]),
    (lambda x, y: (st.sum(x * y, axis=(0, 2)), x * y + 1), [(5, 6, 7), (7,)]),
    (lambda x, y: st.min(st.tanh(x) + y, axis=0), [(300, 700), (300, 700)]),
    (lambda x, y: st.sum(x.T * y, axis=1), [(40, 30), (30, 40)]),
]


@pytest.mark.parametrize("case", range(len(REDUCTION_CASES)))
def test_reduction_groups_match_the_interpreter(case):
    fn, shapes = REDUCTION_CASES[case]
    args = [f32(*s) for s in shapes]
    got, want = st.compile(fn)(*args), st.compile(fn, target="interp")(*args)
    for g, w in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want)), strict=True):
        assert_close(g, w, rtol=1e-4, atol=1e-4)


def test_mse_is_one_reduction_kernel():
    names = _kernels(lambda x, y: st.mean((x - y) ** 2), f32(64, 33), f32(64, 33))
    assert names == ["k0_fused_mean"], names


EPILOGUE_CASES = [
    (lambda x, w, b: st.relu(x @ w + b), [(256, 784), (784, 512), (512,)]),
    (lambda x, w, b: st.tanh(x @ w + b), [(7, 5), (5, 3), (3,)]),
    (lambda x, w, b: (x @ w, st.relu(x @ w + b)), [(64, 32), (32, 48), (48,)]),
    (lambda x, w, b: st.relu(x.T @ w + b), [(784, 256), (784, 10), (10,)]),  # a swapped plan: C^T = B^T A^T
    (lambda x, w, b: st.relu(x @ w.T + b), [(256, 512), (10, 512), (10,)]),
    (lambda x, w, b: st.gelu(x @ w) * b, [(300, 20), (20, 700), (300, 1)]),
]


@pytest.mark.parametrize("case", range(len(EPILOGUE_CASES)))
@pytest.mark.parametrize("threads", ["1", "2"])
def test_matmul_epilogues_match_the_interpreter(case, threads, monkeypatch):
    monkeypatch.setenv("SPIRAL_NUM_THREADS", threads)
    fn, shapes = EPILOGUE_CASES[case]
    args = [f32(*s) for s in shapes]
    got, want = st.compile(fn)(*args), st.compile(fn, target="interp")(*args)
    for g, w in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want)), strict=True):
        assert_close(g, w, rtol=1e-4, atol=1e-4)


def test_linear_relu_is_one_kernel():
    names = _kernels(lambda x, w, b: st.relu(x @ w + b), f32(64, 32), f32(32, 48), f32(48))
    assert names == ["k0_matmul_epilogue"], names


AFTER_REDUCTION_CASES = [
    (lambda g, b: b - 0.01 * st.sum(g, axis=0), [(256, 512), (512,)]),  # a bias update: one kernel
    (lambda x, e: st.sqrt(st.mean(x * x, axis=1) + e), [(64, 33), (64,)]),  # RMS: one kernel
    (lambda x, e: (st.sum(x * 2.0, axis=1, keepdims=True), st.exp(st.max(x * e, axis=1, keepdims=True)) * 3.0),
     [(37, 19), (37, 1)]),
    (lambda x, e: st.sum(st.tanh(x), axis=(0, 2)) * e + 1.0, [(5, 6, 7), (6,)]),
    (lambda x, e: st.mean(x) * 2.0 - e.sum(), [(30, 40), (3,)]),
    (lambda g, b: (st.sum(g, axis=1), st.max(g, axis=0) + b), [(256, 512), (512,)]),
]


@pytest.mark.parametrize("case", range(len(AFTER_REDUCTION_CASES)))
def test_ops_after_a_reduction_match_the_interpreter(case):
    fn, shapes = AFTER_REDUCTION_CASES[case]
    args = [np.abs(f32(*s)) + 0.1 for s in shapes]
    got, want = st.compile(fn)(*args), st.compile(fn, target="interp")(*args)
    for g, w in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want)), strict=True):
        assert_close(g, w, rtol=1e-4, atol=1e-4)


def test_bias_update_and_rms_are_one_kernel_each():
    fn, shapes = AFTER_REDUCTION_CASES[0]
    assert _kernels(fn, *[f32(*s) for s in shapes]) == ["k0_fused_sum_columns"]
    fn, shapes = AFTER_REDUCTION_CASES[1]
    assert _kernels(fn, *[f32(*s) for s in shapes]) == ["k0_fused_mean"]
