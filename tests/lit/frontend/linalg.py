# RUN: %stc ir %s:f --arg x=f32[2,4,8] --arg w=f16[8,3] --arg v=f32[8] | filecheck %s
# RUN: %stc interp %s:g --in "a=[[1.0, 2.0], [3.0, 4.0]]" --in "b=[1.0, -1.0]" | filecheck %s --check-prefix=G
import spiraltorch as st


def f(x, w, v):
    return x @ w, st.matmul(v, x.transpose(0, 2, 1))


# CHECK-LABEL: func.func @f(%x: tensor<2x4x8xf32>, %w: tensor<8x3xf16>, %v: tensor<8xf32>)
# CHECK-NEXT: %[[W:.*]] = spiral.astype %w : tensor<8x3xf16> -> tensor<8x3xf32>
# CHECK-NEXT: spiral.matmul %x, %[[W]] : tensor<2x4x8xf32>, tensor<8x3xf32> -> tensor<2x4x3xf32>
# CHECK-NEXT: %[[T:.*]] = spiral.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x4x8xf32> -> tensor<2x8x4xf32>
# CHECK-NEXT: %[[V:.*]] = spiral.reshape %v : tensor<8xf32> -> tensor<1x8xf32>
# CHECK-NEXT: %[[M:.*]] = spiral.matmul %[[V]], %[[T]] : tensor<1x8xf32>, tensor<2x8x4xf32> -> tensor<2x1x4xf32>
# CHECK-NEXT: spiral.reshape %[[M]] : tensor<2x1x4xf32> -> tensor<2x4xf32>


def g(a, b):
    return a @ b, b @ a, b @ b


# G: output 0: float64[2]
# G-NEXT: [-1. -1.]
# G: output 1: float64[2]
# G-NEXT: [-2. -2.]
# G: output 2: float64[]
# G-NEXT: 2.0
