"""Correctness of the generated float32 GEMM (spiraltorch.codegen.matmul) against a float64 numpy reference."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from spiraltorch.codegen import gemm_driver as drv
from spiraltorch.codegen import matmul as mm

EPS = np.finfo(np.float32).eps


@pytest.fixture(scope="module")
def kern() -> drv.GemmKernel:
    return drv.default_kernel()


@pytest.fixture(scope="module")
def tiny() -> drv.GemmKernel:
    # small blocks: every loop level (batch, NC, KC, MC, NR, MR, unroll tail) iterates several times
    # and hits its edge at small sizes
    return drv.compile_gemm(mm.GemmConfig(mr=4, nr=16, kc=9, mc=12, nc=32, unroll=4))


def _rand(rng, *shape) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _check(c: np.ndarray, a: np.ndarray, b: np.ndarray, c0: np.ndarray | None = None) -> None:
    """|c - ref| <= 2 sqrt(K) eps (|A| |B| + |C0|) elementwise, ref computed in float64."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref, mag = a64 @ b64, np.abs(a64) @ np.abs(b64)
    if c0 is not None:
        ref, mag = ref + c0, mag + np.abs(c0)
    k = max(a.shape[-1], 1)
    tol = 2 * np.sqrt(k) * EPS * mag + 1e-30
    err = np.abs(c.astype(np.float64) - ref)
    assert c.shape == ref.shape
    assert (err <= tol).all(), f"max err {err.max():.3g}, worst err/tol {(err / tol).max():.3g}"


SHAPES = [
    (1, 1, 1), (17, 31, 7), (2, 3, 5), (6, 64, 256), (7, 65, 257), (5, 63, 255), (14, 32, 256), (1, 100, 1),
    (100, 1, 100), (3, 1000, 5), (1000, 3, 5), (0, 5, 3), (5, 0, 3), (0, 0, 0), (29, 65, 1), (64, 64, 64),
    (300, 70, 513), (41, 47, 43), (151, 40, 30), (5, 2050, 3), (13, 129, 17),
]  # fmt: skip


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_shapes_default_kernel(kern, m, n, k):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a, b = _rand(rng, m, k), _rand(rng, k, n)
    _check(kern(a, b, threads=1), a, b)


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (17, 31, 7), (33, 47, 19), (12, 32, 9), (50, 70, 40), (7, 100, 2)])
def test_shapes_tiny_blocks(tiny, m, n, k):
    rng = np.random.default_rng(m + 1000 * n + k)
    a, b = _rand(rng, m, k), _rand(rng, k, n)
    _check(tiny(a, b, threads=1), a, b)


def test_k_zero_gives_zeros_or_keeps_c(kern):
    a, b = np.ones((5, 0), np.float32), np.ones((0, 7), np.float32)
    out = np.full((5, 7), 3.0, np.float32)
    np.testing.assert_array_equal(kern(a, b, out.copy(), accumulate=True), out)
    np.testing.assert_array_equal(kern(a, b, out), np.zeros((5, 7), np.float32))


@pytest.mark.parametrize("which", ["kern", "tiny"])
def test_accumulate(request, which):
    k = request.getfixturevalue(which)
    rng = np.random.default_rng(1)
    a, b, c0 = _rand(rng, 37, 23), _rand(rng, 23, 45), _rand(rng, 37, 45)
    _check(k(a, b, c0.copy(), accumulate=True), a, b, c0.astype(np.float64))


@pytest.mark.parametrize("which", ["kern", "tiny"])
def test_leading_dimensions_and_untouched_border(request, which):
    k = request.getfixturevalue(which)
    rng = np.random.default_rng(2)
    big_a, big_b = _rand(rng, 40, 50), _rand(rng, 60, 90)
    a, b = big_a[3:22, 5:36], big_b[7:38, 2:83]  # 19x31 @ 31x81 with lda=50, ldb=90
    big_c = np.full((30, 100), 7.0, np.float32)
    out = big_c[4:23, 9:90]
    k(a, b, out, threads=1)
    _check(out, a, b)
    border = big_c.copy()
    border[4:23, 9:90] = 7.0
    np.testing.assert_array_equal(border, np.full((30, 100), 7.0, np.float32))


def test_non_unit_column_stride_is_copied(kern):
    rng = np.random.default_rng(3)
    a, b = _rand(rng, 20, 30).T, _rand(rng, 40, 20)[::2]  # a: column-major, b: every other row
    _check(kern(a, b), a, b)


def test_batched(kern, tiny):
    rng = np.random.default_rng(4)
    a, b = _rand(rng, 5, 19, 23), _rand(rng, 5, 23, 17)
    for k in (kern, tiny):
        _check(k(a, b, threads=1), a, b)


