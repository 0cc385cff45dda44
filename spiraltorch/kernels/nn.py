"""CPU kernels of the nn ops: softmax, log_softmax, cross_entropy, nll_loss, one_hot.

softmax / log_softmax: the axis is permuted last and the other dims collapsed, then one kernel
loops over rows (parallel over rows), three passes per row:
    m = max(x)  ;  s = sum(exp(x - m))  ;  out = exp(x - m) / s   or   (x - m) - log(s)
For f32/f64 pass 2 stores exp(x - m) into the output and pass 3 rescales it in place (one exp per
element); f16/bf16 recompute exp in pass 3 so that the result is rounded once from f32. When the
axis is not the contiguous dim but another dim is (softmax over axis 0 of a matrix), a blocked
kernel runs the same passes over a block of W neighbouring rows at a time, so that every inner
loop is contiguous. NaN rules need no special case: x - m is NaN for a row holding NaN or +inf
or only -inf, which makes the whole row NaN, as the interpreter.

cross_entropy / nll_loss: one kernel over rows computes each row's loss (log-sum-exp minus the
label's shifted logit, read by a dynamic index; NaN for a label outside [0, C)). "none" writes the
losses to the result; "sum"/"mean" write them to a workspace temp and a second one-task kernel adds
them up (so the row kernel stays parallel).

one_hot: out[b, c] = (label[b] == c), one kernel, parallel over label rows.

f16/bf16 compute in f32. f64 exp/log are emitted here as arith polynomials (the LLVM emitter's math
ops are f32 only): see _exp_f64 and _log_f64.
"""

from __future__ import annotations

import math

from xdsl.dialects import arith
from xdsl.dialects import math as xmath
from xdsl.dialects.builtin import Float64Type, IntegerType

from spiraltorch.ir.ops import nn
from spiraltorch.ir.shapes import numel
from spiraltorch.kernels.builder import INDEX, KernelBuilder
from spiraltorch.kernels.lower import Lowerer, itemsize, lowering
from spiraltorch.kernels.reduction import REASSOC, kept_loops
from spiraltorch.kernels.scalar import compute_type
from spiraltorch.kernels.view import View, collapse, contiguous_strides

I64 = IntegerType(64)
BLOCK_BYTES = 4096  # the blocked softmax handles this many bytes of neighbouring rows per task


# -- f64 exp / log (arith only, branch-free, vectorizable; within 1 ulp of numpy) -----------------
_MAGIC = 6755399441055744.0  # 1.5 * 2**52: t = v + MAGIC leaves rint(v) in t's low mantissa bits
_MAGIC_BITS = 0x4338000000000000
_LN2_HI = float.fromhex("0x1.62e42feep-1")  # 32 significant bits: k * LN2_HI is exact for |k| < 2**21
_LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
# fdlibm's log: log1p(f) = f - hfsq + s * (hfsq + R(s^2)) with s = f / (2 + f).
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)


def _f(kb: KernelBuilder, v: float, t):
    return kb.const(v, t)


def _bits(kb: KernelBuilder, x):
    return kb.insert(arith.BitcastOp(x, I64))


def _float(kb: KernelBuilder, n, t):
    return kb.insert(arith.BitcastOp(n, t))


def _fma(kb: KernelBuilder, a, b, c):
    return kb.insert(xmath.FmaOp(a, b, c))


def _pow2_f64(kb: KernelBuilder, n):
    """2**n for an i64 n in [-1022, 1023]: the exponent field built directly."""
    return _float(kb, kb.insert(arith.ShLIOp(kb.add(n, kb.const(1023, I64)), kb.const(52, I64))), Float64Type())


