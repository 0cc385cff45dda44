# RUN: %stc ir %s:f --arg x=f32[4,6] | filecheck %s
# RUN: %stc ir %s:g --arg x=f16[2,3] --arg idx=i32[2,1] | filecheck %s --check-prefix=G
# RUN: %stc interp %s:h --in "x=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]" | filecheck %s --check-prefix=H
import numpy as np

import spiraltorch as st


def f(x):
    y = x[1:, ::-2, None]
    return y.reshape(3, -1).T, st.squeeze(x[:1]), st.broadcast_to(x[0], (2, 4, 6))


# CHECK-LABEL: func.func @f(%x: tensor<4x6xf32>)
# CHECK-NEXT: %[[S:.*]] = spiral.slice %x {start = array<i64: 1, 5>, stride = array<i64: 1, -2>} : tensor<4x6xf32> -> tensor<3x3xf32>
# CHECK-NEXT: %[[R:.*]] = spiral.reshape %[[S]] : tensor<3x3xf32> -> tensor<3x3x1xf32>
# CHECK-NEXT: %[[R2:.*]] = spiral.reshape %[[R]] : tensor<3x3x1xf32> -> tensor<3x3xf32>
# CHECK-NEXT: spiral.transpose %[[R2]] {perm = array<i64: 1, 0>} : tensor<3x3xf32> -> tensor<3x3xf32>
# CHECK-NEXT: %[[T:.*]] = spiral.slice %x {start = array<i64: 0, 0>, stride = array<i64: 1, 1>} : tensor<4x6xf32> -> tensor<1x6xf32>
# CHECK-NEXT: spiral.reshape %[[T]] : tensor<1x6xf32> -> tensor<6xf32>
# CHECK: spiral.broadcast_to %{{.*}} : tensor<6xf32> -> tensor<2x4x6xf32>


def g(x, idx):
    both = st.concatenate([x, np.ones((1, 3), np.float32)], axis=-2)
    return both, st.stack([x, x], axis=-1), st.take_along_axis(x, idx, axis=1)


# G-LABEL: func.func @g(%x: tensor<2x3xf16>, %idx: tensor<2x1xi32>)
# G: %[[C:.*]] = spiral.astype %x : tensor<2x3xf16> -> tensor<2x3xf32>
# G: spiral.concatenate %[[C]], %{{.*}} {axis = 0 : i64} : tensor<2x3xf32>, tensor<1x3xf32> -> tensor<3x3xf32>
# G: spiral.reshape %x : tensor<2x3xf16> -> tensor<2x3x1xf16>
# G: spiral.concatenate %{{.*}}, %{{.*}} {axis = 2 : i64} : tensor<2x3x1xf16>, tensor<2x3x1xf16> -> tensor<2x3x2xf16>
# G: spiral.take_along_axis %x, %idx {axis = 1 : i64} : tensor<2x3xf16>, tensor<2x1xi32> -> tensor<2x1xf16>


def h(x):
    return x[:, ::-1], st.take_along_axis(x, np.array([[2], [-3]]), 1)


# H: output 0: float64[2, 3]
# H-NEXT: {{\[\[}}3. 2. 1.]
# H-NEXT:  [6. 5. 4.]]
# H: output 1: float64[2, 1]
# H-NEXT: {{\[\[}}3.]
# H-NEXT:  [4.]]
