"""Accuracy and code-generation tests for spiraltorch.codegen.mathlib.

Each function is JIT-compiled into a y[i] = f(x[i]) kernel and compared with a float64 reference
(numpy; math.erf for erf) in units of float32 ulps of the reference value. The tolerances are
the measured maxima (see the mathlib docstring) rounded up a little, not generous bounds.
"""

import functools
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

from spiraltorch.codegen import mathlib as ml

F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal
DENORM_MIN = 2.0**-149


def _sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


REFERENCE = {
    "exp": np.exp,
    "expm1": np.expm1,
    "log": np.log,
    "log1p": np.log1p,
    "tanh": np.tanh,
    "sigmoid": _sigmoid64,
    "erf": np.vectorize(math.erf, otypes=[np.float64]),
    "sin": np.sin,
    "cos": np.cos,
}

# Max error in ulps (measured maxima are in the mathlib docstring).
TOLERANCE_ULP = {
    "exp": 1.05,
    "expm1": 1.35,
    "log": 0.95,
    "log1p": 0.95,
    "tanh": 1.1,
    "sigmoid": 2.0,
    "erf": 1.15,
    "sin": 2.35,
    "cos": 2.35,
}

# Where the interesting (non-saturated) part of each function lies; sampled uniformly on top of
# random bit patterns, which cover every exponent.
DENSE_RANGES = {
    "exp": [(-104, 89), (-1, 1)],
    "expm1": [(-20, 89), (-1, 1), (-1e-3, 1e-3)],
    "log": [(0, 4), (0, 1e4)],
    "log1p": [(-1, 4), (-1e-3, 1e-3), (0, 1e4)],
    "tanh": [(-10, 10), (-1, 1), (-1e-3, 1e-3)],
    "sigmoid": [(-110, 30), (-10, 10)],
    "erf": [(-4.5, 4.5), (-1, 1)],
    "sin": [(-10, 10), (-1e4, 1e4), (-1e6, 1e6)],
    "cos": [(-10, 10), (-1e4, 1e4), (-1e6, 1e6)],
}
NAMES = sorted(REFERENCE)


def ulp_error(y, ref):
    """|y - ref| in float32 ulps of ref (subnormal ulp below FLT_MIN). inf counts as 2**128 so
    that an overflow at the threshold is an ordinary 1-ulp error; NaN must match NaN."""
    y = y.astype(np.float64)
    y = np.where(np.isinf(y), np.copysign(2.0**128, y), y)
    r = np.clip(ref, -(2.0**128), 2.0**128)  # beyond float32 range: an exact overflow is 0 ulp
    _, e = np.frexp(np.minimum(np.abs(ref), F32_MAX))
    ulp = np.ldexp(1.0, np.maximum(e.astype(np.int64) - 24, -149))
    with np.errstate(invalid="ignore"):
        err = np.abs(y - r) / ulp
    y_nan, r_nan = np.isnan(y), np.isnan(ref)
    return np.where(y_nan | r_nan, np.where(y_nan & r_nan, 0.0, np.inf), err)


@functools.cache
def kernel(name: str, width: int = 1):
    return ml.jit_compile(ml.build_unary_kernel(name, ml.MATH_FUNCTIONS[name], width=width))


def apply(name: str, x, width: int = 1):
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.empty_like(x)
    _engine, fn = kernel(name, width)
    fn(x.ctypes.data, y.ctypes.data, x.size)
    return y


def reference(name: str, x):
    with np.errstate(all="ignore"):
        return REFERENCE[name](np.asarray(x, np.float32).astype(np.float64))