def _exp_f64(kb: KernelBuilder, x):
    t = x.type
    x = kb.select(kb.cmp("<", x, _f(kb, -746.0, t)), _f(kb, -746.0, t), x)  # NaN passes both clamps
    x = kb.select(kb.cmp(">", x, _f(kb, 710.0, t)), _f(kb, 710.0, t), x)
    magic = _f(kb, _MAGIC, t)
    tt = kb.add(kb.mul(x, _f(kb, 1 / math.log(2), t)), magic)
    k = kb.sub(tt, magic)
    n = kb.sub(_bits(kb, tt), kb.const(_MAGIC_BITS, I64))
    r = _fma(kb, k, _f(kb, -_LN2_HI, t), x)
    r = _fma(kb, k, _f(kb, -_LN2_LO, t), r)
    p = _f(kb, 1 / math.factorial(13), t)
    for j in range(12, -1, -1):  # Taylor to r^13: |r| <= ln2/2 makes the tail < 4e-18
        p = _fma(kb, p, r, _f(kb, 1 / math.factorial(j), t))
    # 2**n as two normal factors: results near the overflow or underflow edge are rounded once.
    n1 = kb.insert(arith.ShRSIOp(n, kb.const(1, I64)))
    return kb.mul(kb.mul(p, _pow2_f64(kb, n1)), _pow2_f64(kb, kb.sub(n, n1)))


def _log_f64(kb: KernelBuilder, x):
    t = x.type
    tiny = kb.cmp("<", x, _f(kb, 2.0**-1022, t))  # subnormals: scale up so the exponent can be read
    xs = kb.mul(x, kb.select(tiny, _f(kb, 2.0**52, t), _f(kb, 1.0, t)))
    ix = _bits(kb, xs)
    k = kb.insert(arith.ShRSIOp(kb.sub(ix, kb.const(_SQRT_HALF_BITS, I64)), kb.const(52, I64)))
    m = _float(kb, kb.sub(ix, kb.insert(arith.ShLIOp(k, kb.const(52, I64)))), t)  # in [sqrt(.5), sqrt(2))
    f = kb.sub(m, _f(kb, 1.0, t))
    kf = kb.sub(kb.convert(k, t), kb.select(tiny, _f(kb, 52.0, t), _f(kb, 0.0, t)))
    s = kb.div(f, kb.add(_f(kb, 2.0, t), f))
    z = kb.mul(s, s)
    w = kb.mul(z, z)

    def horner(coefs):
        acc = _f(kb, coefs[-1], t)
        for c in reversed(coefs[:-1]):
            acc = _fma(kb, acc, w, _f(kb, c, t))
        return acc

    big_r = kb.add(kb.mul(z, horner(_LG[0::2])), kb.mul(w, horner(_LG[1::2])))
    hfsq = kb.mul(kb.mul(_f(kb, 0.5, t), f), f)
    inner = kb.add(kb.mul(s, kb.add(hfsq, big_r)), kb.mul(kf, _f(kb, _LN2_LO, t)))
    res = kb.sub(kb.mul(kf, _f(kb, _LN2_HI, t)), kb.sub(kb.sub(hfsq, inner), f))
    res = kb.select(kb.cmp("==", x, _f(kb, 0.0, t)), _f(kb, -math.inf, t), res)
    res = kb.select(kb.cmp("==", x, _f(kb, math.inf, t)), _f(kb, math.inf, t), res)
    neg_or_nan = kb.insert(arith.CmpfOp(x, _f(kb, 0.0, t), "ult"))
    return kb.select(neg_or_nan, _f(kb, math.nan, t), res)


def fexp(kb: KernelBuilder, x):
    return _exp_f64(kb, x) if isinstance(x.type, Float64Type) else kb.exp(x)


def flog(kb: KernelBuilder, x):
    return _log_f64(kb, x) if isinstance(x.type, Float64Type) else kb.log(x)


def _fadd(kb: KernelBuilder, a, b):
    return kb.insert(arith.AddfOp(a, b, REASSOC))


def _row_max_sum(kb: KernelBuilder, load, n, ct, store_exp=None):
    """(m, s) of one row: m = max(x), s = sum(exp(x - m)); store_exp(c, e) is called in pass 2."""
    with kb.loop(0, n, inits=[kb.const(-math.inf, ct)]) as lp:
        lp.yield_(kb.max(lp.args[0], load(lp.iv)))
    (m,) = lp.results
    with kb.loop(0, n, inits=[kb.const(0.0, ct)]) as lp:
        e = fexp(kb, kb.sub(load(lp.iv), m))
        if store_exp is not None:
            store_exp(lp.iv, e)
        lp.yield_(_fadd(kb, lp.args[0], e))
    (s,) = lp.results
    return m, s


