"""Kernel IR (func + scf + arith + math + memref, static shapes) -> LLVM IR through llvmlite.

xDSL has no in-tree func/arith/scf/math -> llvm conversions (see shared notes), so this walks the
kernel IR directly and emits llvmlite instructions, one handler per op. The target is a parameter
(`mathlib.Target`): the same emitter serves the host CPU, NVPTX and AMDGPU.

Conventions of the kernel IR it accepts:
* memrefs have static shapes and either the identity layout or a static `strided<[...], offset: n>`
  layout; a memref argument becomes one pointer, and element (i, j, ...) lives at
  `ptr[offset + i*s0 + j*s1 + ...]`. Memref arguments are `noalias` (the lowering guarantees that a
  kernel's buffers are distinct) unless the function has the unit attribute `spiral.may_alias`.
* i1 is stored as one byte (numpy's bool); bf16 is stored as its 16 bits and computed in f32
  (llvmlite has no bfloat type), with round-to-nearest-even on truncation like ml_dtypes.
* Transcendentals come from `mathlib` (branch-free, vectorizable polynomials) because `llvm.exp`
  and friends scalarize to libm calls on x86 and abort the process on NVPTX.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir
from xdsl.dialects import arith, func, math, memref, scf
from xdsl.dialects.builtin import (
    BFloat16Type,
    DenseIntOrFPElementsAttr,
    Float16Type,
    Float32Type,
    Float64Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
    NoneAttr,
    StridedLayoutAttr,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue

from spiraltorch.codegen import mathlib
from spiraltorch.errors import CompileError
from spiraltorch.ir.kernel_dialect import GemmOp, RemFOp

I1, I8, I16, I32, I64 = (ir.IntType(n) for n in (1, 8, 16, 32, 64))
F16, F32, F64 = ir.HalfType(), ir.FloatType(), ir.DoubleType()


def scalar_type(t: Attribute) -> ir.Type:
    """The LLVM type of an SSA value of type t (bf16 values are carried as f32)."""
    if isinstance(t, IndexType):
        return I64
    if isinstance(t, IntegerType):
        return ir.IntType(t.width.data)
    if isinstance(t, Float32Type | BFloat16Type):
        return F32
    if isinstance(t, Float64Type):
        return F64
    if isinstance(t, Float16Type):
        return F16
    if isinstance(t, MemRefType):
        return ir.PointerType()
    raise CompileError(f"LLVM emitter: unsupported type {t}")


def storage_type(t: Attribute) -> ir.Type:
    """How an element of type t is laid out in memory."""
    if isinstance(t, BFloat16Type):
        return I16
    if isinstance(t, IntegerType) and t.width.data == 1:
        return I8
    return scalar_type(t)


def layout_of(t: MemRefType) -> tuple[tuple[int, ...], int]:
    """(strides, offset) in elements of a statically laid-out memref."""
    shape = t.get_shape()
    layout = t.layout
    if isinstance(layout, StridedLayoutAttr):
        strides = []
        for s in layout.strides.data:
            if isinstance(s, NoneAttr):
                raise CompileError(f"LLVM emitter: dynamic strides are not supported: {t}")
            strides.append(s.data)
        if isinstance(layout.offset, NoneAttr):
            raise CompileError(f"LLVM emitter: dynamic offsets are not supported: {t}")
        return tuple(strides), layout.offset.data
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return tuple(reversed(strides)), 0


class FunctionEmitter:
    """Emits one func.func into an llvmlite function."""

    def __init__(self, module_emitter: ModuleEmitter, op: func.FuncOp, fn: ir.Function):
        self.m = module_emitter
        self.op = op
        self.fn = fn
        self.values: dict[SSAValue, ir.Value] = {}
        entry = fn.append_basic_block("entry")
        self.alloca_builder = ir.IRBuilder(entry)
        self.b = ir.IRBuilder(fn.append_basic_block("body"))

    def emit(self) -> None:
        block = self.op.body.block
        for arg, param in zip(block.args, self.fn.args, strict=False):
            self.values[arg] = param
        self.emit_block_ops(block)
        self.alloca_builder.branch(self.fn.blocks[1])

    def emit_block_ops(self, block: Block) -> list[ir.Value] | None:
        """Emit the ops of a region's block; returns the values of its terminator (yield/return)."""
        for op in block.ops:
            if isinstance(op, scf.YieldOp):
                return [self.get(v) for v in op.operands]
            if isinstance(op, func.ReturnOp):
                if op.operands:
                    self.b.ret(self.get(op.operands[0]))
                else:
                    self.b.ret_void()
                return None
            self.emit_op(op)
        return None

    def get(self, v: SSAValue) -> ir.Value:
        return self.values[v]

    def emit_op(self, op: Operation) -> None:
        handler = _HANDLERS.get(type(op))
        if handler is None:
            raise CompileError(f"LLVM emitter: no lowering for {op.name}")
        out = handler(self, op)
        if out is None:
            return
        if not isinstance(out, (list, tuple)):
            out = [out]
        for res, val in zip(op.results, out, strict=True):
            self.values[res] = val

    # -- memory ----------------------------------------------------------------------------------
    def address(self, ref: SSAValue, indices) -> ir.Value:
        t = ref.type
        strides, offset = layout_of(t)
        lin: ir.Value = ir.Constant(I64, offset)
        for idx, stride in zip(indices, strides, strict=True):
            if stride == 0:
                continue
            term = self.get(idx) if stride == 1 else self.b.mul(self.get(idx), ir.Constant(I64, stride))
            lin = term if (isinstance(lin, ir.Constant) and lin.constant == 0) else self.b.add(lin, term)
        return self.b.gep(self.get(ref), [lin], inbounds=True, source_etype=storage_type(t.element_type))


