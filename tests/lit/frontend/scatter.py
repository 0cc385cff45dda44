# RUN: %stc ir %s:f --arg i=i32[4,3] --arg u=f16[4,3] | filecheck %s
# RUN: %stc interp %s:g --in "u=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]" | filecheck %s --check-prefix=G
import numpy as np

import spiraltorch as st


def f(i, u):
    return st.scatter_add_along_axis(i, u, -1, 10), st.slice_scatter(u, u[::2, 1:] * 2, (0, 1), (2, 1))


# CHECK-LABEL: func.func @f(%i: tensor<4x3xi32>, %u: tensor<4x3xf16>)
# CHECK-NEXT: spiral.scatter_add %i, %u {axis = 1 : i64} : tensor<4x3xi32>, tensor<4x3xf16> -> tensor<4x10xf16>
# CHECK: %[[S:.*]] = spiral.slice %u {start = array<i64: 0, 1>, stride = array<i64: 2, 1>} : tensor<4x3xf16> -> tensor<2x2xf16>
# CHECK: %[[M:.*]] = spiral.mul %[[S]], %{{.*}} : tensor<2x2xf16>, tensor<f16> -> tensor<2x2xf16>
# CHECK-NEXT: spiral.slice_scatter %u, %[[M]] {start = array<i64: 0, 1>, stride = array<i64: 2, 1>} : tensor<4x3xf16>, tensor<2x2xf16> -> tensor<4x3xf16>


def g(u):
    return (st.scatter_add_along_axis(np.array([[0, 0, -1], [5, 1, 1]]), u, 1, 3),
            st.slice_scatter(u, -u[:, ::-2], (0, 2), (1, -2)))


# G: output 0: float64[2, 3]
# G-NEXT: {{\[\[}} 3. 0. 3.]
# G-NEXT:  [ 0. 11. 4.]]
# G: output 1: float64[2, 3]
# G-NEXT: {{\[\[}}-1.  2. -3.]
# G-NEXT:  [-4.  5. -6.]]