# -- softmax / log_softmax ------------------------------------------------------------------------
@lowering(nn.SoftmaxOp, nn.LogSoftmaxOp)
def lower_softmax(L: Lowerer, op) -> None:
    src = L.view(op.input)
    out = L.result_view(op.result)
    rank = len(src.shape)
    axis = op.props()["axis"] % rank
    if numel(out.shape) == 0:
        return
    log = isinstance(op, nn.LogSoftmaxOp)
    ct = compute_type(out.element_type)
    kept = [d for d in range(rank) if d != axis]
    k_shape, (k_in, k_out) = collapse([src.shape[d] for d in kept], [src.strides[d] for d in kept],
                                      [out.strides[d] for d in kept])
    n = src.shape[axis]
    vin = View(src.buffer, (*k_shape, n), (*k_in, src.strides[axis]), src.offset, src.element_type)
    vout = View(out.buffer, (*k_shape, n), (*k_out, out.strides[axis]), out.offset, out.element_type)
    if src.strides[axis] != 1 and n > 1 and 1 in k_in:
        _softmax_blocked(L, vin, vout, k_in.index(1), log, ct)
        return
    ot = out.element_type
    store_exp = ct == ot and not log  # f32/f64: keep exp(x - m) in the output, rescale it in pass 3

    def row(kb, refs, kidx):
        x_ref, o_ref = refs

        def load(c):
            return kb.convert(kb.load(x_ref, [*kidx, c]), ct)

        def put(c, v):
            kb.store(kb.convert(v, ot), o_ref, [*kidx, c])

        m, s = _row_max_sum(kb, load, n, ct, put if store_exp else None)
        if log:
            lse = flog(kb, s)
            with kb.loop(0, n) as lp:
                put(lp.iv, kb.sub(kb.sub(load(lp.iv), m), lse))
            return
        inv = kb.div(kb.const(1.0, ct), s)
        with kb.loop(0, n) as lp:
            e = kb.load(o_ref, [*kidx, lp.iv]) if store_exp else fexp(kb, kb.sub(load(lp.iv), m))
            put(lp.iv, kb.mul(e, inv))

    kept_loops(L, "log_softmax" if log else "softmax", [vin, vout], k_shape, row)