# ------------------------------------------------------------------------------------------------
# op handlers


def _load(e: FunctionEmitter, op: memref.LoadOp):
    et = op.memref.type.element_type
    raw = e.b.load(e.address(op.memref, op.indices), typ=storage_type(et))
    if isinstance(et, BFloat16Type):
        return _bf16_to_f32(e.b, raw)
    if isinstance(et, IntegerType) and et.width.data == 1:
        return e.b.trunc(raw, I1)
    return raw


def _store(e: FunctionEmitter, op: memref.StoreOp):
    et = op.memref.type.element_type
    v = e.get(op.value)
    if isinstance(et, BFloat16Type):
        v = _f32_to_bf16(e.b, v)
    elif isinstance(et, IntegerType) and et.width.data == 1:
        v = e.b.zext(v, I8)
    e.b.store(v, e.address(op.memref, op.indices))


def _alloca(e: FunctionEmitter, op: memref.AllocaOp):
    t = op.memref.type
    n = 1
    for d in t.get_shape():
        n *= d
    # `alloca T, n` (not `alloca [n x T]`): its pointer has the element type that loads and stores expect
    return e.alloca_builder.alloca(storage_type(t.element_type), size=ir.Constant(I64, n))


def _bf16_to_f32(b: ir.IRBuilder, raw: ir.Value) -> ir.Value:
    return b.bitcast(b.shl(b.zext(raw, I32), ir.Constant(I32, 16)), F32)