def dense_samples(name: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(sum(map(ord, name)))
    parts = [rng.uniform(lo, hi, n).astype(np.float32) for lo, hi in DENSE_RANGES[name]]
    bits = rng.integers(0, 2**32, 2 * n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    parts.append(bits[np.isfinite(bits)])
    x = np.concatenate(parts)
    if name in ("sin", "cos"):  # documented: NaN beyond SINCOS_MAX_ARG (tested separately)
        x = x[np.abs(x) <= ml.SINCOS_MAX_ARG]
    return x


def assert_ulp(name: str, x, y, tol: float):
    err = ulp_error(y, reference(name, x))
    i = int(np.argmax(err))
    assert err[i] <= tol, f"{name}({x[i]!r}) = {y[i]!r}, reference {reference(name, x[i : i + 1])[0]!r}: {err[i]} ulp"


@pytest.mark.parametrize("name", NAMES)
def test_dense_accuracy(name):
    # math.erf through np.vectorize is ~1 us per element; keep erf's sample smaller.
    x = dense_samples(name, 60_000 if name == "erf" else 400_000)
    assert_ulp(name, x, apply(name, x), TOLERANCE_ULP[name])


COMMON_SPECIALS = [
    0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan, DENORM_MIN, -DENORM_MIN, 1e-40, -1e-40, 2.0**-127,
    F32_TINY, -F32_TINY, F32_MAX, -F32_MAX, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-8, -1e-8, 1e30, -1e30,
]  # fmt: skip
SPECIALS = {
    # overflow threshold ln(FLT_MAX) = 88.7228391, subnormal threshold ln(FLT_MIN) = -87.3365447,
    # results round to 0 below ln(2**-150) = -103.972077
    "exp": [88.72283, 88.722839, 88.72284, 88.7229, 89.0, -87.33654, -87.3366, -100.0, -103.27893, -103.97207,
            -103.9721, -104.0, -1000.0, 1e-7],
    "expm1": [88.72283, 88.72284, 1e-7, -1e-7, 2.0**-25, 17.0, 17.33, -17.33, -30.0, -88.0, 0.34657359],
    "log": [2.0**-149 * 3, 2.0**-130, 2.0**-126 * 0.75, 1.0000001, 0.99999994, 0.70710677, 1.4142135, 1e38, -1e-30],
    "log1p": [-1.0 + 2.0**-24, -0.99999994, -1.0000001, -2.0, 1e-30, -1e-30, 0.41421357, 1.0, 1e38, 2.0**24],
    "tanh": [0.625, 0.62499994, 9.01, 20.0, 44.0, 89.0, -89.0, 1e-30, -1e-30],
    "sigmoid": [88.8, -88.8, 104.0, -104.0, -87.0, -100.0, -110.0, 17.0, 16.0, -16.0],
    "erf": [0.921875, 0.92187494, -0.921875, 3.9, 3.92, 3.93, 4.0, 4.5, 10.0, -10.0, 1e-30],
    "sin": [3.1415927, 1.5707964, -1.5707964, 6.2831855, 1e-4, 1000.0, 102940.45, 4.0e6, ml.SINCOS_MAX_ARG],
    "cos": [3.1415927, 1.5707964, -1.5707964, 6.2831855, 1e-4, 1000.0, 102940.45, 4.0e6, ml.SINCOS_MAX_ARG],
}  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_special_values(name):
    x = np.array(COMMON_SPECIALS + SPECIALS[name], np.float32)
    if name in ("sin", "cos"):
        x = x[~(np.abs(x) > ml.SINCOS_MAX_ARG)]
    y = apply(name, x)
    ref = reference(name, x)
    exact = ~np.isfinite(ref) | (ref == 0) | (np.abs(ref) == 1)
    for xi, yi, ri in zip(x[exact], y[exact], ref[exact], strict=True):
        # non-finite, zero and saturated results must be exact, including the sign of zero
        assert (np.isnan(yi) and np.isnan(ri)) or (yi == ri and np.signbit(yi) == np.signbit(ri)), (
            f"{name}({xi!r}) = {yi!r}, expected {ri!r}"
        )
    assert_ulp(name, x[~exact], y[~exact], TOLERANCE_ULP[name])


def test_specific_edge_semantics():
    inf, nan = math.inf, math.nan
    assert np.array_equal(apply("exp", [-inf, inf, 89.0, -104.0]), [0.0, inf, inf, 0.0])
    assert apply("exp", [-100.0])[0] == np.float32(math.exp(-100.0))  # subnormal result, not flushed
    assert np.array_equal(apply("log", [0.0, -0.0, inf, 1.0]), [-inf, -inf, inf, 0.0])
    assert np.isnan(apply("log", [-1.0, -inf, nan, -DENORM_MIN])).all()
    assert apply("log", [DENORM_MIN])[0] == np.float32(math.log(DENORM_MIN))
    assert np.array_equal(apply("log1p", [-1.0, inf]), [-inf, inf])
    assert np.isnan(apply("log1p", [-1.5, -inf, nan])).all()
    assert np.array_equal(apply("tanh", [inf, -inf, 1e30, -50.0]), [1.0, -1.0, 1.0, -1.0])
    assert np.array_equal(apply("sigmoid", [inf, -inf, 1e30, -1e30, 0.0]), [1.0, 0.0, 1.0, 0.0, 0.5])
    assert np.array_equal(apply("erf", [inf, -inf, 5.0]), [1.0, -1.0, 1.0])
    for name in ("sin", "cos"):
        assert np.isnan(apply(name, [inf, -inf, nan])).all()
        # documented limitation: no Payne-Hanek reduction, so NaN beyond SINCOS_MAX_ARG
        assert np.isnan(apply(name, [ml.SINCOS_MAX_ARG * 2, -1e30, F32_MAX])).all()


@pytest.mark.parametrize("name", NAMES)
def test_vector_form_matches_scalar(name):
    """The <16 x float> form of each emitter must give bit-identical results (n is not a multiple
    of 16, so the scalar tail loop runs too)."""
    x = dense_samples(name, 2000)[:5003]
    assert np.array_equal(apply(name, x, width=16).view(np.uint32), apply(name, x).view(np.uint32))


def test_emitters_reject_unsupported_types():
    import llvmlite.ir as ir

    fn = ir.Function(ir.Module(), ir.FunctionType(ir.DoubleType(), [ir.DoubleType()]), "f")
    builder = ir.IRBuilder(fn.append_basic_block())
    with pytest.raises(TypeError, match="float"):
        ml.emit_exp(builder, fn.args[0])


def test_x86_exp_is_vectorized_without_libcalls():
    if ml.host_target().triple.split("-")[0] not in ("x86_64", "amd64"):
        pytest.skip("x86-specific assembly check")
    asm = ml.emit_assembly(ml.build_unary_kernel("vexp", ml.emit_exp))
    assert "zmm" in asm or "ymm" in asm
    assert "call" not in asm and "expf" not in asm


def _ptxas() -> str | None:
    return shutil.which("ptxas") or next((p for p in ("/usr/local/cuda/bin/ptxas",) if os.access(p, os.X_OK)), None)


@pytest.mark.parametrize("name", NAMES)
def test_nvptx_sm90(name, tmp_path):
    ptx = ml.emit_assembly(ml.build_unary_kernel(name, ml.MATH_FUNCTIONS[name], "nvptx"), "nvptx")
    assert ".target sm_90" in ptx and f".entry {name}(" in ptx
    assert "call" not in ptx  # everything inlined, no libdevice/libm
    ptxas = _ptxas()
    if ptxas is None:
        pytest.skip("ptxas not found (PATH or /usr/local/cuda/bin): PTX generated but not assembled")
    (tmp_path / "k.ptx").write_text(ptx)
    res = subprocess.run(
        [ptxas, "-arch=sm_90", str(tmp_path / "k.ptx"), "-o", str(tmp_path / "k.cubin")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("name", NAMES)
def test_amdgpu_gfx90a(name):
    # emit_object re-parses the IR (AMDGPU codegen mutates the module it is given)
    module = ml.build_unary_kernel(name, ml.MATH_FUNCTIONS[name], "amdgpu")
    obj = ml.emit_object(module, "amdgpu")
    assert obj[:4] == b"\x7fELF" and int.from_bytes(obj[18:20], "little") == 224  # EM_AMDGPU
    assert name.encode() + b".kd" in obj  # kernel descriptor
    asm = ml.emit_assembly(module, "amdgpu")
    assert "s_swappc" not in asm and "s_setpc" not in asm  # no calls