def test_batched_broadcast_and_strided(kern):
    rng = np.random.default_rng(5)
    a, b2 = _rand(rng, 8, 30, 21)[::2, :, 1:], _rand(rng, 20, 33)  # batch stride 2 * 630, lda 21
    c = kern(a, b2, threads=1)
    assert c.shape == (4, 30, 33)
    _check(c, a, np.broadcast_to(b2, (4, 20, 33)))
    a2, b = _rand(rng, 30, 20), _rand(rng, 3, 20, 33)
    _check(kern(a2, b, threads=1), np.broadcast_to(a2, (3, 30, 20)), b)


@pytest.mark.parametrize(
    "shape",
    [(1, 200, 300, 150), (1, 400, 64, 100), (1, 300, 301, 97), (6, 64, 64, 64), (3, 90, 100, 80), (9, 40, 50, 60)],
)
@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_matches_single_thread_bitwise(kern, shape, threads, monkeypatch):
    # chunks split the batch, N or M but never K, so every element sees the same summation order
    monkeypatch.setattr(mm, "PARALLEL_MIN_FLOPS", 0)
    batch, m, n, k = shape
    rng = np.random.default_rng(batch + m + n + k)
    a, b = _rand(rng, batch, m, k), _rand(rng, batch, k, n)
    if batch == 1:
        a, b = a[0], b[0]
    one = kern(a, b, threads=1)
    many = kern(a, b, threads=threads)
    np.testing.assert_array_equal(one, many)
    _check(many, a, b)


def test_concurrent_callers(kern, monkeypatch):
    # callers that find the workers busy run alone; every result must still be right
    monkeypatch.setattr(mm, "PARALLEL_MIN_FLOPS", 0)
    rng = np.random.default_rng(7)
    pairs = [(_rand(rng, 70, 50), _rand(rng, 50, 90)) for _ in range(4)]
    results = [None] * len(pairs)

    def work(i):
        for _ in range(20):
            results[i] = kern(*pairs[i], threads=2)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pairs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, b), c in zip(pairs, results, strict=True):
        _check(c, a, b)


def test_small_problems_stay_on_the_calling_thread(kern, monkeypatch):
    def no_pool(count):
        raise AssertionError("a small product must not use the pool")

    monkeypatch.setattr(drv, "_get_workers", no_pool)
    a = np.ones((32, 32), np.float32)
    np.testing.assert_array_equal(kern(a, a, threads=2), np.full((32, 32), 32.0, np.float32))


@pytest.mark.parametrize(
    "batch,m,n", [(1, 1000, 10), (1, 10, 1000), (7, 50, 50), (8, 5, 5), (1, 5, 5), (2, 100, 100), (3, 64, 64)]
)
def test_split_covers_everything_once(batch, m, n):
    cfg = mm.GemmConfig()
    call = drv.Call(batch, m, n, 8, 0, 8, 8 * m, 0, n, 8 * n, 0, n, m * n, 0)
    covered = np.zeros((batch, m, n), int)
    for ch in drv.split(call, 2, cfg):
        b0 = (ch.c - call.c) // 4 // call.sc if ch.batch != batch else 0
        r0, c0 = divmod((ch.c - call.c) // 4 - b0 * call.sc, call.ldc)
        covered[b0 : b0 + ch.batch, r0 : r0 + ch.m, c0 : c0 + ch.n] += 1
    assert (covered == 1).all()


def test_sub_call_computes_a_block_of_c(kern):
    rng = np.random.default_rng(8)
    a, b = _rand(rng, 3, 40, 30), _rand(rng, 3, 30, 50)
    out = np.zeros((3, 40, 50), np.float32)
    call = drv.describe(a, b, out, False)
    kern.raw(drv.sub_call(call, batch=(1, 3), rows=(5, 23), cols=(7, 44)))
    expect = np.zeros_like(out)
    expect[1:3, 5:23, 7:44] = (a @ b)[1:3, 5:23, 7:44]
    assert (out[expect == 0] == 0).all()
    _check(out[1:3, 5:23, 7:44], a[1:3, 5:23], b[1:3, :, 7:44])


def test_vl8_avx2_style_config():
    k = drv.compile_gemm(mm.GemmConfig(mr=6, nr=16, vl=8, kc=64, mc=48, nc=64))
    rng = np.random.default_rng(6)
    for m, n, k_ in [(1, 1, 1), (17, 31, 7), (50, 70, 90)]:
        a, b = _rand(rng, m, k_), _rand(rng, k_, n)
        _check(k(a, b, threads=1), a, b)


def test_ir_is_explicit_vector_code():
    text = str(mm.build_module())
    assert "llvm.fma.v16f32" in text and "<16 x float>" in text
    assert '@"st_sgemm"(' in text  # llvmlite quotes symbol names


def test_bad_arguments(kern):
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError):
        kern(a, np.ones((5, 2), np.float32))
    with pytest.raises(TypeError):
        kern(a.astype(np.float64), np.ones((4, 2), np.float32))
    with pytest.raises(ValueError):
        kern(a, np.ones((4, 2), np.float32), np.empty((3, 3), np.float32))
    with pytest.raises(ValueError):
        mm.GemmConfig(nr=20)