def _f32_to_bf16(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    # Round to nearest even, NaN stays a quiet NaN (what ml_dtypes does).
    bits = b.bitcast(v, I32)
    lsb = b.and_(b.lshr(bits, ir.Constant(I32, 16)), ir.Constant(I32, 1))
    rounded = b.lshr(b.add(bits, b.add(lsb, ir.Constant(I32, 0x7FFF))), ir.Constant(I32, 16))
    is_nan = b.fcmp_unordered("uno", v, v)
    return b.trunc(b.select(is_nan, ir.Constant(I32, 0x7FC0), rounded), I16)


def _constant(e: FunctionEmitter, op: arith.ConstantOp):
    value = op.value
    ty = scalar_type(op.result.type)
    if isinstance(value, FloatAttr):
        return ir.Constant(ty, value.value.data)
    if isinstance(value, IntegerAttr):
        return ir.Constant(ty, value.value.data)
    if isinstance(value, DenseIntOrFPElementsAttr):
        raise CompileError("LLVM emitter: vector constants are not supported")
    raise CompileError(f"LLVM emitter: unsupported constant {value}")


def _binary(method: str, flags=()):
    def handler(e: FunctionEmitter, op):
        fn = getattr(e.b, method)
        return fn(e.get(op.lhs), e.get(op.rhs), flags=list(flags) + _fastmath(op)) if method.startswith("f") \
            else fn(e.get(op.lhs), e.get(op.rhs))

    return handler


def _fastmath(op) -> list[str]:
    fm = getattr(op, "fastmath", None)
    if fm is None:
        return []
    flags = [str(f).split(".")[-1].lower() for f in getattr(fm, "data", [])]
    return [f for f in flags if f in ("reassoc", "nnan", "ninf", "nsz", "arcp", "contract", "afn", "fast")]


def _intrinsic(name: str, arity: int):
    def handler(e: FunctionEmitter, op):
        args = [e.get(v) for v in op.operands]
        ty = args[0].type
        fn = e.m.intrinsic(name, ty, arity)
        return e.b.call(fn, args)

    return handler


def _math(fn: Callable[[ir.IRBuilder, ir.Value], ir.Value], libm: str):
    """f32 (and f16 through f32) use our polynomials; f64 calls the C library's double function
    (correctly rounded-ish and scalar: f64 is for accuracy, not speed)."""

    def handler(e: FunctionEmitter, op):
        x = e.get(op.operand)
        if x.type == F32:
            return fn(e.b, x)
        if x.type == F16:
            return e.b.fptrunc(fn(e.b, e.b.fpext(x, F32)), F16)
        if x.type == F64 and not e.m.target.is_gpu:
            return e.b.call(e.m.external(libm, ir.FunctionType(F64, [F64])), [x])
        raise CompileError(f"LLVM emitter: {op.name} on {op.operand.type} is not supported for {e.m.target.name}")

    return handler


def _powf(e: FunctionEmitter, op):
    # C pow (libm) has numpy's special cases; it is scalar, which is why x**2, x**3, x**0.5 are
    # rewritten to multiplies/sqrt before they get here (kernels/scalar.py).
    x, y = e.get(op.lhs), e.get(op.rhs)
    if x.type == F16:
        x, y = e.b.fpext(x, F32), e.b.fpext(y, F32)
        return e.b.fptrunc(_powf_call(e, x, y), F16)
    return _powf_call(e, x, y)


def _powf_call(e: FunctionEmitter, x, y):
    if e.m.target.is_gpu:
        raise CompileError(f"LLVM emitter: pow is not supported for {e.m.target.name} yet")
    name = "pow" if x.type == F64 else "powf"
    return e.b.call(e.m.external(name, ir.FunctionType(x.type, [x.type, x.type])), [x, y])


def _rsqrt(e: FunctionEmitter, op):
    x = e.get(op.operand)
    sqrt = e.m.intrinsic("llvm.sqrt", x.type, 1)
    return e.b.fdiv(ir.Constant(x.type, 1.0), e.b.call(sqrt, [x]))


_FCMP = {"oeq": "==", "one": "!=", "olt": "<", "ole": "<=", "ogt": ">", "oge": ">=",
         "ueq": "==", "une": "!=", "ult": "<", "ule": "<=", "ugt": ">", "uge": ">=", "ord": "ord", "uno": "uno"}
_FCMP_BY_INDEX = ["false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord", "ueq", "ugt", "uge", "ult", "ule",
                  "une", "uno", "true"]
_ICMP_BY_INDEX = [("==", True), ("!=", True), ("<", True), ("<=", True), (">", True), (">=", True),
                  ("<", False), ("<=", False), (">", False), (">=", False)]


def _cmpf(e: FunctionEmitter, op: arith.CmpfOp):
    pred = _FCMP_BY_INDEX[op.predicate.value.data]
    a, b = e.get(op.lhs), e.get(op.rhs)
    if pred[0] == "o" or pred == "ord":
        return e.b.fcmp_ordered(_FCMP[pred], a, b)
    return e.b.fcmp_unordered(_FCMP[pred], a, b)


def _cmpi(e: FunctionEmitter, op: arith.CmpiOp):
    cmp, signed = _ICMP_BY_INDEX[op.predicate.value.data]
    a, b = e.get(op.lhs), e.get(op.rhs)
    return e.b.icmp_signed(cmp, a, b) if signed else e.b.icmp_unsigned(cmp, a, b)


def _select(e: FunctionEmitter, op: arith.SelectOp):
    return e.b.select(e.get(op.cond), e.get(op.lhs), e.get(op.rhs))


def _cast(kind: str):
    def handler(e: FunctionEmitter, op):
        x = e.get(op.input)
        ty = scalar_type(op.result.type)
        if x.type != ty:
            x = getattr(e.b, kind)(x, ty)
        if isinstance(op.result.type, BFloat16Type) and not isinstance(op.input.type, BFloat16Type):
            # bf16 values live in f32 registers: round here, so a fused chain rounds after each op exactly
            # like one-op kernels (which round when they store) and the interpreter.
            x = _bf16_to_f32(e.b, _f32_to_bf16(e.b, x))
        return x

    return handler


def _fptosi(e: FunctionEmitter, op):
    # Saturating conversion: numpy leaves NaN/out-of-range undefined; we define them (NaN -> 0).
    x = e.get(op.input)
    ty = scalar_type(op.result.type)
    fn = e.m.module.declare_intrinsic("llvm.fptosi.sat", [ty, x.type], ir.FunctionType(ty, [x.type]))
    return e.b.call(fn, [x])


def _floordivsi(e: FunctionEmitter, op):
    # Round toward -inf: sdiv truncates, so step down when the remainder's sign differs from b's.
    b = e.b
    x, y = e.get(op.lhs), e.get(op.rhs)
    q, r = b.sdiv(x, y), b.srem(x, y)
    zero = ir.Constant(x.type, 0)
    fix = b.and_(b.icmp_signed("!=", r, zero), b.icmp_signed("!=", b.icmp_signed("<", r, zero),
                                                            b.icmp_signed("<", y, zero)))
    return b.sub(q, b.zext(fix, x.type))


def _negf(e: FunctionEmitter, op):
    return e.b.fneg(e.get(op.operand))


def _index_cast(e: FunctionEmitter, op):
    x = e.get(op.input)
    ty = scalar_type(op.result.type)
    if x.type.width == ty.width:
        return x
    return e.b.sext(x, ty) if ty.width > x.type.width else e.b.trunc(x, ty)


def _for(e: FunctionEmitter, op: scf.ForOp):
    b = e.b
    lb, ub, step = e.get(op.lb), e.get(op.ub), e.get(op.step)
    inits = [e.get(v) for v in op.iter_args]
    pre = b.block
    body = b.append_basic_block("for.body")
    exit_ = b.append_basic_block("for.exit")
    b.cbranch(b.icmp_signed("<", lb, ub), body, exit_)
    b.position_at_end(body)
    iv = b.phi(lb.type, name="iv")
    carried = [b.phi(v.type) for v in inits]
    block = op.body.block
    e.values[block.args[0]] = iv
    for arg, phi in zip(block.args[1:], carried, strict=True):
        e.values[arg] = phi
    yielded = e.emit_block_ops(block) or []
    nxt = b.add(iv, step)
    latch = b.block
    b.cbranch(b.icmp_signed("<", nxt, ub), body, exit_)
    iv.add_incoming(lb, pre)
    iv.add_incoming(nxt, latch)
    for phi, init, y in zip(carried, inits, yielded, strict=True):
        phi.add_incoming(init, pre)
        phi.add_incoming(y, latch)
    b.position_at_end(exit_)
    results = []
    for init, y in zip(inits, yielded, strict=True):
        phi = b.phi(init.type)
        phi.add_incoming(init, pre)
        phi.add_incoming(y, latch)
        results.append(phi)
    return results


def _if(e: FunctionEmitter, op: scf.IfOp):
    b = e.b
    cond = e.get(op.cond)
    then_bb = b.append_basic_block("if.then")
    else_bb = b.append_basic_block("if.else")
    merge = b.append_basic_block("if.end")
    b.cbranch(cond, then_bb, else_bb)
    outs = []
    for region, bb in ((op.true_region, then_bb), (op.false_region, else_bb)):
        b.position_at_end(bb)
        vals = e.emit_block_ops(region.block) if region.blocks else []
        outs.append((vals or [], b.block))
        b.branch(merge)
    b.position_at_end(merge)
    results = []
    for i, res in enumerate(op.results):
        phi = b.phi(scalar_type(res.type))
        for vals, bb in outs:
            phi.add_incoming(vals[i], bb)
        results.append(phi)
    return results


GEMM_SYMBOL = "st_sgemm"  # the default variant; kern.gemm names its variant (`kernel`)
GEMM_TYPE = ir.FunctionType(ir.VoidType(), [I64, I64, I64, I64, ir.PointerType(), I64, I64, ir.PointerType(), I64,
                                            I64, ir.PointerType(), I64, I64, I32, ir.PointerType()])


def _gemm(e: FunctionEmitter, op: GemmOp):
    """The variant's GEMM (st_sgemm...) on a band of batches, rows and columns: pointers are offset to the band's
    first element (rows of A and C, columns of B and C, are ld apart or adjacent by layout: trans_a/b/c)."""
    from spiraltorch.codegen import matmul

    b = e.b
    p = {k: v.value.data if isinstance(v, IntegerAttr) else v.data for k, v in op.properties.items()}

    def ptr(ref, batch_stride, *index_strides):
        _, offset = layout_of(ref.type)
        lin = b.add(ir.Constant(I64, offset), b.mul(e.get(op.b0), ir.Constant(I64, batch_stride)))
        for index, stride in index_strides:
            lin = b.add(lin, b.mul(index, ir.Constant(I64, stride)))
        return b.gep(e.get(ref), [lin], inbounds=True, source_etype=F32)

    r0, c0 = e.get(op.r0), e.get(op.c0)
    work = b.gep(e.get(op.work), [b.mul(e.get(op.slot), ir.Constant(I64, p["work_floats"]))], inbounds=True,
                 source_etype=F32)
    flags = (matmul.FLAG_TRANS_A * bool(p["trans_a"]) | matmul.FLAG_TRANS_B * bool(p["trans_b"])
             | matmul.FLAG_TRANS_C * bool(p["trans_c"]) | matmul.FLAG_DIRECT_A * bool(p["direct_a"])
             | matmul.FLAG_DIRECT_B * bool(p["direct_b"]))
    fn = e.m.external(p["kernel"], GEMM_TYPE)
    a = ptr(op.a, p["sa"], (r0, 1 if p["trans_a"] else p["lda"]))
    bm = ptr(op.b, p["sb"], (c0, p["ldb"] if p["trans_b"] else 1))
    c = ptr(op.c, p["sc"], (r0, 1 if p["trans_c"] else p["ldc"]), (c0, p["ldc"] if p["trans_c"] else 1))
    b.call(fn, [b.sub(e.get(op.b1), e.get(op.b0)), b.sub(e.get(op.r1), r0), b.sub(e.get(op.c1), c0),
                ir.Constant(I64, p["k"]), a, ir.Constant(I64, p["lda"]), ir.Constant(I64, p["sa"]),
                bm, ir.Constant(I64, p["ldb"]), ir.Constant(I64, p["sb"]), c,
                ir.Constant(I64, p["ldc"]), ir.Constant(I64, p["sc"]), ir.Constant(I32, flags), work])


def _view(e: FunctionEmitter, op: memref.ViewOp):
    # memref.view %ws[%byte_offset][]: a typed window into the workspace.
    return e.b.gep(e.get(op.source), [e.get(op.byte_shift)], inbounds=True, source_etype=I8)


def _reinterpret(e: FunctionEmitter, op: memref.ReinterpretCastOp):
    # The pointer stays the buffer's base; the result type carries offset and strides.
    return e.get(op.source)


def _get_global(e: FunctionEmitter, op: memref.GetGlobalOp):
    return e.m.global_(op.name_.string_value())


def _call(e: FunctionEmitter, op: func.CallOp):
    callee = e.m.function(op.callee.string_value())
    args = [e.get(v) for v in op.arguments]
    if "spiral.parallel" in op.attributes:
        return _parallel_call(e, op, callee, args)
    out = e.b.call(callee, args)
    return [out] if op.results else None


PFOR_TYPE = ir.FunctionType(ir.VoidType(), [ir.PointerType(), ir.PointerType(), I64])
CHUNK_TYPE = ir.FunctionType(ir.VoidType(), [ir.PointerType(), I64, I64])


def _parallel_call(e: FunctionEmitter, op: func.CallOp, callee: ir.Function, args):
    """kernel(bufs..., lo, hi) over [lo, hi) -> pfor(trampoline, &bufs, hi): the runtime's parallel-for
    (the host's last parameter) calls trampoline(ctx, a, b) on sub-ranges from several threads."""
    bufs = args[:-2]
    ctx = e.alloca_builder.alloca(ir.ArrayType(ir.PointerType(), max(len(bufs), 1)))
    for i, buf in enumerate(bufs):
        slot = e.b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True)
        e.b.store(buf, slot)
    tramp = e.m.trampoline(callee, len(bufs))
    e.b.call(_FunctionPointer(e.fn.args[-1], PFOR_TYPE), [tramp, ctx, args[-1]])
    return None


