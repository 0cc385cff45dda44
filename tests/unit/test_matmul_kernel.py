"""The generated float32 GEMM (spiraltorch.codegen.matmul): every variant, operand layout (row-/column-major A and
B) and packing plan against a float64 numpy reference, plus compiled programs (JIT and AOT) that use it."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

import runtime
import spiraltorch as st
from spiraltorch.codegen import aot, cpu_target
from spiraltorch.codegen import gemm_driver as drv
from spiraltorch.codegen import matmul as mm
from spiraltorch.ir import text
from spiraltorch.ir.kernel_dialect import GemmOp

EPS = np.finfo(np.float32).eps


@pytest.fixture(scope="module")
def kern() -> drv.GemmKernel:
    return drv.default_kernel()


@pytest.fixture(scope="module")
def tiny() -> drv.GemmKernel:
    # small blocks: every loop level (batch, NC, KC, MC, NR, MR, unroll tail) iterates several times
    # and hits its edge at small sizes; in place reading of A (several K blocks, edge panels) and B too
    return drv.compile_gemm(mm.GemmConfig(mr=4, nr=16, kc=9, mc=12, nc=32, unroll=4, symbol="st_sgemm_tiny"))


def _rand(rng, *shape) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _operand(rng, rows: int, cols: int, col_major: bool, batch: int | None = None) -> np.ndarray:
    """A rows x cols float32 matrix (or batch of them), row-major or column-major (a transposed view)."""
    lead = () if batch is None else (batch,)
    if col_major:
        return np.swapaxes(_rand(rng, *lead, cols, rows), -1, -2)
    return _rand(rng, *lead, rows, cols)


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


# plans: (variant symbol, direct_a, direct_b): each variant with A packed and read in place, the default one
# also with B read in place
PLANS = [(mm.ENTRY, False, False), (mm.ENTRY, True, False), (mm.ENTRY, False, True), ("st_sgemm_n16", True, False),
         ("st_sgemm_n16", False, False), ("st_sgemm_n32", True, False)]  # fmt: skip
LAYOUTS = list(itertools.product([False, True], repeat=2))  # (A column-major, B column-major)
ODD = [(1, 1, 1), (7, 10, 17), (10, 7, 63), (17, 65, 7), (63, 17, 257), (65, 63, 10), (257, 10, 65), (10, 257, 1),
       (1, 65, 257), (65, 1, 17), (17, 17, 17)]  # (M, N, K) from 1, 7, 10, 17, 63, 65, 257  # fmt: skip


def _plan_id(p) -> str:
    return f"{p[0]}{'-directA' if p[1] else ''}{'-directB' if p[2] else ''}"


@pytest.mark.parametrize("plan", PLANS, ids=_plan_id)
@pytest.mark.parametrize("ta,tb", LAYOUTS, ids=lambda v: "TN"[v])
def test_layouts_plans_odd_sizes(plan, ta, tb):
    symbol, da, db = plan
    k = drv.library()[symbol]
    rng = np.random.default_rng(hash((plan, ta, tb)) % 2**32)
    for m, n, kk in ODD:
        a, b = _operand(rng, m, kk, ta), _operand(rng, kk, n, tb)
        _check(k(a, b, threads=1, direct_a=da, direct_b=db), a, b)
        c0 = _rand(rng, m, n)
        _check(k(a, b, c0.copy(), accumulate=True, threads=1, direct_a=da, direct_b=db), a, b, c0.astype(np.float64))


@pytest.mark.parametrize("plan", [p for p in PLANS if mm.VARIANTS[p[0]].trans_c] + [("tiny", False, False),
                                  ("tiny", True, False), ("tiny", False, True)], ids=_plan_id)  # fmt: skip
def test_column_major_c(tiny, plan):
    # variants with trans_c store C column-major (the C^T = B^T A^T plans): every layout, odd sizes, accumulate
    symbol, da, db = plan
    k = tiny if symbol == "tiny" else drv.library()[symbol]
    rng = np.random.default_rng(len(symbol) + 2 * da + db)
    for (ta, tb), (m, n, kk) in itertools.product(LAYOUTS, ODD):
        a, b = _operand(rng, m, kk, ta), _operand(rng, kk, n, tb)
        out = np.empty((n, m), np.float32).T
        _check(k(a, b, out, threads=1, direct_a=da, direct_b=db), a, b)
        c0 = _rand(rng, m, n)
        out = np.array(c0, order="F")
        _check(k(a, b, out, accumulate=True, threads=1, direct_a=da, direct_b=db), a, b, c0.astype(np.float64))
    a, b = _rand(rng, 5, 6), _rand(rng, 6, 7)
    with pytest.raises(ValueError):  # variants without trans_c refuse a column-major C
        drv.library()["st_sgemm_n16"](a, b, np.empty((7, 5), np.float32).T)


@pytest.mark.parametrize("da,db", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("ta,tb", LAYOUTS, ids=lambda v: "TN"[v])
def test_layouts_tiny_blocks(tiny, ta, tb, da, db):
    rng = np.random.default_rng(10 * ta + tb)
    for m, n, k in [(1, 1, 1), (17, 31, 7), (33, 47, 19), (12, 32, 9), (50, 70, 40), (7, 100, 2), (13, 15, 28)]:
        a, b = _operand(rng, m, k, ta), _operand(rng, k, n, tb)
        _check(tiny(a, b, threads=1, direct_a=da, direct_b=db), a, b)
        c0 = _rand(rng, m, n)
        _check(tiny(a, b, c0.copy(), accumulate=True, threads=1, direct_a=da, direct_b=db), a, b, c0.astype(np.float64))


SHAPES = [
    (1, 1, 1), (17, 31, 7), (2, 3, 5), (6, 64, 256), (7, 65, 257), (5, 63, 255), (14, 32, 256), (1, 100, 1),
    (100, 1, 100), (3, 1000, 5), (1000, 3, 5), (0, 5, 3), (5, 0, 3), (0, 0, 0), (29, 65, 1), (64, 64, 64),
    (300, 70, 513), (41, 47, 43), (151, 40, 30), (5, 2050, 3), (13, 129, 17),
]  # fmt: skip


@pytest.mark.parametrize("m,n,k", SHAPES)
def test_shapes_chosen_plan(m, n, k):
    # gemm_driver.matmul runs the plan matmul.choose picks, as compiled programs do
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a, b = _rand(rng, m, k), _rand(rng, k, n)
    _check(drv.matmul(a, b, threads=1), a, b)
    _check(drv.matmul(np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T, threads=1), a, b)


def test_k_zero_gives_zeros_or_keeps_c():
    for symbol, da, db in PLANS:
        k = drv.library()[symbol]
        a, b = np.ones((5, 0), np.float32), np.ones((0, 7), np.float32)
        out = np.full((5, 7), 3.0, np.float32)
        np.testing.assert_array_equal(k(a, b, out.copy(), accumulate=True, direct_a=da, direct_b=db), out)
        np.testing.assert_array_equal(k(a, b, out, direct_a=da, direct_b=db), np.zeros((5, 7), np.float32))


@pytest.mark.parametrize("which", ["kern", "tiny"])
def test_leading_dimensions_and_untouched_border(request, which):
    k = request.getfixturevalue(which)
    rng = np.random.default_rng(2)
    big_a, big_b = _rand(rng, 40, 50), _rand(rng, 90, 90)
    for ta, tb in LAYOUTS:
        for da, db in [(False, False), (True, False), (False, True)]:
            a = big_a[3:22, 5:36] if not ta else big_a[5:36, 3:22].T  # 19x31, lda=50
            b = big_b[7:38, 2:83] if not tb else big_b[2:83, 7:38].T  # 31x81, ldb=90
            big_c = np.full((30, 100), 7.0, np.float32)
            out = big_c[4:23, 9:90]
            k(a, b, out, threads=1, direct_a=da, direct_b=db)
            _check(out, a, b)
            border = big_c.copy()
            border[4:23, 9:90] = 7.0
            np.testing.assert_array_equal(border, np.full((30, 100), 7.0, np.float32))


def test_operands_neither_row_nor_column_major_are_copied(kern):
    rng = np.random.default_rng(3)
    a, b = _rand(rng, 40, 60)[::2, ::3], _rand(rng, 20, 40)[::-1, ::2]  # strides (2 ld, 3) and (-ld, 2)
    assert drv._trans(a) is None and drv._trans(b) is None
    _check(kern(a, b), a, b)
    _check(drv.matmul(a, b), a, b)


@pytest.mark.parametrize("plan", PLANS, ids=_plan_id)
def test_batched_layouts_and_broadcast(plan):
    symbol, da, db = plan
    k = drv.library()[symbol]
    rng = np.random.default_rng(4)
    for ta, tb in LAYOUTS:
        a, b = _operand(rng, 19, 23, ta, batch=5), _operand(rng, 23, 17, tb, batch=5)
        _check(k(a, b, threads=1, direct_a=da, direct_b=db), a, b)
        a2, b2 = _operand(rng, 30, 21, ta), _operand(rng, 21, 10, tb, batch=4)  # A broadcast over the batch
        _check(k(a2, b2, threads=1, direct_a=da, direct_b=db), np.broadcast_to(a2, (4, 30, 21)), b2)
        a3, b3 = _operand(rng, 9, 21, ta, batch=3), _operand(rng, 21, 65, tb)  # B broadcast
        c0 = _rand(rng, 3, 9, 65)
        got = k(a3, b3, c0.copy(), accumulate=True, threads=1, direct_a=da, direct_b=db)
        _check(got, a3, np.broadcast_to(b3, (3, 21, 65)), c0.astype(np.float64))


def test_batched_strided(kern):
    rng = np.random.default_rng(5)
    a, b2 = _rand(rng, 8, 30, 21)[::2, :, 1:], _rand(rng, 20, 33)  # batch stride 2 * 630, lda 21
    c = kern(a, b2, threads=1)
    assert c.shape == (4, 30, 33)
    _check(c, a, np.broadcast_to(b2, (4, 20, 33)))
    at = _rand(rng, 6, 20, 31)[::2].transpose(0, 2, 1)  # column-major entries, batch stride 2 * 620
    _check(kern(at, b2, threads=1, direct_a=True), at, np.broadcast_to(b2, (3, 20, 33)))


@pytest.mark.parametrize(
    "shape",
    [(1, 200, 300, 150), (1, 400, 64, 100), (1, 300, 301, 97), (6, 64, 64, 64), (3, 90, 100, 80), (9, 40, 50, 60),
     (1, 700, 10, 90), (1, 500, 30, 70)],
)
@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_matches_single_thread_bitwise(shape, threads, monkeypatch):
    # chunks split the batch, N or M but never K, so every element sees the same summation order
    monkeypatch.setattr(mm, "PARALLEL_MIN_FLOPS", 0)
    batch, m, n, k = shape
    rng = np.random.default_rng(batch + m + n + k)
    for ta, tb in LAYOUTS:
        a, b = _operand(rng, m, k, ta, batch), _operand(rng, k, n, tb, batch)
        if batch == 1:
            a, b = a[0], b[0]
        one = drv.matmul(a, b, threads=1)
        many = drv.matmul(a, b, threads=threads)
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


@pytest.mark.parametrize("ta,tb", LAYOUTS, ids=lambda v: "TN"[v])
def test_sub_call_computes_a_block_of_c(kern, ta, tb):
    rng = np.random.default_rng(8)
    a, b = _operand(rng, 40, 30, ta, batch=3), _operand(rng, 30, 50, tb, batch=3)
    out = np.zeros((3, 40, 50), np.float32)
    call = drv.describe(a, b, out, False, mm.FLAG_DIRECT_A)
    kern.raw(drv.sub_call(call, batch=(1, 3), rows=(5, 23), cols=(7, 44)))
    expect = np.zeros_like(out)
    expect[1:3, 5:23, 7:44] = (a @ b)[1:3, 5:23, 7:44]
    assert (out[expect == 0] == 0).all()
    _check(out[1:3, 5:23, 7:44], a[1:3, 5:23], b[1:3, :, 7:44])


@pytest.mark.parametrize("m,n,k", [(256, 512, 784), (256, 10, 512), (10, 512, 256), (50, 40, 300), (3, 5, 7)])
def test_workspace_for_is_enough(m, n, k):
    # compiled programs give each band workspace_for(m, n, k) floats (not workspace_floats): a canary after it
    # must survive every layout
    plan = mm.choose(m, n, k)
    kernel = drv.library()[plan.symbol]
    need = plan.cfg.workspace_for(m, n, k)
    assert need <= plan.cfg.workspace_floats
    rng = np.random.default_rng(9)
    for ta, tb in LAYOUTS:
        a, b = _operand(rng, m, k, ta), _operand(rng, k, n, tb)
        out = np.empty((m, n), np.float32)
        buf, addr = drv._aligned_floats(need + 64)
        start = (addr - buf.ctypes.data) // 4
        buf[start + need : start + need + 64] = 12345.0
        kernel._fn(*drv.describe(a, b, out, False, plan.flags), addr)
        assert (buf[start + need : start + need + 64] == 12345.0).all()
        _check(out, a, b)


def test_vl8_avx2_style_config():
    k = drv.compile_gemm(mm.GemmConfig(mr=6, nr=16, vl=8, kc=64, mc=48, nc=64, symbol="st_sgemm_vl8"))
    rng = np.random.default_rng(6)
    for ta, tb in LAYOUTS:
        for m, n, k_ in [(1, 1, 1), (17, 31, 7), (50, 70, 90)]:
            a, b = _operand(rng, m, k_, ta), _operand(rng, k_, n, tb)
            for da, db in [(False, False), (True, False), (False, True)]:
                _check(k(a, b, threads=1, direct_a=da, direct_b=db), a, b)


def test_ir_is_explicit_vector_code():
    text_ = str(mm.build_module())
    assert "llvm.fma.v16f32" in text_ and "<16 x float>" in text_
    assert '@"st_sgemm"(' in text_  # llvmlite quotes symbol names
    both = str(mm.build_module(mm.DEFAULT, mm.VARIANTS["st_sgemm_n16"]))
    assert '@"st_sgemm"(' in both and '@"st_sgemm_n16"(' in both


def test_chooser_table():
    # the W6 products (784-512-512-10 MLP, batch 256) and the small-M case
    assert mm.choose(256, 512, 784) == mm.Plan(mm.DEFAULT)
    assert mm.choose(512, 512, 256) == mm.Plan(mm.DEFAULT)
    assert mm.choose(256, 10, 512) == mm.Plan(mm.VARIANTS["st_sgemm_n16"], direct_a=True)
    assert mm.choose(512, 10, 256) == mm.Plan(mm.VARIANTS["st_sgemm_n16"], direct_a=True)
    assert mm.choose(512, 10, 256, trans_a=True) == mm.Plan(mm.VARIANTS["st_sgemm_n32"], direct_b=True, swap=True)
    assert mm.choose(512, 5, 256, trans_a=True) == mm.Plan(mm.DEFAULT, direct_b=True, swap=True)


    assert mm.choose(10, 512, 256).direct_b
    assert mm.choose(256, 24, 512).symbol == "st_sgemm_n32"
    for m, n, k in itertools.product([1, 10, 37, 256, 5000], [1, 10, 17, 33, 64, 200, 5000], [1, 100]):
        for ta, tb in LAYOUTS:
            plan = mm.choose(m, n, k, ta, tb)
            assert plan.cfg is mm.VARIANTS[plan.symbol]
            assert not (plan.direct_a and plan.direct_b)
            assert not plan.swap or plan.cfg.trans_c


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
    with pytest.raises(ValueError):
        mm.GemmConfig(direct_b=("col",))


# --- compiled programs -------------------------------------------------------------------------------------------
def _x(rng, *shape) -> np.ndarray:
    return rng.uniform(-2, 2, shape).astype(np.float32)


PROGRAMS = {
    "aT_b": (lambda a, b: a.T @ b, [(65, 17), (65, 63)]),
    "a_bT": (lambda a, b: a @ b.T, [(17, 257), (63, 257)]),
    "aT_bT": (lambda a, b: a.T @ b.T, [(7, 10), (65, 7)]),
    "aT_b_skinny": (lambda a, b: a.T @ b, [(256, 63), (256, 10)]),
    "a_bT_skinny": (lambda a, b: a @ b.T, [(257, 65), (10, 65)]),
    "small_m": (lambda a, b: a.T @ b, [(63, 10), (63, 257)]),
    "batched": (lambda a, b: a.transpose(0, 2, 1) @ b, [(3, 17, 10), (3, 17, 65)]),
    "broadcast": (lambda a, b: st.matmul(a, b.transpose(0, 2, 1)), [(10, 63), (4, 7, 63)]),
    "mixed": (lambda a, b: (a.T @ b, a.T @ a, b.T @ a, a[:, ::2].T @ b), [(1, 7), (1, 10)]),
}
# a.T @ b: (70, 300) @ (300, 10) with A column-major: n32 on C^T = B^T A^T; a.T @ a: default with A in place;
# b.T @ a: (10, 300) @ (300, 70): default with B in place; a[:, ::2].T: copied first, then n16
MIXED = PROGRAMS["mixed"][0], [(300, 70), (300, 10)]
MIXED_VARIANTS = ["st_sgemm", "st_sgemm_n16", "st_sgemm_n32"]


def _program_check(got, want, a, b, fn) -> None:
    """Compiled (got) and interpreted (want) outputs of fn(a, b) within 2 sqrt(K) eps |A| |B| of float64."""
    ref = fn(a.astype(np.float64), b.astype(np.float64))
    mag = fn(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
    k = max(*a.shape, *b.shape)  # >= every product's K
    for g, w, r, mg in zip(*(x if isinstance(x, tuple) else (x,) for x in (got, want, ref, mag)), strict=True):
        assert g.shape == w.shape == r.shape and g.dtype == w.dtype == np.float32
        tol = 2 * np.sqrt(k) * EPS * mg + 1e-30
        assert (np.abs(g - r) <= tol).all() and (np.abs(w - r) <= tol).all()


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_compiled_programs_match_interpreter(name):
    fn, shapes = PROGRAMS[name]
    rng = np.random.default_rng(len(name))
    a, b = (_x(rng, *s) for s in shapes)
    got = st.compile(fn, target="cpu")(a, b)
    want = st.compile(fn, target="interp")(a, b)
    _program_check(got, want, a, b, fn)


def test_compiled_program_jit_links_every_variant(monkeypatch):
    # without the disk cache the JIT resolves the variants' symbols (gemm_driver.library registers them)
    monkeypatch.setenv("SPIRAL_CACHE", "0")
    fn, shapes = MIXED
    rng = np.random.default_rng(11)
    a, b = (_x(rng, *s) for s in shapes)
    compiled = st.compile(fn, target="cpu")
    assert aot.gemm_symbols(cpu_target.kernel_module(compiled.lower(a, b))) == MIXED_VARIANTS
    _program_check(compiled(a, b), st.compile(fn, target="interp")(a, b), a, b, fn)


def test_aot_artifact_links_every_variant(tmp_path):
    fn, shapes = MIXED
    rng = np.random.default_rng(12)
    a, b = (_x(rng, *s) for s in shapes)
    lowered = st.compile(fn, target="cpu").lower(a, b)
    assert aot.gemm_symbols(aot.kernel_module(lowered)) == MIXED_VARIANTS
    aot.save(lowered, str(tmp_path / "mm.stpack"))
    _program_check(tuple(runtime.load(tmp_path / "mm.stpack")(a, b)), st.compile(fn, target="interp")(a, b), a, b, fn)


def _gemms_and_copies(fn, *shapes):
    kmod = cpu_target.kernel_module(st.compile(fn, target="cpu").lower(*(np.zeros(s, np.float32) for s in shapes)))
    gemms = [op for op in kmod.walk() if isinstance(op, GemmOp)]
    return gemms, text.to_text(kmod)


@pytest.mark.parametrize("fn,shapes,ta,tb", [
    (lambda a, b: a.T @ b, [(64, 30), (64, 20)], True, False),
    (lambda a, b: a @ b.T, [(30, 64), (20, 64)], False, True),
    (lambda a, b: a.T @ b.T, [(64, 30), (20, 64)], True, True),
    (lambda a, b: a.transpose(0, 2, 1) @ b, [(3, 64, 30), (3, 64, 20)], True, False),
    (lambda a, b: a @ b[:, 1:].T, [(30, 64), (20, 65)], False, True),
])  # fmt: skip
def test_transposed_operands_are_not_copied(fn, shapes, ta, tb):
    (gemm,), kernel_ir = _gemms_and_copies(fn, *shapes)
    assert "_pack" not in kernel_ir and "_copy" not in kernel_ir
    assert bool(gemm.trans_a.value.data) == ta and bool(gemm.trans_b.value.data) == tb


def test_views_neither_row_nor_column_major_are_copied():
    (gemm,), kernel_ir = _gemms_and_copies(lambda a, b: a[::2, ::2] @ b, (40, 60), (30, 20))
    assert "_pack" in kernel_ir
    assert not gemm.trans_a.value.data


def _flag(gemm, name: str) -> bool:
    return bool(getattr(gemm, name).value.data)


def test_lowering_uses_the_chosen_plan():
    (gemm,), _ = _gemms_and_copies(lambda a, b: a @ b, (256, 512), (512, 10))
    plan = mm.choose(256, 10, 512)
    assert gemm.kernel.data == plan.symbol == "st_sgemm_n16" and _flag(gemm, "direct_a")
    assert gemm.work_floats.value.data == plan.cfg.workspace_for(256, 10, 512)


def test_lowering_swaps_small_n_with_column_major_a():
    # h.T @ g of W6's backward pass: (512, 256) @ (256, 10) with h.T column-major runs as g.T @ h = C^T: A' = g.T
    # (column-major), B' = h (row-major, read in place), C^T column-major
    (gemm,), kernel_ir = _gemms_and_copies(lambda h, g: h.T @ g, (256, 512), (256, 10))
    plan = mm.choose(512, 10, 256, True, False)
    assert plan.swap and gemm.kernel.data == plan.symbol == "st_sgemm_n32"
    assert gemm.n.value.data == 512 and gemm.k.value.data == 256
    assert [_flag(gemm, f) for f in ("trans_a", "trans_b", "trans_c", "direct_a", "direct_b")] == [
        True, False, True, False, True]
    assert gemm.lda.value.data == 10 and gemm.ldb.value.data == 512 and gemm.ldc.value.data == 10
    assert "_pack" not in kernel_ir


def _split_of(gemm) -> str:
    """Which range of a kern.gemm the threads' bands split: the one not given by constants."""
    from xdsl.dialects import arith

    split = [name for name, lo in (("batch", gemm.b0), ("rows", gemm.r0), ("cols", gemm.c0))
             if not isinstance(lo.owner, arith.ConstantOp)]
    return split[0] if split else "none"


