"""Branch-free, vectorizable float32 math functions emitted as LLVM IR (llvmlite.ir).

`emit_<fn>(builder, x)` takes a `float` or `<N x float>` value and returns one of the same type,
for fn in exp, expm1, log, log1p, tanh, sigmoid, erf, sin, cos (also in MATH_FUNCTIONS). The code
uses only fadd/fsub/fmul/fdiv, `llvm.fma`, `llvm.fabs`, fcmp + select, bitcasts and i32
add/sub/shift/and/xor: no branches, no libm calls and no llvm.exp/log/sin/cos intrinsics
(llvm.exp is scalarized into expf calls on x86 and aborts the process on NVPTX). The loop
vectorizer therefore widens it, and the same IR lowers for nvptx64 and amdgcn. No fast-math
flags: Cody-Waite reduction and the Fast2Sum corrections rely on exact IEEE rounding. On an x86
CPU without FMA, llvm.fma becomes a call to fmaf (still correct, but slow).

Accuracy, in float32 ulps of the float64 reference (numpy, math.erf for erf), measured on x86-64
(round to nearest, subnormals not flushed) by running the JIT kernels over every float32 input
(2**32 bit patterns; for erf every float in [0, 4], plus a check that erf(-x) = -erf(x); above 4
erf returns exactly 1). tests/unit/test_mathlib.py checks the same bounds on 1-2M samples per
function and on special values.

    fn       max ulp  worst input        inputs > 1 ulp    method
    exp      1.013    59.306038          18                Cody-Waite ln2 (2 parts, fma), deg-6 poly
    expm1    1.325    0.34945738         102365            same reduction, deg-7 poly
    log      0.919    1.5664918          0                 mantissa in [sqrt(.5), sqrt(2)), deg-10 poly
    log1p    0.905    -0.2933281         0                 log of u = 1 + x plus rounding error c/u
    tanh     1.086    0.6922104          8910              deg-13 odd poly / 1 - 2/(exp(2|x|)+1)
    sigmoid  1.967    -6.237699          4.9M (0.11 %)     exp(-|x|), one division, Fast2Sum
    erf      1.100    0.93682694         -                 deg-13 odd poly / 1 - exp(deg-7 poly)
    sin      2.307    5976449.5          0.99M (0.02 %)    3-part Cody-Waite pi/2, deg-9 poly
    cos      2.317    3706283.0          0.94M (0.02 %)    same, deg-10 poly

Special values (tested):
  exp      exp(-inf) = 0, exp(+inf) = inf, NaN -> NaN. Overflows to inf from x > 88.7228. Results
           below FLT_MIN (x in [-103.97, -87.34]) are computed as subnormals, not flushed (they are
           rounded twice, within 1 subnormal ulp); 0 below -103.97.
  expm1    -1 from x < -17.33 (rounded), inf from x > 88.7228; returns x itself for |x| < 2**-25
           (keeps -0 and subnormal inputs exact).
  log      log(+-0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN -> NaN. Subnormal inputs are
           scaled by 2**23 before the exponent is extracted, so they are as accurate as normals.
  log1p    log1p(-1) = -inf, x < -1 -> NaN, log1p(inf) = inf, -0 -> -0, subnormals -> themselves.
  tanh     tanh(+-inf) = +-1, exactly +-1 from |x| >= 9.01, -0 -> -0; never NaN for finite x.
  sigmoid  1 / (1 + exp(-x)) evaluated from e = exp(-|x|) in (0, 1], so nothing overflows:
           sigmoid(+inf) = 1, sigmoid(-inf) = 0, no NaN for any finite x, subnormal results for
           x in [-103.97, -87.34] like exp.
  erf      erf(+-inf) = +-1, exactly +-1 from |x| >= 3.92, -0 -> -0.
  sin/cos  +-inf and NaN -> NaN; sin(-0) = -0. Range reduction: q = rint(x * 2/pi) (magic-number
           rounding), r = x - q*pi/2 with pi/2 split into three float32 parts (~72 bits) and fma.
           Max error by |x| (every positive float, per binade): <= 0.62 ulp for |x| < 0.5,
           <= 1.5 up to 2**17, <= 1.55 up to 2**19, <= 1.81 up to 2**20, <= 2.08 up to 2**21,
           <= 2.32 up to SINCOS_MAX_ARG = 1.5 * 2**22 = 6291456 (the growth comes from rounding r
           twice while it cancels q*pi/2 terms that grow with |x|). Beyond SINCOS_MAX_ARG the
           magic-number rint no longer works and there is no Payne-Hanek reduction, so sin/cos
           return NaN there (documented, tested).

Throughput (benchmarks/bench_mathlib.py: y = f(x) over 16M float32, one thread, median of 9
runs, 8 bytes per element; numpy with out=; LLVM reports the host CPU as rocketlake, AVX-512,
and 512-bit vectors are enabled in host_target; 2 vCPUs shared with other jobs, so +-20 %):

    fn       ours ms  GB/s   numpy ms   GB/s   numpy/ours
    exp         7.2   18.7        9.0   14.9   1.3x
    expm1       8.8   15.3        7.4   18.2   0.8x
    log         7.1   19.0        8.9   15.1   1.3x
    log1p      10.1   13.3       10.6   12.7   1.1x
    tanh       11.6   11.6        7.2   18.6   0.6x   (two paths + a division; numpy uses SVML)
    sigmoid    10.0   13.4       19.0    7.1   1.9x   (numpy: in-place 1/(1+exp(-x)), 4 passes)
    erf        11.9   11.3     1603      0.1   134x   (numpy has no erf: math.erf per element)
    sin         8.1   16.6       10.9   12.3   1.3x
    cos         7.8   17.2       11.3   11.9   1.5x
    np.copyto   4.7   28.8                            (the memory-bandwidth bound)
Without 512-bit vectors (LLVM's default tuning for this CPU, ymm) exp took 12.2 ms instead of 8.9.
The kernels are compute-bound here (~2 vector ops per cycle on this core), not memory-bound.

GPU targets: the same emitters compile for nvptx64-nvidia-cuda (sm_90, checked with
`ptxas -arch=sm_90`) and amdgcn-amd-amdhsa (gfx90a object code); neither was run on a GPU.
fdiv (tanh, sigmoid, log1p) becomes an IEEE division sequence there (div.rn.f32 on PTX). No
denormal-fp-math attributes are set, so subnormal handling follows each target's default
(NVPTX emits non-.ftz instructions).

build_unary_kernel / jit_compile / emit_assembly / emit_object build and compile standalone
`void f(float* x, float* y, i64 n)` kernels for tests and benchmarks; the target is a
parameter ("host", "nvptx", "amdgpu" or a Target).
"""