class _FunctionPointer:
    """A pointer value llvmlite can `call`: it only asks the callee for its function type and name."""

    def __init__(self, value: ir.Value, fnty: ir.FunctionType):
        self.value = value
        self.type = value.type
        self.function_type = fnty

    def get_reference(self) -> str:
        return self.value.get_reference()


_HANDLERS: dict[type, Callable] = {
    memref.LoadOp: _load, memref.StoreOp: _store, memref.AllocaOp: _alloca,
    arith.ConstantOp: _constant,
    arith.AddfOp: _binary("fadd"), arith.SubfOp: _binary("fsub"), arith.MulfOp: _binary("fmul"),
    arith.DivfOp: _binary("fdiv"), arith.NegfOp: _negf,
    arith.AddiOp: _binary("add"), arith.SubiOp: _binary("sub"), arith.MuliOp: _binary("mul"),
    arith.DivSIOp: _binary("sdiv"), arith.FloorDivSIOp: _floordivsi, arith.RemSIOp: _binary("srem"),
    arith.DivUIOp: _binary("udiv"),
    arith.AndIOp: _binary("and_"), arith.OrIOp: _binary("or_"), arith.XOrIOp: _binary("xor"),
    arith.ShLIOp: _binary("shl"), arith.ShRSIOp: _binary("ashr"), arith.ShRUIOp: _binary("lshr"),
    arith.MaximumfOp: _intrinsic("llvm.maximum", 2), arith.MinimumfOp: _intrinsic("llvm.minimum", 2),
    arith.MaxnumfOp: _intrinsic("llvm.maxnum", 2), arith.MinnumfOp: _intrinsic("llvm.minnum", 2),
    arith.MaxSIOp: _intrinsic("llvm.smax", 2), arith.MinSIOp: _intrinsic("llvm.smin", 2),
    arith.CmpfOp: _cmpf, arith.CmpiOp: _cmpi, arith.SelectOp: _select,
    arith.ExtFOp: _cast("fpext"), arith.TruncFOp: _cast("fptrunc"), arith.SIToFPOp: _cast("sitofp"),
    arith.UIToFPOp: _cast("uitofp"), arith.FPToSIOp: _fptosi, arith.ExtSIOp: _cast("sext"),
    arith.ExtUIOp: _cast("zext"), arith.TruncIOp: _cast("trunc"), arith.IndexCastOp: _index_cast,
    arith.BitcastOp: _cast("bitcast"),
    math.ExpOp: _math(mathlib.emit_exp, "exp"), math.LogOp: _math(mathlib.emit_log, "log"),
    math.Log1pOp: _math(mathlib.emit_log1p, "log1p"), math.TanhOp: _math(mathlib.emit_tanh, "tanh"),
    math.ErfOp: _math(mathlib.emit_erf, "erf"), math.SinOp: _math(mathlib.emit_sin, "sin"),
    math.CosOp: _math(mathlib.emit_cos, "cos"), math.ExpM1Op: _math(mathlib.emit_expm1, "expm1"),
    math.SqrtOp: _intrinsic("llvm.sqrt", 1), math.RsqrtOp: _rsqrt, math.PowFOp: _powf,
    math.AbsFOp: _intrinsic("llvm.fabs", 1),
    math.FloorOp: _intrinsic("llvm.floor", 1), math.CeilOp: _intrinsic("llvm.ceil", 1),
    math.CopySignOp: _intrinsic("llvm.copysign", 2), math.FmaOp: _intrinsic("llvm.fma", 3),
    math.AbsIOp: lambda e, op: e.b.call(
        e.m.module.declare_intrinsic("llvm.abs", [e.get(op.operand).type],
                                     ir.FunctionType(e.get(op.operand).type, [e.get(op.operand).type, I1])),
        [e.get(op.operand), ir.Constant(I1, 0)]),
    scf.ForOp: _for, scf.IfOp: _if,
    func.CallOp: _call,
    memref.ViewOp: _view, memref.ReinterpretCastOp: _reinterpret, memref.GetGlobalOp: _get_global,
    RemFOp: _binary("frem"), GemmOp: _gemm,
}


