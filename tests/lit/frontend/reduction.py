# RUN: %stc ir %s:f --arg x=f32[4,8] --arg i=i32[4,8] | filecheck %s
# RUN: %stc ir %s:g --arg x=f16[2,3,5] | filecheck %s --check-prefix=HALF
import spiraltorch as st


def f(x, i):
    return (st.sum(x, axis=1), x.mean(axis=(0, -1), keepdims=True), st.amax(x, axis=-1), x.min(),
            st.argmax(x, axis=1), st.argmin(x), st.logsumexp(x, axis=1), st.sum(i, axis=0), st.mean(i))


# CHECK-LABEL: func.func @f(%x: tensor<4x8xf32>, %i: tensor<4x8xi32>)
# CHECK-NEXT: spiral.sum %x {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
# CHECK-NEXT: spiral.mean %x {axes = array<i64: 0, 1>, keepdims = true} : tensor<4x8xf32> -> tensor<1x1xf32>
# CHECK-NEXT: spiral.max %x {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
# CHECK-NEXT: spiral.min %x {axes = array<i64: 0, 1>} : tensor<4x8xf32> -> tensor<f32>
# CHECK-NEXT: spiral.argmax %x {axis = 1 : i64} : tensor<4x8xf32> -> tensor<4xi64>
# CHECK-NEXT: spiral.argmin %x : tensor<4x8xf32> -> tensor<i64>
# CHECK-NEXT: spiral.logsumexp %x {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
# numpy sums i32 as i64 and averages integers in f64: the frontend casts first.
# CHECK-NEXT: %[[I64:.*]] = spiral.astype %i : tensor<4x8xi32> -> tensor<4x8xi64>
# CHECK-NEXT: spiral.sum %[[I64]] {axes = array<i64: 0>} : tensor<4x8xi64> -> tensor<8xi64>
# CHECK-NEXT: %[[F64:.*]] = spiral.astype %i : tensor<4x8xi32> -> tensor<4x8xf64>
# CHECK-NEXT: spiral.mean %[[F64]] {axes = array<i64: 0, 1>} : tensor<4x8xf64> -> tensor<f64>
# CHECK-NEXT: func.return


def g(x):
    return st.sum(x, axis=(2, 0)), st.logsumexp(x, keepdims=True)


# HALF-LABEL: func.func @g(%x: tensor<2x3x5xf16>)
# HALF-NEXT: spiral.sum %x {axes = array<i64: 0, 2>} : tensor<2x3x5xf16> -> tensor<3xf16>
# HALF-NEXT: spiral.logsumexp %x {axes = array<i64: 0, 1, 2>, keepdims = true} : tensor<2x3x5xf16> -> tensor<1x1x1xf16>
