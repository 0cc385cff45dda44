"""CPU kernels of spiral.rankk (top / mid / bottom k along one axis; semantics: docs/ir/rankk.md).

The axis is moved last and the other dims collapsed into rows; one kernel runs over the rows (its outer
loop is the parallel one) and handles each row on its own (docs/backend-cpu/rankk.md):

1. every element becomes a *record* whose plain ascending order is the wanted order:
   * the ranking key is a signed integer: integers are their own key; a float is canonicalized
     (-0.0 -> +0.0, every NaN -> the largest key) and its bits mapped so that signed integer order is
     value order (negative floats get their magnitude bits flipped);
   * top and mid rank descending: the key is complemented (`~key = -key - 1`, exact for INT_MIN);
   * 32-bit keys (f32, f16, bf16, i32) are packed with the position into one i64, `key << 32 | position`:
     records are then unique and compare with one instruction; 64-bit keys (f64, i64) keep a separate
     position array and every step is stable, which breaks ties by the lower position just the same.
2. the first `m = start + k` records of the order are found by one of three methods (`pick_method`):
   * "insert" (m <= INSERT_MAX): a sorted buffer of the best m records so far; a better element is
     inserted and the worst dropped;
   * "buffered" (n >= 2 * BUFFER * m): the best m so far plus better records appended after them; when
     BUFFER * m records are held they are merge sorted and cut back to m;
   * "sort": a bottom-up merge sort of the whole row, branch-free, its runs cut to m records.
   The first two screen positions by blocks with a vectorized count of keys that beat the current m-th.
3. ranks [start, start + k) are copied out; the values are read back from the input at the positions,
   so a selected value keeps its own bits (sign of zero; NaN payloads too, except bf16 NaNs, quieted).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import Float64Type, IntegerType, i64
from xdsl.ir import Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from spiraltorch.ir.ops.rankk import RankKOp
from spiraltorch.kernels.builder import INDEX, KernelBuilder, is_float
from spiraltorch.kernels.lower import Lowerer, lowering
from spiraltorch.kernels.scalar import compute_type
from spiraltorch.kernels.view import View, collapse

INSERT_MAX = 64  # m = start + k up to this: a sorted buffer of m with insertion
BUFFER = 4  # larger m, n >= 2 * BUFFER * m: a buffer of BUFFER * m records, sorted and cut when full
BLOCK = 16  # both: positions screened together by the vectorized pre-check
ALLOCA_BYTES = 128 * 1024  # per-row scratch up to this size lives on the stack, larger in the workspace
MAX_SLOTS = 64  # workspace scratch: at most this many rows in flight (the parallel extent then)


@contextmanager
def _if(kb: KernelBuilder, cond: SSAValue):
    """scf.if without results or else branch."""
    body = Block()
    outer = kb.builder.insertion_point
    kb.builder.insertion_point = InsertPoint.at_end(body)
    try:
        yield
    finally:
        kb.builder.insert(scf.YieldOp())
        kb.builder.insertion_point = outer
    kb.insert(scf.IfOp(cond, [], Region(body)))


def _and(kb, a, b):
    return kb.insert(arith.AndIOp(a, b))


def _or(kb, a, b):
    return kb.insert(arith.OrIOp(a, b))


def _xor(kb, a, b):
    return kb.insert(arith.XOrIOp(a, b))


def _to_index(kb, v):
    return kb.insert(arith.IndexCastOp(v, INDEX))


def _to_i64(kb, v):
    return kb.insert(arith.IndexCastOp(v, i64))


def key_width(et) -> int:
    """Bits of the ranking key of element type et (32 for f32/f16/bf16/i32, 64 for f64/i64)."""
    if is_float(et):
        return 64 if isinstance(et, Float64Type) else 32
    return et.width.data


def ranking_key(kb: KernelBuilder, x: SSAValue, descending: bool) -> SSAValue:
    """A signed integer whose ascending order is the wanted order of x (ties: equal keys)."""
    et = x.type
    width = key_width(et)
    it = IntegerType(width)
    big = (1 << (width - 1)) - 1
    if is_float(et):
        x = kb.convert(x, compute_type(et))  # f16/bf16 -> f32 is exact
        zero = kb.const(0.0, x.type)
        canon = kb.select(kb.cmp("==", x, zero), zero, x)  # -0.0 ties with +0.0
        bits = kb.insert(arith.BitcastOp(canon, it))
        flipped = _xor(kb, bits, kb.const(big, it))
        key = kb.select(kb.cmp("<", bits, kb.const(0, it)), flipped, bits)
        key = kb.select(kb.cmp("!=", x, x), kb.const(big, it), key)  # NaN above +inf, all NaNs equal
    else:
        key = x
    if descending:
        key = _xor(kb, key, kb.const(-1, it))
    return key


@dataclass
class Records:
    """How records are made and read: a key array (i64) plus, for 64-bit keys, a position array (i64)."""

    packed: bool

    def make(self, kb, x, pos, descending):
        """The record of element x at position pos (index): a list of i64 values, the key first."""
        key = ranking_key(kb, x, descending)
        p64 = _to_i64(kb, pos)
        if self.packed:
            hi = kb.insert(arith.ShLIOp(kb.convert(key, i64), kb.const(32, i64)))
            return [_or(kb, hi, p64)]
        return [kb.convert(key, i64), p64]

    def position(self, kb, rec):
        """The position of a record, as i64."""
        if self.packed:
            return _and(kb, rec[0], kb.const(0xFFFFFFFF, i64))
        return rec[1]

    def pad(self, kb):
        """A record after every real one (with stable steps: placed after them in the buffer)."""
        last = kb.const(2**63 - 1, i64)  # packed: no real record has position 2**32 - 1
        return [last] if self.packed else [last, kb.const(0, i64)]


class Scratch:
    """Per-row record arrays: memrefs plus the index prefix (the slot) that selects this row's part."""

    def __init__(self, refs, prefix=()):
        self.refs = list(refs)
        self.prefix = list(prefix)

    def load(self, kb, a, pos):
        return kb.load(self.refs[a], [*self.prefix, pos])

    def load_all(self, kb, pos):
        return [self.load(kb, a, pos) for a in range(len(self.refs))]

    def store_all(self, kb, rec, pos):
        for a, v in enumerate(rec):
            kb.store(v, self.refs[a], [*self.prefix, pos])