def _softmax_blocked(L: Lowerer, vin: View, vout: View, j: int, log: bool, ct) -> None:
    """Softmax along a strided axis (the last dim of vin/vout), W neighbouring rows per task taken
    along kept dim j, which is contiguous in the input.

    Loops: for other kept dims (parallel), for blocks of W along j: three passes over the axis, each
    `for c: for w < W: ...` with per-lane max/sum kept in small stack arrays. Inner loops are
    contiguous in memory and vectorize."""
    rank = len(vin.shape)
    perm = [d for d in range(rank - 1) if d != j] + [j, rank - 1]
    vin, vout = vin.transpose(perm), vout.transpose(perm)
    *o_shape, nj, n = vin.shape
    ot = vout.element_type
    # Wide blocks: each pass reads `n` rows of W contiguous elements, one TLB page walk per row, so
    # narrow blocks (one cache line) are several times slower than page-sized ones.
    width = min(max(16, BLOCK_BYTES // itemsize(ct)), nj)
    nb = -(-nj // width)
    store_exp = ct == ot and not log

    def task(kb, refs, kidx):
        x_ref, o_ref = refs
        *oidx, blk = kidx
        j0 = kb.mul(blk, kb.index(width))
        # a static trip count when the blocks tile j exactly lets LLVM unroll the lane loops fully
        wn = width if nj % width == 0 else kb.min(kb.index(width), kb.sub(kb.index(nj), j0))
        m_ref = kb.alloca((width,), ct)
        s_ref = kb.alloca((width,), ct)

        def idx(w, c):
            return [*oidx, kb.add(j0, w), c]

        def load(w, c):
            return kb.convert(kb.load(x_ref, idx(w, c)), ct)

        def fill(ref, value):
            with kb.loop(0, wn) as w:
                kb.store(kb.const(value, ct), ref, [w.iv])

        def over_block(body):
            with kb.loop(0, n) as c, kb.loop(0, wn) as w:
                body(w.iv, c.iv)

        fill(m_ref, -math.inf)
        over_block(lambda w, c: kb.store(kb.max(kb.load(m_ref, [w]), load(w, c)), m_ref, [w]))
        fill(s_ref, 0.0)

        def pass2(w, c):
            e = fexp(kb, kb.sub(load(w, c), kb.load(m_ref, [w])))
            if store_exp:
                kb.store(e, o_ref, idx(w, c))
            kb.store(kb.add(kb.load(s_ref, [w]), e), s_ref, [w])

        over_block(pass2)
        with kb.loop(0, wn) as w:  # s becomes log(s) or 1 / s
            s = kb.load(s_ref, [w.iv])
            kb.store(flog(kb, s) if log else kb.div(kb.const(1.0, ct), s), s_ref, [w.iv])

        def pass3(w, c):
            if log:
                v = kb.sub(kb.sub(load(w, c), kb.load(m_ref, [w])), kb.load(s_ref, [w]))
            else:
                e = kb.load(o_ref, idx(w, c)) if store_exp else fexp(kb, kb.sub(load(w, c), kb.load(m_ref, [w])))
                v = kb.mul(e, kb.load(s_ref, [w]))
            kb.store(kb.convert(v, ot), o_ref, idx(w, c))

        over_block(pass3)

    kept_loops(L, "log_softmax" if log else "softmax", [vin, vout], (*o_shape, nb), task)


# -- cross_entropy / nll_loss -----------------------------------------------------------------------
@lowering(nn.CrossEntropyOp, nn.NllLossOp)
def lower_loss(L: Lowerer, op) -> None:
    loss_rows(L, L.view(op.scores), L.view(op.labels), op.props()["reduction"], isinstance(op, nn.CrossEntropyOp),
              out=L.result_view(op.result), name=op.name.split(".")[1])


@lowering(nn.CrossEntropyGradOp)
def lower_cross_entropy_grad(L: Lowerer, op) -> None:
    loss_rows(L, L.view(op.logits), L.view(op.labels), op.props()["reduction"], True,
              gout=L.result_view(op.result), gin=L.view(op.g), name="cross_entropy_grad")


def loss_rows(L: Lowerer, scores: View, labels: View, reduction: str, ce: bool, *, out: View | None = None,
              gout: View | None = None, gin: View | None = None, name: str) -> None:
    """One kernel over the rows of the logits for a loss (out), its gradient (gout, from the loss's cotangent
    gin: spiral.cross_entropy_grad), or both at once (a fused forward + backward: each row's max and sum of
    exponentials are computed once), then, for the mean and sum reductions, a small kernel adding up the
    per-row losses."""
    ct = compute_type(scores.element_type)
    b_shape = scores.shape[:-1]
    n = scores.shape[-1]
    rows = numel(b_shape)
    views, names = [scores, labels], ["s", "l"]
    if out is not None:
        if reduction == "none":
            dst = out
        else:
            dst = View(L.temp((rows,), ct), b_shape, contiguous_strides(b_shape), 0, ct)
        views.append(dst)
        names.append("d")
    if gout is not None:
        views += [gout, gin.broadcast_to(b_shape)]  # a 0-d cotangent (mean, sum) becomes stride 0
        names += ["go", "gi"]
    if rows:
        row_views = _row_views(views, names, b_shape)
        k_shape = row_views[0].shape[:-1]
        scale_n = 1.0 / max(rows, 1) if reduction == "mean" else 1.0

        def row(kb, refs, kidx):
            ref = dict(zip(names, refs, strict=True))
            lab = kb.convert(kb.load(ref["l"], kidx), I64)
            ok = kb.insert(arith.AndIOp(kb.cmp(">=", lab, kb.const(0, I64)), kb.cmp("<", lab, kb.const(n, I64))))

            def load(c):
                return kb.convert(kb.load(ref["s"], [*kidx, c]), ct)

            if "d" in ref:
                safe = kb.convert(kb.select(ok, lab, kb.const(0, I64)), INDEX)
                picked = kb.convert(kb.load(ref["s"], [*kidx, safe]), ct)
            # f32/f64: keep exp(x - m) in the gradient's row (it stays in L1) instead of computing it twice
            keep_exp = "go" in ref and ref["go"].type.element_type == ct
            if not ce:
                loss = kb.neg(picked)
            else:
                put = (lambda c, e: kb.store(e, ref["go"], [*kidx, c])) if keep_exp else None
                m, s = _row_max_sum(kb, load, n, ct, put)
                if "d" in ref:
                    loss = kb.sub(flog(kb, s), kb.sub(picked, m))
            if "d" in ref:
                loss = kb.select(ok, loss, kb.const(math.nan, ct))
                kb.store(kb.convert(loss, ref["d"].type.element_type), ref["d"], kidx)
            if "go" in ref:
                g = kb.convert(kb.load(ref["gi"], kidx), ct)
                scale = kb.mul(g, kb.const(scale_n, ct))
                p_scale = kb.mul(kb.div(kb.const(1.0, ct), s), scale)
                ot = ref["go"].type.element_type
                with kb.loop(0, n) as c:
                    e = kb.load(ref["go"], [*kidx, c.iv]) if keep_exp else fexp(kb, kb.sub(load(c.iv), m))
                    p = kb.mul(e, p_scale)
                    hit = kb.cmp("==", lab, kb.convert(c.iv, I64))
                    v = kb.select(hit, kb.sub(p, scale), p)
                    kb.store(kb.convert(v, ot), ref["go"], [*kidx, c.iv])

        kept_loops(L, name, row_views, k_shape, row)
    if out is None or reduction == "none":
        return
    total = View(views[2].buffer, (rows,), (1,), 0, ct)
    kb, (t_ref, o_ref), lo, hi = L.kernel(f"{name}_{reduction}", [total, out], 1)
    with kb.loop(lo, hi):
        with kb.loop(0, rows, inits=[kb.const(0.0, ct)]) as lp:
            lp.yield_(_fadd(kb, lp.args[0], kb.load(t_ref, [lp.iv])))
        (acc,) = lp.results
        if reduction == "mean":  # no labels: 0 / 0 = NaN, as the interpreter
            acc = kb.div(acc, kb.const(float(rows), ct))
        kb.store(kb.convert(acc, out.element_type), o_ref, [])
    L.finish_kernel(kb)


def _row_views(views: list[View], names: list[str], b_shape) -> list[View]:
    """Views over collapsed batch dims; the score-shaped views ("s", "go") keep their class axis last."""
    per_row = [(v.strides[:-1] if name in ("s", "go") else v.strides) for v, name in zip(views, names, strict=True)]
    k_shape, k_strides = collapse(b_shape, *per_row)
    out = []
    for v, name, ks in zip(views, names, k_strides, strict=True):
        if name in ("s", "go"):
            out.append(View(v.buffer, (*k_shape, v.shape[-1]), (*ks, v.strides[-1]), v.offset, v.element_type))
        else:
            out.append(View(v.buffer, tuple(k_shape), ks, v.offset, v.element_type))
    return out


# -- one_hot ----------------------------------------------------------------------------------------
@lowering(nn.OneHotOp)
def lower_one_hot(L: Lowerer, op) -> None:
    labels = L.view(op.labels)
    out = L.result_view(op.result)
    k = out.shape[-1]
    if numel(out.shape) == 0:
        return
    b_shape = labels.shape
    k_shape, (k_l, k_o) = collapse(b_shape, labels.strides, out.strides[:-1])
    vl = View(labels.buffer, k_shape, k_l, labels.offset, labels.element_type)
    vo = View(out.buffer, (*k_shape, k), (*k_o, out.strides[-1]), out.offset, out.element_type)

    def row(kb, refs, kidx):
        l_ref, o_ref = refs
        lab = kb.convert(kb.load(l_ref, kidx), I64)
        with kb.loop(0, k) as c:
            hit = kb.cmp("==", lab, kb.convert(c.iv, I64))
            kb.store(kb.convert(hit, out.element_type), o_ref, [*kidx, c.iv])

    kept_loops(L, "one_hot", [vl, vo], k_shape, row)
