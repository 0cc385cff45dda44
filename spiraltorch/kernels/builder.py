"""A small helper for writing kernel IR (scf loops, arith/math scalars, memref loads/stores) in Python.

Kernel generators read like the loops they produce:

    kb = KernelBuilder(block)
    with kb.loop(lo, hi) as i:
        kb.store(kb.exp(kb.load(x, [i])), y, [i])
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from xdsl.builder import Builder
from xdsl.dialects import arith, math, memref, scf
from xdsl.dialects.builtin import (
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.rewriter import InsertPoint

INDEX = IndexType()
F32 = Float32Type()


def is_float(t: Attribute) -> bool:
    return isinstance(t, Float16Type | BFloat16Type | Float32Type | Float64Type)


def is_bool(t: Attribute) -> bool:
    return isinstance(t, IntegerType) and t.width.data == 1


@dataclass
class Loop:
    iv: SSAValue
    args: list[SSAValue]
    results: list[SSAValue] = field(default_factory=list)
    _yield: list[SSAValue] | None = None

    def yield_(self, *values: SSAValue) -> None:
        self._yield = list(values)


class KernelBuilder:
    def __init__(self, block: Block):
        self.builder = Builder(InsertPoint.at_end(block))
        self._consts: dict = {}

    # -- plumbing ---------------------------------------------------------------------------------
    def insert(self, op: Operation) -> SSAValue | None:
        self.builder.insert(op)
        return op.results[0] if op.results else None

    def index(self, value: int) -> SSAValue:
        return self.const(value, INDEX)

    def const(self, value, t: Attribute) -> SSAValue:
        # Constants are not cached across blocks: a cached value defined inside a finished loop
        # body would not dominate later uses.
        if isinstance(t, IndexType | IntegerType):
            attr = IntegerAttr(int(value), t)
        else:
            attr = FloatAttr(float(value), t)
        return self.insert(arith.ConstantOp(attr, t))

    # -- control flow -----------------------------------------------------------------------------
    @contextmanager
    def loop(self, lb, ub, step=1, inits=()):
        """scf.for; yields a Loop (iv, carried args); call loop.yield_ for iter_args."""
        lb, ub, step = (self.index(v) if isinstance(v, int) else v for v in (lb, ub, step))
        inits = list(inits)
        body = Block(arg_types=[INDEX, *[v.type for v in inits]])
        outer = self.builder.insertion_point
        self.builder.insertion_point = InsertPoint.at_end(body)
        loop = Loop(body.args[0], list(body.args[1:]))
        try:
            yield loop
        finally:
            self.builder.insert(scf.YieldOp(*(loop._yield or [])))
            self.builder.insertion_point = outer
        op = scf.ForOp(lb, ub, step, inits, body)
        self.builder.insert(op)
        loop.results = list(op.results)

    def loops(self, bounds):
        """Nested loops over [(lb, ub), ...]; returns a context manager yielding the ivs."""
        return _NestedLoops(self, bounds)

    # -- memory -----------------------------------------------------------------------------------
    def load(self, ref: SSAValue, idx) -> SSAValue:
        return self.insert(memref.LoadOp.get(ref, list(idx)))

    def store(self, value: SSAValue, ref: SSAValue, idx) -> None:
        self.insert(memref.StoreOp.get(value, ref, list(idx)))

    def alloca(self, shape, element_type) -> SSAValue:
        return self.insert(memref.AllocaOp.get(element_type, shape=list(shape)))

    # -- scalar arithmetic --------------------------------------------------------------------------
    def binary(self, float_cls, int_cls, a, b):
        cls = float_cls if is_float(a.type) else int_cls
        if cls is None:
            raise TypeError(f"no {float_cls or int_cls} for {a.type}")
        return self.insert(cls(a, b))

    def add(self, a, b):
        return self.binary(arith.AddfOp, arith.AddiOp, a, b)

    def sub(self, a, b):
        return self.binary(arith.SubfOp, arith.SubiOp, a, b)

    def mul(self, a, b):
        return self.binary(arith.MulfOp, arith.MuliOp, a, b)

    def div(self, a, b):
        return self.insert(arith.DivfOp(a, b))

    def max(self, a, b):
        return self.binary(arith.MaximumfOp, arith.MaxSIOp, a, b)

    def min(self, a, b):
        return self.binary(arith.MinimumfOp, arith.MinSIOp, a, b)

    def neg(self, a):
        if is_float(a.type):
            return self.insert(arith.NegfOp(a))
        return self.sub(self.const(0, a.type), a)

    def cmp(self, pred: str, a, b):
        """pred in ==, !=, <, <=, >, >=; floats compare like numpy (NaN: only != is true)."""
        if is_float(a.type):
            names = {"==": "oeq", "!=": "une", "<": "olt", "<=": "ole", ">": "ogt", ">=": "oge"}
            return self.insert(arith.CmpfOp(a, b, names[pred]))
        names = {"==": "eq", "!=": "ne", "<": "slt", "<=": "sle", ">": "sgt", ">=": "sge"}
        if is_bool(a.type):
            names.update({"<": "ult", "<=": "ule", ">": "ugt", ">=": "uge"})
        return self.insert(arith.CmpiOp(a, b, names[pred]))

    def select(self, c, a, b):
        return self.insert(arith.SelectOp(c, a, b))

    def math(self, cls, a):
        return self.insert(cls(a))

    def exp(self, a):
        return self.insert(math.ExpOp(a))

    def log(self, a):
        return self.insert(math.LogOp(a))

    def convert(self, v: SSAValue, to: Attribute) -> SSAValue:
        """numpy-style astype between any two scalar types."""
        src = v.type
        if src == to:
            return v
        if is_bool(to):
            zero = self.const(0, src) if not is_float(src) else self.const(0.0, src)
            return self.cmp("!=", v, zero)
        if is_float(src) and is_float(to):
            return self.insert((arith.ExtFOp if _fbits(to) > _fbits(src) else arith.TruncFOp)(v, to))
        if is_float(to):
            return self.insert((arith.UIToFPOp if is_bool(src) else arith.SIToFPOp)(v, to))
        if is_float(src):
            return self.insert(arith.FPToSIOp(v, to))
        if isinstance(src, IndexType) or isinstance(to, IndexType):
            return self.insert(arith.IndexCastOp(v, to))
        wide = to.width.data > src.width.data
        if wide:
            return self.insert((arith.ExtUIOp if is_bool(src) else arith.ExtSIOp)(v, to))
        return self.insert(arith.TruncIOp(v, to))


def _fbits(t: Attribute) -> int:
    if isinstance(t, Float64Type):
        return 64
    if isinstance(t, Float32Type):
        return 32
    if isinstance(t, BFloat16Type):
        return 16.5  # wider exponent than f16 but not a "wider" type: f16 <-> bf16 goes through f32
    return 16


class _NestedLoops:
    def __init__(self, kb: KernelBuilder, bounds):
        self.kb = kb
        self.bounds = list(bounds)
        self._stack = []

    def __enter__(self):
        ivs = []
        for lb, ub in self.bounds:
            cm = self.kb.loop(lb, ub)
            ivs.append(cm.__enter__().iv)
            self._stack.append(cm)
        return ivs

    def __exit__(self, *exc):
        for cm in reversed(self._stack):
            cm.__exit__(*exc)
        return False


def memref_type(shape, element_type, strides=None, offset=0) -> MemRefType:
    from xdsl.dialects.builtin import StridedLayoutAttr

    if strides is None:
        return MemRefType(element_type, list(shape))
    return MemRefType(element_type, list(shape), StridedLayoutAttr(list(strides), offset))