def merge_sort(kb: KernelBuilder, s: Scratch, n: int, m: int) -> int:
    """Sort the n records at s[0, n), keeping only the first m of each run (m <= n).

    Bottom-up and branch-free: pass p merges pairs of runs of 2**p records from one half of s (2n records)
    into the other. Returns the offset (0 or n) of the sorted records. While runs are short enough not
    to be cut (2**(p+1) <= m) each merge runs from both ends at once: two independent chains of loads.
    """
    passes = math.ceil(math.log2(n)) if n > 1 else 0
    if passes == 0:
        return 0
    whole = min(passes, int(math.log2(m)))  # passes whose merges are never cut
    state = [kb.index(1), kb.index(0), kb.index(n)]  # run length, source half, destination half
    for first, last, both_ends in ((0, whole, True), (whole, passes, False)):
        if first == last:
            continue
        with kb.loop(first, last, inits=state) as pl:
            w, src, dst = pl.args
            two_w = kb.add(w, w)
            with kb.loop(0, n, two_w) as rl:
                _merge(kb, s, n, m, rl.iv, w, src, dst, both_ends)
            pl.yield_(two_w, dst, src)
        state = pl.results
    return n if passes % 2 else 0


def _merge(kb: KernelBuilder, s: Scratch, n: int, m: int, lo, w, src, dst, both_ends: bool) -> None:
    """Merge the runs at s[src + lo, src + lo + w) and s[src + lo + w, src + lo + 2w) into s[dst + lo, ...)."""
    n_c, m_c, one = kb.index(n), kb.index(m), kb.index(1)
    mid = kb.min(kb.add(lo, w), n_c)
    hi = kb.min(kb.add(lo, kb.add(w, w)), n_c)
    la = kb.min(kb.sub(mid, lo), m_c)  # a run holds at most m records
    lb = kb.min(kb.sub(hi, mid), m_c)
    count = kb.min(kb.add(la, lb), m_c)
    ifirst, jfirst = kb.add(src, lo), kb.add(src, mid)
    ilast = kb.add(src, kb.sub(kb.add(lo, la), one))
    jlast = kb.add(src, kb.sub(kb.add(mid, lb), one))  # >= ifirst even when lb = 0: a valid slot
    out0 = kb.add(dst, lo)

    def pick(take, ki, kj, i, j):
        rec = [kb.select(take, ki, kj)]
        if len(s.refs) > 1:
            at = kb.select(take, i, j)
            rec += [s.load(kb, a, at) for a in range(1, len(s.refs))]
        return rec

    def front(i, j, t):
        """Output t from the fronts: the smaller head, the left one on ties (it holds the earlier records)."""
        ki = s.load(kb, 0, kb.min(i, ilast))
        kj = s.load(kb, 0, kb.min(j, jlast))
        take = _and(kb, kb.cmp("<=", i, ilast), _or(kb, kb.cmp(">", j, jlast), kb.cmp("<=", ki, kj)))
        s.store_all(kb, pick(take, ki, kj, i, j), kb.add(out0, t))
        return kb.select(take, kb.add(i, one), i), kb.select(take, j, kb.add(j, one))

    if not both_ends:
        with kb.loop(0, count, inits=[ifirst, jfirst]) as ml:
            ml.yield_(*front(*ml.args, ml.iv))
        return
    half = kb.insert(arith.ShRUIOp(count, one))
    out_last = kb.add(out0, kb.sub(count, one))
    with kb.loop(0, half, inits=[ifirst, jfirst, ilast, jlast]) as ml:
        i, j, ib, jb = ml.args
        fi, fj = front(i, j, ml.iv)
        # output count-1-t from the backs: the larger tail, the right one on ties
        ki = s.load(kb, 0, kb.max(ib, ifirst))
        kj = s.load(kb, 0, kb.max(jb, ifirst))  # jb >= jfirst - 1 >= ifirst - 1
        take = _and(kb, kb.cmp(">=", ib, ifirst), _or(kb, kb.cmp("<", jb, jfirst), kb.cmp(">", ki, kj)))
        s.store_all(kb, pick(take, ki, kj, ib, jb), kb.sub(out_last, ml.iv))
        ml.yield_(fi, fj, kb.select(take, kb.sub(ib, one), ib), kb.select(take, jb, kb.sub(jb, one)))
    i, j = ml.results[:2]
    with kb.loop(half, kb.sub(count, half)) as tl:  # the middle output when count is odd
        front(i, j, tl.iv)