from __future__ import annotations

import ctypes
import functools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import llvmlite.binding as llvm
import llvmlite.ir as ir

F32 = ir.FloatType()
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)

# An emitter maps (builder, float or <N x float> value) -> value of the same type.
Emitter = Callable[[ir.IRBuilder, ir.Value], ir.Value]


def _f32(v: float) -> float:
    """Round to the nearest float32: LLVM rejects float literals that are not exactly representable."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def _hex(s: str) -> float:
    return _f32(float.fromhex(s))


def _hexes(*s: str) -> tuple[float, ...]:
    return tuple(map(_hex, s))


# --- constants ---------------------------------------------------------------------------------
# Adding MAGIC (1.5 * 2**23) to |v| < 2**22 rounds v to the nearest integer and leaves that
# integer in the low mantissa bits, so bitcast(v + MAGIC) - MAGIC_BITS is rint(v) as an i32
# without fptosi (fptosi of NaN/inf is poison; this is merely garbage that gets selected away).
_MAGIC = 12582912.0
_MAGIC_BITS = 0x4B400000
_LOG2E = _hex("0x1.715476p+0")
# ln2 = LN2_HI + LN2_LO (+ 9e-17). With fma, n*LN2_HI is exact inside the fma and
# x - n*LN2_HI is exactly representable for |x| <= 104, so the first reduction step is exact.
_LN2_HI = _hex("0x1.62e430p-1")
_LN2_LO = _hex("-0x1.05c610p-29")
# pi/2 = PIO2[0] + PIO2[1] + PIO2[2] (+ 1.1e-23): three-part Cody-Waite reduction for sin/cos.
_PIO2 = _hexes("0x1.921fb6p+0", "-0x1.777a5cp-25", "-0x1.ee59dap-50")
_TWO_OVER_PI = _hex("0x1.45f306p-1")
_SQRT_HALF_BITS = 0x3F3504F3  # bits of sqrt(0.5): log reduces the mantissa to [sqrt(.5), sqrt(2))
_FLT_MIN = 2.0**-126

# Minimax polynomials (Lawson iteration on float64, coefficients rounded to float32 one at a time
# and the rest re-fitted after each rounding). Each comment gives the approximated function, its
# range and the fit's own error (the emitted code adds float32 rounding on top).
# exp(r) = 1 + r + r^2 * P(r), |r| <= ln2/2: rel. error 3e-9.
_EXP_P = _hexes("0x1.fffffcp-2", "0x1.555492p-3", "0x1.5558b0p-5", "0x1.123990p-7", "0x1.6a4daap-10")
# expm1(r) = r + r^2 * P(r), |r| <= ln2/2: rel. error 4e-10.
_EXPM1_P = _hexes(
    "0x1.000000p-1", "0x1.555554p-3", "0x1.5554f8p-5", "0x1.1112dap-7", "0x1.6d3a40p-10", "0x1.9e6f62p-13"
)
# log1p(f) = f + f^2 * Q(f), f in [sqrt(.5)-1, sqrt(2)-1]: rel. error 4e-9.
_LOG_Q = _hexes(
    "-0x1.fffff8p-2", "0x1.555550p-2", "-0x1.000438p-2", "0x1.99a428p-3", "-0x1.542420p-3", "0x1.226b26p-3",
    "-0x1.0f4cc4p-3", "0x1.087e42p-3", "-0x1.38523ap-4",
)  # fmt: skip
# tanh(x) = x + x^3 * T(x^2), |x| < TANH_SPLIT: rel. error 1e-8.
_TANH_SPLIT = 0.625
_TANH_T = _hexes(
    "-0x1.555556p-2", "0x1.1110eep-3", "-0x1.ba0434p-5", "0x1.64557ap-6", "-0x1.0f6726p-7", "0x1.244820p-9"
)
# erf(x) = x + x * P(x^2), |x| < ERF_SPLIT: rel. error 1e-9.
_ERF_SPLIT = 0.921875
_ERF_SMALL = _hexes(
    "0x1.06eba8p-3", "-0x1.812740p-2", "0x1.ce2d64p-4", "-0x1.b80116p-6", "0x1.5449a2p-8", "-0x1.a60228p-11",
    "0x1.4f3da2p-14",
)  # fmt: skip
# log(erfc(t)) = B(t), ERF_SPLIT <= t <= 4 (erf rounds to 1 from 3.92 on): abs. error 1e-10 in erf.
_ERF_BIG = _hexes(
    "0x1.71dac8p-13", "-0x1.21286ep+0", "-0x1.4443d2p-1", "-0x1.bb97e8p-4", "0x1.9bc358p-6", "-0x1.11acc6p-8",
    "0x1.c8a59ep-12", "-0x1.6371a6p-16",
)  # fmt: skip
# sin(r) = r + r^3 * S(r^2), cos(r) = 1 - r^2/2 + r^4 * C(r^2), |r| <= 1.05: rel. error 5e-10, 4e-11.
# (|r| <= pi/4 for an exact quadrant; the float32 2/pi in the quadrant estimate lets |r| reach
# 1.04 near SINCOS_MAX_ARG.)
_SIN_S = _hexes("-0x1.555554p-3", "0x1.111088p-7", "-0x1.9fd5d6p-13", "0x1.64c0d8p-19")
_COS_C = _hexes("0x1.555556p-5", "-0x1.6c1704p-10", "0x1.a022ccp-16", "-0x1.2503b6p-22")


# --- type-generic emission helpers ---------------------------------------------------------------
class _Ops:
    """Emission helpers for one float type: `float` or `<N x float>`. Python floats/ints passed
    as operands become constants (splatted for vectors), so the math code reads like scalar code."""

    def __init__(self, builder: ir.IRBuilder, ty: ir.Type):
        if isinstance(ty, ir.VectorType):
            if ty.element != F32:
                raise TypeError(f"mathlib supports float32 vectors only, got {ty}")
            self.count = ty.count
        elif ty == F32:
            self.count = 0
        else:
            raise TypeError(f"mathlib supports float and <N x float>, got {ty}")
        self.b = builder
        self.ty = ty
        self.ity = ir.VectorType(I32, self.count) if self.count else I32

    # constants and conversions
    def _const(self, elt: ir.Type, ty: ir.Type, v) -> ir.Constant:
        c = ir.Constant(elt, v)
        return ir.Constant(ty, [c] * self.count) if self.count else c

    def f(self, v) -> ir.Value:
        return v if isinstance(v, ir.Value) else self._const(F32, self.ty, _f32(float(v)))

    def i(self, v) -> ir.Value:
        return v if isinstance(v, ir.Value) else self._const(I32, self.ity, int(v))

    def bits(self, x):
        return self.b.bitcast(x, self.ity)

    def flt(self, n):
        return self.b.bitcast(n, self.ty)

    # float arithmetic (no fast-math flags: the reductions rely on exact IEEE rounding)
    def add(self, a, b):
        return self.b.fadd(self.f(a), self.f(b))

    def sub(self, a, b):
        return self.b.fsub(self.f(a), self.f(b))

    def mul(self, a, b):
        return self.b.fmul(self.f(a), self.f(b))

    def div(self, a, b):
        return self.b.fdiv(self.f(a), self.f(b))

    def neg(self, a):
        return self.b.fneg(self.f(a))

    def fma(self, a, b, c):
        return self._intrinsic("fma", self.f(a), self.f(b), self.f(c))

    def fabs(self, x):
        return self._intrinsic("fabs", x)

    def _intrinsic(self, name: str, *args):
        # llvmlite's declare_intrinsic cannot mangle vector types, so name the overload ourselves.
        full = f"llvm.{name}." + (f"v{self.count}f32" if self.count else "f32")
        module = self.b.module
        fn = module.globals.get(full)
        if fn is None:
            fn = ir.Function(module, ir.FunctionType(self.ty, [self.ty] * len(args)), full)
        return self.b.call(fn, args)

    # comparisons and selection ("o" compares are false for NaN, "u" compares are true)
    def cmp(self, op: str, a, b, ordered: bool = True):
        fcmp = self.b.fcmp_ordered if ordered else self.b.fcmp_unordered
        return fcmp(op, self.f(a), self.f(b))

    def sel(self, cond, a, b):
        return self.b.select(cond, self.f(a), self.f(b))

    def clamp(self, x, lo: float, hi: float):
        """Clamp that lets NaN through (minnum/maxnum would turn NaN into a bound)."""
        x = self.sel(self.cmp("<", x, lo), lo, x)
        return self.sel(self.cmp(">", x, hi), hi, x)

    # integer helpers on the same lane count
    def iadd(self, a, b):
        return self.b.add(self.i(a), self.i(b))

    def isub(self, a, b):
        return self.b.sub(self.i(a), self.i(b))

    def shl(self, a, b):
        return self.b.shl(self.i(a), self.i(b))

    def ashr(self, a, b):
        return self.b.ashr(self.i(a), self.i(b))

    def iand(self, a, b):
        return self.b.and_(self.i(a), self.i(b))

    def imin(self, a, b):
        return self.b.select(self.b.icmp_signed("<", self.i(a), self.i(b)), self.i(a), self.i(b))

    def poly(self, x, coefs):
        """Horner evaluation of coefs[0] + coefs[1]*x + ... with fma."""
        acc = self.f(coefs[-1])
        for c in reversed(coefs[:-1]):
            acc = self.fma(acc, x, c)
        return acc

    def copysign(self, mag, sign):
        """|mag| with the sign bit of `sign` (mag must already be non-negative)."""
        s = self.iand(self.bits(sign), -0x80000000)
        return self.flt(self.b.or_(self.bits(mag), s))

    def rint_magic(self, x, scale: float):
        """(k, n) with n = rint(x*scale) as i32 and k = n as float; needs |x*scale| < 2**22."""
        t = self.fma(x, scale, _MAGIC)
        return self.sub(t, _MAGIC), self.isub(self.bits(t), _MAGIC_BITS)

    def pow2(self, n):
        """2**n as float for n in [-126, 127], by building the exponent field."""
        return self.flt(self.shl(self.iadd(n, 127), 23))


# --- exp family ----------------------------------------------------------------------------------
def _reduce_ln2(o: _Ops, x):
    """x = n*ln2 + r with |r| <= ln2/2; returns (r, n as i32). Needs |x| <= 104."""
    k, n = o.rint_magic(x, _LOG2E)
    r = o.fma(k, -_LN2_HI, x)  # exact: see _LN2_HI
    return o.fma(k, -_LN2_LO, r), n


def _exp_clamped(o: _Ops, x, wide: bool = True):
    """exp(x) for x in [-104, 100] or NaN. The 2**n scale is applied as two factors 2**(n>>1) and
    2**(n - (n>>1)): both are normal floats, so results just below FLT_MAX do not overflow early
    and subnormal results are computed (rounded twice, <= 1 ulp) instead of being flushed.
    wide=False: a single 2**n factor, 5 instructions less, for callers whose x stays in [-87, 88]
    (normal results); the values are bit-identical there."""
    r, n = _reduce_ln2(o, x)
    t = o.fma(o.mul(r, r), o.poly(r, _EXP_P), r)  # exp(r) - 1
    if not wide:
        s = o.pow2(n)
        return o.fma(s, t, s)
    n1 = o.ashr(n, 1)
    s1 = o.pow2(n1)
    # s1 * (1 + t) as one fma (s1 is a power of two, so this is just 1 + t rounded, scaled).
    return o.mul(o.fma(s1, t, s1), o.pow2(o.isub(n, n1)))


def emit_exp(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """exp(x). Clamping to [-104, 100] maps -inf to 0 and +inf/large to inf through the normal path."""
    o = _Ops(builder, x.type)
    return _exp_clamped(o, o.clamp(x, -104.0, 100.0))


def _expm1_core(o: _Ops, x):
    # Below -30 expm1 rounds to -1; above 89 it overflows. 89 keeps n <= 128 so 2**(n-1) is normal.
    r, n = _reduce_ln2(o, o.clamp(x, -30.0, 89.0))
    p = o.fma(o.mul(r, r), o.poly(r, _EXPM1_P), r)  # expm1(r)
    # expm1(x) = 2 * (h*p + (h - 0.5)) with h = 2**(n-1), so that n = 128 does not overflow h.
    # For n <= 24, h - 0.5 is exact and the fma rounds once. For n > 24 it would round, so use h
    # instead and fold the lost -0.5 into p as -0.5/h = -2**-n (rounding p there costs < 0.25 ulp).
    h = o.pow2(o.isub(n, 1))
    big = o.b.icmp_signed(">", n, o.i(24))
    p = o.sel(big, o.sub(p, o.pow2(o.isub(0, o.imin(n, 100)))), p)  # min keeps 2**-n normal
    res = o.mul(o.fma(h, p, o.sel(big, h, o.sub(h, 0.5))), 2.0)
    # |x| < 2**-25: expm1(x) rounds to x; this also keeps -0 and subnormals exact.
    return o.sel(o.cmp("<", o.fabs(x), 2.0**-25), x, res)


def emit_expm1(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """exp(x) - 1, accurate near 0."""
    return _expm1_core(_Ops(builder, x.type), x)


def emit_tanh(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """tanh(x) = x + x^3 T(x^2) for |x| < 0.625; else sign(x) * (1 - 2 / (exp(2|x|) + 1)), which
    saturates to exactly 1 once exp(2|x|) is large."""
    o = _Ops(builder, x.type)
    ax = o.fabs(x)
    x2 = o.mul(ax, ax)
    small = o.fma(o.mul(ax, x2), o.poly(x2, _TANH_T), ax)
    # tanh rounds to 1 from |x| = 9.01; capping at 40 keeps e + 1 finite (inf would give NaN in lo).
    e = _exp_clamped(o, o.clamp(o.mul(ax, 2.0), 0.0, 40.0), wide=False)
    # q = 2 / (e + 1), corrected for the rounding error lo of d = e + 1 (Fast2Sum, e >= 1):
    # 2 / (d + lo) ~= q - lo * q^2 / 2.
    d = o.add(e, 1.0)
    lo = o.sub(1.0, o.sub(d, e))
    q = o.div(2.0, d)
    q = o.fma(o.mul(lo, q), o.mul(q, -0.5), q)
    big = o.sub(1.0, q)
    return o.copysign(o.sel(o.cmp("<", ax, _TANH_SPLIT), small, big), x)


def emit_sigmoid(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """1 / (1 + exp(-x)), computed from e = exp(-|x|) in (0, 1] so nothing overflows:
    x >= 0: 1 / (1 + e); x < 0: e / (1 + e) (keeps subnormal results down to exp's range)."""
    o = _Ops(builder, x.type)
    e = _exp_clamped(o, o.clamp(o.neg(o.fabs(x)), -104.0, 0.0))
    neg = o.cmp("<", x, 0.0)
    d = o.add(e, 1.0)
    lo = o.sub(e, o.sub(d, 1.0))  # exact rounding error of d (Fast2Sum: 1 >= e)
    q = o.div(o.sel(neg, e, 1.0), d)
    # num / (d + lo) ~= q - q * lo / d, and 1/d is q (x >= 0) or 1 - q (x < 0): no second division.
    inv_d = o.sel(neg, o.sub(1.0, q), q)
    return o.fma(o.neg(o.mul(q, lo)), inv_d, q)


def emit_erf(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """erf(x): odd polynomial for |x| < 0.921875, else 1 - exp(B(|x|)) with B ~ log(erfc)."""
    o = _Ops(builder, x.type)
    ax = o.fabs(x)
    small = o.fma(ax, o.poly(o.mul(ax, ax), _ERF_SMALL), ax)
    t = o.clamp(ax, 0.0, 4.0)  # erf rounds to 1 from 3.92 on; NaN passes through
    big = o.sub(1.0, _exp_clamped(o, o.poly(t, _ERF_BIG), wide=False))  # B(t) in [-18, 0]
    return o.copysign(o.sel(o.cmp("<", ax, _ERF_SPLIT), small, big), x)


# --- log family ----------------------------------------------------------------------------------
def _log_reduce(o: _Ops, x):
    """For positive normal x: x = 2**k * (1 + f) with 1 + f in [sqrt(.5), sqrt(2)). Returns
    (k as float, f); f = m - 1 is exact (Sterbenz), which keeps log accurate near 1."""
    ix = o.bits(x)
    k = o.ashr(o.isub(ix, _SQRT_HALF_BITS), 23)
    m = o.flt(o.isub(ix, o.shl(k, 23)))
    return o.b.sitofp(k, o.ty), o.sub(m, 1.0)


def _log_combine(o: _Ops, k, f, corr=None):
    """k*ln2 + log1p(f) + corr, with log1p(f) = f + f^2 Q(f). A correction is added to the small
    term f^2 Q(f) (not to f) so that f + (...) is the only rounding of the large term."""
    if corr is None:
        p = o.fma(o.mul(f, f), o.poly(f, _LOG_Q), f)
    else:
        p = o.add(f, o.fma(o.mul(f, f), o.poly(f, _LOG_Q), corr))
    return o.fma(k, _LN2_HI, o.fma(k, _LN2_LO, p))


def emit_log(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Natural log. Subnormals are scaled by 2**23 first so their exponent can be read off."""
    o = _Ops(builder, x.type)
    tiny = o.cmp("<", x, _FLT_MIN)
    k, f = _log_reduce(o, o.mul(x, o.sel(tiny, 2.0**23, 1.0)))
    res = _log_combine(o, o.sub(k, o.sel(tiny, 23.0, 0.0)), f)
    res = o.sel(o.cmp("==", x, 0.0), -math.inf, res)
    res = o.sel(o.cmp("==", x, math.inf), math.inf, res)
    return o.sel(o.cmp("<", x, 0.0, ordered=False), math.nan, res)  # x < 0 or NaN


def emit_log1p(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """log(1 + x). u = 1 + x is rounded; the rounding error c = (1 + x) - u is recovered exactly
    (Sterbenz in either branch) and added as c/u, since log(u + c) = log(u) + c/u + O((c/u)^2)."""
    o = _Ops(builder, x.type)
    u = o.add(x, 1.0)
    k, f = _log_reduce(o, u)
    c = o.sel(o.cmp(">=", u, 2.0), o.sub(1.0, o.sub(u, x)), o.sub(x, o.sub(u, 1.0)))
    res = _log_combine(o, k, f, o.div(c, u))
    res = o.sel(o.cmp("==", x, 0.0), x, res)  # keep the sign of -0
    res = o.sel(o.cmp("==", x, -1.0), -math.inf, res)
    res = o.sel(o.cmp("==", x, math.inf), math.inf, res)
    return o.sel(o.cmp("<", x, -1.0, ordered=False), math.nan, res)  # x < -1 or NaN


# --- sin / cos -----------------------------------------------------------------------------------
# |x * 2/pi| must stay below 2**22 for the magic-number rint; beyond this sin/cos return NaN.
SINCOS_MAX_ARG = 1.5 * 2.0**22


def _sincos(o: _Ops, x, quadrant_offset: int):
    """sin(x + quadrant_offset * pi/2) via x = q*pi/2 + r (three-part Cody-Waite, |r| <= ~pi/4)."""
    big = o.cmp(">", o.fabs(x), SINCOS_MAX_ARG, ordered=False)  # also inf/NaN
    xr = o.sel(big, 0.0, x)  # keep the reduction in its valid range; the result is replaced below
    k, q = o.rint_magic(xr, _TWO_OVER_PI)
    r = xr
    for c in _PIO2:
        r = o.fma(k, -c, r)
    r2 = o.mul(r, r)
    s = o.fma(o.mul(r, r2), o.poly(r2, _SIN_S), r)
    c = o.fma(r2, o.fma(r2, o.poly(r2, _COS_C), -0.5), 1.0)
    j = o.iadd(q, quadrant_offset)
    odd = o.b.icmp_signed("!=", o.iand(j, 1), o.i(0))
    v = o.sel(odd, c, s)
    v = o.flt(o.b.xor(o.bits(v), o.shl(o.iand(j, 2), 30)))  # quadrants 2, 3 negate
    return o.sel(big, math.nan, v)


def emit_sin(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    o = _Ops(builder, x.type)
    # |x| < 2**-12: sin(x) rounds to x; this also keeps -0 (the reduction's fmas turn it into +0).
    return o.sel(o.cmp("<", o.fabs(x), 2.0**-12), x, _sincos(o, x, 0))


def emit_cos(builder: ir.IRBuilder, x: ir.Value) -> ir.Value:
    o = _Ops(builder, x.type)
    return _sincos(o, x, 1)


MATH_FUNCTIONS: dict[str, Emitter] = {
    "exp": emit_exp,
    "expm1": emit_expm1,
    "log": emit_log,
    "log1p": emit_log1p,
    "tanh": emit_tanh,
    "sigmoid": emit_sigmoid,
    "erf": emit_erf,
    "sin": emit_sin,
    "cos": emit_cos,
}


# --- targets, test kernels, JIT --------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """Where a kernel is compiled for. `kernel_cc` is the entry-point calling convention (None for
    the host, where the kernel is a plain C function) and `addrspace` that of its global pointers."""

    name: str
    triple: str
    cpu: str
    features: str = ""
    kernel_cc: str | None = None
    addrspace: int = 0

    @property
    def is_gpu(self) -> bool:
        return self.kernel_cc is not None


NVPTX = Target("nvptx", "nvptx64-nvidia-cuda", "sm_90", "+ptx80", "ptx_kernel", 1)
AMDGPU = Target("amdgpu", "amdgcn-amd-amdhsa", "gfx90a", "", "amdgpu_kernel", 1)


@functools.cache
def _init_llvm() -> None:
    # llvm.initialize() raises in llvmlite 0.50; the target initializers are what is needed.
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()


@functools.cache
def host_target() -> Target:
    _init_llvm()
    features = llvm.get_host_cpu_features().flatten()
    if "+avx512f" in features.split(","):
        # LLVM tunes many AVX-512 CPUs (e.g. rocketlake, icelake) to prefer 256-bit vectors; for
        # these elementwise kernels 512-bit was measured 25-35% faster (exp: 8.9 vs 12.2 ms / 16M).
        features += ",-prefer-256-bit"
    return Target("host", llvm.get_process_triple(), llvm.get_host_cpu_name(), features)


def get_target(target: str | Target) -> Target:
    if isinstance(target, Target):
        return target
    table = {"host": host_target, "nvptx": lambda: NVPTX, "amdgpu": lambda: AMDGPU}
    if target not in table:
        raise ValueError(f"unknown target {target!r}; expected one of {sorted(table)}")
    return table[target]()


def build_unary_kernel(name: str, fn: Emitter, target: str | Target = "host", width: int = 1) -> ir.Module:
    """Module with `void name(float* noalias x, float* noalias y, i64 n)` doing y[i] = fn(x[i]).

    Host: a loop over i (scalar, left to the loop vectorizer) or, with width > 1, explicit
    `<width x float>` steps plus a scalar tail (exercises the vector form of the emitters).
    GPU targets: one element per thread, i = block id * block size + thread id, guarded by i < n.
    """
    tgt = get_target(target)
    module = ir.Module(name=name)
    module.triple = tgt.triple
    ptr = ir.PointerType(addrspace=tgt.addrspace)
    func = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr, ptr, I64]), name)
    for arg, argname in zip(func.args, ("x", "y", "n"), strict=True):
        arg.name = argname
    func.args[0].add_attribute("noalias")
    func.args[1].add_attribute("noalias")
    builder = ir.IRBuilder(func.append_basic_block("entry"))
    if tgt.is_gpu:
        func.calling_convention = tgt.kernel_cc
        _gpu_body(builder, tgt, fn, *func.args)
    else:
        _host_body(builder, fn, *func.args, width=width)
    return module


def _map_elements(builder: ir.IRBuilder, fn: Emitter, x, y, i, ty: ir.Type) -> None:
    px = builder.gep(x, [i], inbounds=True, source_etype=F32)
    py = builder.gep(y, [i], inbounds=True, source_etype=F32)
    builder.store(fn(builder, builder.load(px, typ=ty, align=4)), py, align=4)


def _counted_loop(builder: ir.IRBuilder, start, stop, step: int, body: Callable[[ir.Value], None]):
    """for (i = start; i < stop; i += step) body(i); returns the final i. Leaves builder after."""
    pre = builder.block
    loop = builder.append_basic_block("loop")
    done = builder.append_basic_block("done")
    builder.cbranch(builder.icmp_signed("<", start, stop), loop, done)
    builder.position_at_end(loop)
    i = builder.phi(I64, name="i")
    body(i)
    nxt = builder.add(i, ir.Constant(I64, step), name="i.next")
    latch = builder.block
    i.add_incoming(start, pre)
    i.add_incoming(nxt, latch)
    builder.cbranch(builder.icmp_signed("<", nxt, stop), loop, done)
    builder.position_at_end(done)
    end = builder.phi(I64)
    end.add_incoming(start, pre)
    end.add_incoming(nxt, latch)
    return end


def _host_body(builder: ir.IRBuilder, fn: Emitter, x, y, n, width: int) -> None:
    start = ir.Constant(I64, 0)
    if width > 1:
        vec = ir.VectorType(F32, width)
        # main loop runs while i + width <= n, i.e. i < n - width + 1
        vstop = builder.sub(n, ir.Constant(I64, width - 1))
        start = _counted_loop(builder, start, vstop, width, lambda i: _map_elements(builder, fn, x, y, i, vec))
    _counted_loop(builder, start, n, 1, lambda i: _map_elements(builder, fn, x, y, i, F32))
    builder.ret_void()


def _gpu_body(builder: ir.IRBuilder, tgt: Target, fn: Emitter, x, y, n) -> None:
    tid, bid, bsize = _gpu_ids(builder, tgt)
    i = builder.zext(builder.add(builder.mul(bid, bsize), tid), I64)
    with builder.if_then(builder.icmp_signed("<", i, n)):
        _map_elements(builder, fn, x, y, i, F32)
    builder.ret_void()


def _gpu_ids(builder: ir.IRBuilder, tgt: Target):
    """(thread id, block id, block size) as i32 for the x dimension."""
    module = builder.module

    def sreg(name: str, ty: ir.Type = I32):
        fn = module.globals.get(name)
        if fn is None:
            fn = ir.Function(module, ir.FunctionType(ty, []), name)
        return builder.call(fn, [])

    if tgt.name == "nvptx":
        return tuple(sreg(f"llvm.nvvm.read.ptx.sreg.{r}.x") for r in ("tid", "ctaid", "ntid"))
    # AMDGPU: the workgroup size is the i16 at byte 4 of the HSA kernel dispatch packet.
    packet = sreg("llvm.amdgcn.dispatch.ptr", ir.PointerType(addrspace=4))
    size_ptr = builder.gep(packet, [ir.Constant(I64, 4)], inbounds=True, source_etype=I8)
    size = builder.zext(builder.load(size_ptr, typ=I16, align=4), I32)
    return sreg("llvm.amdgcn.workitem.id.x"), sreg("llvm.amdgcn.workgroup.id.x"), size


def create_target_machine(target: str | Target = "host", reloc: str = "default") -> llvm.TargetMachine:
    _init_llvm()
    tgt = get_target(target)
    return llvm.Target.from_triple(tgt.triple).create_target_machine(
        cpu=tgt.cpu, features=tgt.features, opt=3, reloc=reloc
    )


def optimize(module: ir.Module, target: str | Target = "host") -> tuple[llvm.ModuleRef, llvm.TargetMachine]:
    """Parse, verify and run the O3 pipeline with loop and SLP vectorization. Returns a fresh
    ModuleRef each call: AMDGPU codegen mutates the module, so never emit twice from one."""
    tm = create_target_machine(target)
    ref = llvm.parse_assembly(str(module))
    ref.triple = get_target(target).triple
    ref.data_layout = str(tm.target_data)
    ref.verify()
    run_o3(ref, tm)
    return ref, tm


def run_o3(ref: llvm.ModuleRef, tm: llvm.TargetMachine, vectorize: bool = True) -> None:
    """LLVM's O3 module pipeline (new pass manager), with or without the loop and SLP vectorizers."""
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = vectorize
    pto.slp_vectorization = vectorize
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(ref, pb)


def emit_assembly(module: ir.Module, target: str | Target = "host") -> str:
    ref, tm = optimize(module, target)
    return tm.emit_assembly(ref)


def emit_object(module: ir.Module, target: str | Target = "host") -> bytes:
    ref, tm = optimize(module, target)
    return tm.emit_object(ref)


UnaryKernel = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


def jit_compile(module: ir.Module, name: str | None = None):
    """MCJIT-compile a host kernel module; returns (engine, ctypes function). Keep the engine
    alive as long as the function is used. `name` defaults to the module's only definition."""
    if name is None:
        (name,) = [f.name for f in module.functions if not f.is_declaration]
    ref, tm = optimize(module, "host")
    engine = llvm.create_mcjit_compiler(ref, tm)
    engine.finalize_object()
    return engine, UnaryKernel(engine.get_function_address(name))