# (fn, shapes, split with 2 threads, kernel)
THREADED = [
    (lambda a, b: a @ b, [(300, 40), (40, 70)], "rows", "st_sgemm"),
    (lambda a, b: a @ b, [(40, 50), (50, 300)], "cols", "st_sgemm"),
    (lambda a, b: a @ b.T, [(100, 50), (300, 50)], "cols", "st_sgemm"),
    (lambda a, b: a.T @ b, [(50, 300), (50, 10)], "cols", "st_sgemm_n32"),  # C^T = B^T A^T: its columns
    (lambda a, b: a @ b, [(300, 50), (50, 10)], "rows", "st_sgemm_n16"),
    (lambda a, b: a @ b, [(4, 30, 20), (20, 70)], "batch", "st_sgemm"),
]


@pytest.mark.parametrize("case", range(len(THREADED)))
def test_compiled_threads_split_rows_columns_or_batch(case, monkeypatch):
    # every split gives the same bits as one thread: chunks never split K
    fn, shapes, split, kernel = THREADED[case]
    monkeypatch.setattr(mm, "PARALLEL_MIN_FLOPS", 0)
    monkeypatch.setenv("SPIRAL_CACHE", "0")  # the lowering depends on the patched threshold
    rng = np.random.default_rng(case)
    a, b = (_x(rng, *s) for s in shapes)
    results = []
    for threads in ("1", "2"):
        monkeypatch.setenv("SPIRAL_NUM_THREADS", threads)
        (gemm,), _ = _gemms_and_copies(fn, *shapes)
        assert gemm.kernel.data == kernel and _split_of(gemm) == (split if threads == "2" else "batch")  # 1 band
        results.append(st.compile(fn, target="cpu")(a, b))
    np.testing.assert_array_equal(results[0], results[1])
    _program_check(results[1], st.compile(fn, target="interp")(a, b), a, b, fn)
