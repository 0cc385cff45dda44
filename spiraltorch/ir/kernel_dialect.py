"""`kern`: the few scalar ops kernel IR needs that xDSL's arith/math dialects lack."""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, AnyFloatConstr, BoolAttr, IndexType, IntegerAttr, MemRefType, StringAttr, i64
from xdsl.ir import Dialect
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure


@irdl_op_definition
class RemFOp(IRDLOperation):
    """C fmod(lhs, rhs): the remainder with the sign of lhs (LLVM's frem). arith has no remf in xDSL."""

    name = "kern.remf"
    T: ClassVar = VarConstraint("T", AnyFloatConstr)
    lhs = operand_def(T)
    rhs = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($result)"

    def __init__(self, lhs, rhs):
        super().__init__(operands=[lhs, rhs], result_types=[lhs.type])


@irdl_op_definition
class GemmOp(IRDLOperation):
    """C[b, r, c] (+)= A[b, r, :] @ B[b, :, c] for batches [b0, b1), rows [r0, r1) and columns [c0, c1) of one f32
    GEMM (N columns, depth K), through our generated GEMM (codegen/matmul.py): `kernel` names the variant's
    function (`st_sgemm`, `st_sgemm_n16`, ..., chosen by matmul.choose). Leading dimensions and batch strides are in
    elements relative to each memref's element [0, ..., 0]; A, B and C are row-major (element (i, j) at i * ld + j)
    or, with trans_a / trans_b / trans_c, column-major (at i + j * ld: transposed views, used without a copy).
    direct_a / direct_b: the kernel reads that operand in place instead of packing it (matmul.Plan). `work` is
    scratch for one thread, slot `slot`."""

    name = "kern.gemm"
    a = operand_def(MemRefType)
    b = operand_def(MemRefType)
    c = operand_def(MemRefType)
    work = operand_def(MemRefType)
    b0 = operand_def(IndexType)
    b1 = operand_def(IndexType)
    r0 = operand_def(IndexType)
    r1 = operand_def(IndexType)
    c0 = operand_def(IndexType)
    c1 = operand_def(IndexType)
    slot = operand_def(IndexType)
    kernel = prop_def(StringAttr)
    n = prop_def(IntegerAttr[I64])
    k = prop_def(IntegerAttr[I64])
    lda = prop_def(IntegerAttr[I64])
    ldb = prop_def(IntegerAttr[I64])
    ldc = prop_def(IntegerAttr[I64])
    sa = prop_def(IntegerAttr[I64])
    sb = prop_def(IntegerAttr[I64])
    sc = prop_def(IntegerAttr[I64])
    trans_a = prop_def(BoolAttr)
    trans_b = prop_def(BoolAttr)
    trans_c = prop_def(BoolAttr)
    direct_a = prop_def(BoolAttr)
    direct_b = prop_def(BoolAttr)
    work_floats = prop_def(IntegerAttr[I64])
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = (
        "$a `,` $b `,` $c `,` $work `batches` `[` $b0 `,` $b1 `)` `rows` `[` $r0 `,` $r1 `)` "
        "`cols` `[` $c0 `,` $c1 `)` `slot` $slot attr-dict `:` type($a) `,` type($b) `,` type($c) `,` type($work)"
    )

    def __init__(self, a, b, c, work, b0, b1, r0, r1, c0, c1, slot, **props):
        def attr(v):
            if isinstance(v, str):
                return StringAttr(v)
            if isinstance(v, bool):
                return BoolAttr.from_bool(v)
            return IntegerAttr(v, i64)

        super().__init__(operands=[a, b, c, work, b0, b1, r0, r1, c0, c1, slot],
                         properties={k: attr(v) for k, v in props.items()})


Kern = Dialect("kern", [RemFOp, GemmOp], [])