class ModuleEmitter:
    """Emits every func.func of a kernel module into one llvmlite module."""

    def __init__(self, target: mathlib.Target | str = "host", name: str = "spiral"):
        self.target = mathlib.get_target(target)
        self.module = ir.Module(name=name)
        self.module.triple = self.target.triple
        self._functions: dict[str, ir.Function] = {}
        self._globals: dict[str, ir.GlobalVariable] = {}

    def intrinsic(self, name: str, ty: ir.Type, arity: int) -> ir.Function:
        return self.module.declare_intrinsic(name, [ty], ir.FunctionType(ty, [ty] * arity))

    def function(self, name: str) -> ir.Function:
        try:
            return self._functions[name]
        except KeyError:
            raise CompileError(f"LLVM emitter: call to unknown function @{name}") from None

    def global_(self, name: str) -> ir.GlobalVariable:
        try:
            return self._globals[name]
        except KeyError:
            raise CompileError(f"LLVM emitter: unknown global @{name}") from None

    def define_global(self, op: memref.GlobalOp) -> None:
        import numpy as np

        from spiraltorch.ir import dtypes

        et = op.type.element_type
        values = np.asarray(op.initial_value.get_values())
        st = storage_type(et)
        if isinstance(et, BFloat16Type):
            values = values.astype(dtypes.BY_NAME["bf16"].np).view(np.uint16)
        elif isinstance(et, IntegerType) and et.width.data == 1:
            values = values.astype(np.uint8)
        arr_t = ir.ArrayType(st, values.size)
        g = ir.GlobalVariable(self.module, arr_t, op.sym_name.data)
        g.global_constant = True
        g.linkage = "private"
        g.align = 64
        g.initializer = ir.Constant(arr_t, [ir.Constant(st, v) for v in values.tolist()])
        self._globals[op.sym_name.data] = g

    def external(self, name: str, fnty: ir.FunctionType) -> ir.Function:
        """A function defined outside this module (resolved by the JIT or the linker)."""
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, fnty, name)
        return fn

    def trampoline(self, kernel: ir.Function, n_bufs: int) -> ir.Function:
        """void <kernel>.chunk(ptr ctx, i64 lo, i64 hi): unpack the buffer pointers, call the kernel."""
        name = kernel.name + ".chunk"
        if name in self._functions:
            return self._functions[name]
        fn = ir.Function(self.module, CHUNK_TYPE, name)
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        ctx, lo, hi = fn.args
        arr = ir.ArrayType(ir.PointerType(), max(n_bufs, 1))
        bufs = [b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, i)], inbounds=True, source_etype=arr),
                       typ=ir.PointerType()) for i in range(n_bufs)]
        b.call(kernel, [*bufs, lo, hi])
        b.ret_void()
        self._functions[name] = fn
        return fn

    def declare(self, op: func.FuncOp) -> ir.Function:
        ftype = op.function_type
        ret = ir.VoidType()
        if ftype.outputs.data:
            ret = scalar_type(ftype.outputs.data[0])
        params = [scalar_type(t) for t in ftype.inputs.data]
        if "spiral.host" in op.attributes:
            params.append(ir.PointerType())  # the runtime's parallel-for (see _parallel_call)
        fn = ir.Function(self.module, ir.FunctionType(ret, params), op.sym_name.data)
        may_alias = "spiral.may_alias" in op.attributes
        for arg, t in zip(fn.args, ftype.inputs.data, strict=False):
            if isinstance(t, MemRefType) and not may_alias:
                arg.add_attribute("noalias")
        if "spiral.kernel" in op.attributes:
            # A kernel is called once per use from the host: inlining it there only makes O3 re-optimize
            # (and re-vectorize) one copy per call site, which made compile time grow with the op count.
            fn.attributes.add("noinline")
            if self.target.is_gpu:
                fn.calling_convention = self.target.kernel_cc
        self._functions[op.sym_name.data] = fn
        return fn

    def emit(self, module: ModuleOp) -> ir.Module:
        for op in module.ops:
            if isinstance(op, memref.GlobalOp):
                self.define_global(op)
        funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
        for op in funcs:
            self.declare(op)
        for op in funcs:
            if op.body.blocks:
                FunctionEmitter(self, op, self._functions[op.sym_name.data]).emit()
        return self.module


def emit_module(module: ModuleOp, target: mathlib.Target | str = "host") -> ir.Module:
    return ModuleEmitter(target).emit(module)