def _insert(kb: KernelBuilder, s: Scratch, rec, slot) -> None:
    """Insert rec into the sorted records s[0, slot), dropping s[slot] (the worst, or an empty slot)."""
    with kb.loop(0, slot, inits=[kb.index(0)]) as cl:
        # earlier records with an equal key have lower positions: they stay ahead
        ahead = kb.cmp("<=", s.load(kb, 0, cl.iv), rec[0])
        cl.yield_(kb.select(ahead, kb.add(cl.args[0], kb.index(1)), cl.args[0]))
    pos = cl.results[0]
    with kb.loop(0, kb.sub(slot, pos)) as sl:
        q = kb.sub(slot, sl.iv)
        s.store_all(kb, s.load_all(kb, kb.sub(q, kb.index(1))), q)
    s.store_all(kb, rec, pos)


def _screen(kb: KernelBuilder, s: Scratch, recs: Records, n: int, end: int, forced: int, m: int, x_at, descending,
            consider) -> None:
    """Call consider(pos) for every position in [0, end) that may matter, in order.

    By blocks of BLOCK positions: a vectorized pass (constant trip count) counts the keys in the block that
    beat the m-th record s[m - 1]; a block is walked position by position (consider rechecks each one
    against the threshold of that moment) when it has some, when it starts below `forced` or when it
    reaches past n (positions >= n are virtual: consider decides what they mean)."""
    last = kb.index(m - 1)
    n_last = kb.index(n - 1)
    s.store_all(kb, recs.pad(kb), last)  # a defined threshold while the forced first blocks fill s
    with kb.loop(0, -(-end // BLOCK) * BLOCK, BLOCK) as bl:
        worst = s.load(kb, 0, last)
        if recs.packed:  # compare the 32-bit keys alone
            thr = kb.convert(kb.insert(arith.ShRSIOp(worst, kb.const(32, i64))), IntegerType(32))
        else:
            thr = worst
        with kb.loop(bl.iv, kb.add(bl.iv, kb.index(BLOCK)), inits=[kb.index(0)]) as cl:
            key = ranking_key(kb, x_at(kb.min(cl.iv, n_last)), descending)
            cl.yield_(kb.select(kb.cmp("<", key, thr), kb.add(cl.args[0], kb.index(1)), cl.args[0]))
        walk = _or(kb, kb.cmp(">", cl.results[0], kb.index(0)),
                   _or(kb, kb.cmp("<", bl.iv, kb.index(forced)), kb.cmp(">", bl.iv, kb.index(n - BLOCK))))
        with _if(kb, walk):
            with kb.loop(bl.iv, kb.add(bl.iv, kb.index(BLOCK))) as el:
                consider(el.iv)


def select_insert(kb: KernelBuilder, s: Scratch, recs: Records, m: int, n: int, x_at, descending) -> None:
    """The best m records of positions [0, n), sorted, into s[0, m): a sorted buffer with insertion.

    The first m positions fill it; later ones enter when they beat the m-th, which drops out."""
    def consider(pos):
        with _if(kb, kb.cmp("<", pos, kb.index(n))):
            rec = recs.make(kb, x_at(pos), pos, descending)
            last = kb.index(m - 1)
            with _if(kb, _or(kb, kb.cmp("<", pos, kb.index(m)), kb.cmp("<", rec[0], s.load(kb, 0, last)))):
                _insert(kb, s, rec, kb.min(pos, last))

    _screen(kb, s, recs, n, n, m, m, x_at, descending, consider)


def select_buffered(kb: KernelBuilder, s: Scratch, count: SSAValue, recs: Records, m: int, n: int, x_at,
                    descending) -> None:
    """The best m records of positions [0, n), sorted, into s[0, m) (s holds 2 * BUFFER * m records).

    s[0, m) holds the best m so far, sorted; better records are appended after them; when the buffer
    (BUFFER * m records, the first ones unconditionally) is full it is merge sorted and cut back to m.
    count (memref<1xindex>) is the fill. The virtual positions [n, n + BUFFER * m) append padding records
    (after every real one) while the buffer holds more than m: the last of them triggers the final sort."""
    cap = BUFFER * m
    zero = kb.index(0)
    kb.store(zero, count, [zero])

    def consider(pos):
        real = kb.cmp("<", pos, kb.index(n))
        made = recs.make(kb, x_at(kb.min(pos, kb.index(n - 1))), pos, descending)
        rec = [kb.select(real, a, b) for a, b in zip(made, recs.pad(kb), strict=True)]
        c = kb.load(count, [zero])
        better = _or(kb, kb.cmp("<", pos, kb.index(cap)), kb.cmp("<", rec[0], s.load(kb, 0, kb.index(m - 1))))
        take = kb.select(real, better, kb.cmp(">", c, kb.index(m)))
        s.store_all(kb, rec, c)  # branch-free append: c < cap here, the fill only counts when taken
        c1 = kb.select(take, kb.add(c, kb.index(1)), c)
        kb.store(c1, count, [zero])
        with _if(kb, kb.cmp("==", c1, kb.index(cap))):
            off = merge_sort(kb, s, cap, m)
            if off:
                with kb.loop(0, m) as cl:
                    s.store_all(kb, s.load_all(kb, kb.add(cl.iv, kb.index(off))), cl.iv)
            kb.store(kb.index(m), count, [zero])

    _screen(kb, s, recs, n, n + cap, cap, m, x_at, descending, consider)


def pick_method(n: int, m: int) -> str:
    """How a row finds its first m records: "insert", "buffered" or "sort" (a full merge sort)."""
    if m <= INSERT_MAX:
        return "insert"
    if n >= 2 * BUFFER * m:
        return "buffered"
    return "sort"


def scratch_length(method: str, n: int, m: int) -> int:
    return {"insert": m, "buffered": 2 * BUFFER * m, "sort": 2 * n}[method]


@lowering(RankKOp)
def lower_rankk(L: Lowerer, op: RankKOp) -> None:
    p = op.props()
    kind, k = p["kind"], p["k"]
    src = L.view(op.input)
    rank = len(src.shape)
    axis = p.get("axis", RankKOp.DEFAULT_AXIS) % rank
    n = src.shape[axis]
    start = (n - k) // 2 if kind == "mid" else 0
    m = start + k
    descending = kind != "bottom"
    et = src.element_type
    vals = L.result_view(op.values)
    idxs = L.result_view(op.indices)

    # axis last, the other dims collapsed together in all three views
    kept = [d for d in range(rank) if d != axis]
    k_shape, (s_str, v_str, i_str) = collapse([src.shape[d] for d in kept], [src.strides[d] for d in kept],
                                                [vals.strides[d] for d in kept], [idxs.strides[d] for d in kept])
    if not k_shape:
        k_shape, s_str, v_str, i_str = (1,), (0,), (0,), (0,)

    def moved(v: View, strides, length):
        return View(v.buffer, (*k_shape, length), (*strides, v.strides[axis]), v.offset, v.element_type)

    views = [moved(src, s_str, n), moved(vals, v_str, k), moved(idxs, i_str, k)]
    recs = Records(packed=key_width(et) == 32 and n < 1 << 31)
    n_arrays = 1 if recs.packed else 2
    method = pick_method(n, m)
    length = scratch_length(method, n, m)
    on_stack = length * 8 * n_arrays <= ALLOCA_BYTES

    d0 = k_shape[0]
    slots = d0 if on_stack else min(d0, MAX_SLOTS)
    if not on_stack:
        for _ in range(n_arrays):
            buf = L.temp((slots, length), i64)
            views.append(View.of_buffer(buf, (slots, length), i64))

    kb, refs, lo, hi = L.kernel(f"{kind}k", views, slots)
    x_ref, v_ref, i_ref = refs[:3]
    stack = Scratch([kb.alloca([length], i64) for _ in range(n_arrays)]) if on_stack else None
    count = kb.alloca([1], INDEX) if method == "buffered" else None

    def row(kidx, scratch):
        def x_at(pos):
            return kb.load(x_ref, [*kidx, pos])

        base = 0
        if method == "insert":
            select_insert(kb, scratch, recs, m, n, x_at, descending)
        elif method == "buffered":
            select_buffered(kb, scratch, count, recs, m, n, x_at, descending)
        else:
            with kb.loop(0, n) as fl:
                scratch.store_all(kb, recs.make(kb, x_at(fl.iv), fl.iv, descending), fl.iv)
            base = merge_sort(kb, scratch, n, m)
        with kb.loop(0, k) as ol:
            rec = scratch.load_all(kb, kb.add(ol.iv, kb.index(base + start)))
            pos64 = recs.position(kb, rec)
            kb.store(kb.load(x_ref, [*kidx, _to_index(kb, pos64)]), v_ref, [*kidx, ol.iv])
            kb.store(pos64, i_ref, [*kidx, ol.iv])

    with kb.loop(lo, hi) as sl:
        if on_stack:
            scratch, first, last = stack, sl.iv, kb.add(sl.iv, kb.index(1))
        else:  # slot s handles outer rows [s*d0/slots, (s+1)*d0/slots)
            scratch = Scratch(refs[3:], [sl.iv])
            first = kb.insert(arith.DivUIOp(kb.mul(sl.iv, kb.index(d0)), kb.index(slots)))
            last = kb.insert(arith.DivUIOp(kb.mul(kb.add(sl.iv, kb.index(1)), kb.index(d0)), kb.index(slots)))
        with kb.loop(first, last) as r0:
            with kb.loops([(0, d) for d in k_shape[1:]]) as rest:
                row([r0.iv, *rest], scratch)
    L.finish_kernel(kb)
