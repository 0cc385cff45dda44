# RUN: %stc ir %s:f --arg x=f32[8,128] | filecheck %s
# RUN: %stc ir %s:g --arg x=i32[3,5,6] | filecheck %s --check-prefix=AXES
# RUN: %stc interp %s:h --in 'x=[3.0,1.0,4.0,1.0,5.0,9.0,2.0,6.0]' | filecheck %s --check-prefix=OUT
import spiraltorch as st


def f(x):
    values, indices = st.topk(x, 4)
    return values, indices


# CHECK-LABEL: func.func @f(%x: tensor<8x128xf32>) -> (tensor<8x4xf32>, tensor<8x4xi64>)
# CHECK-NEXT: %[[V:.*]], %[[I:.*]] = spiral.rankk %x {kind = "top", k = 4 : i64}
# CHECK-SAME: : tensor<8x128xf32> -> tensor<8x4xf32>, tensor<8x4xi64>
# CHECK-NEXT: func.return %[[V]], %[[I]] : tensor<8x4xf32>, tensor<8x4xi64>


def g(x):
    a = st.midk(x, 3, axis=-2)
    b = st.rankk("bottomk", x, 2, axis=0)
    c = st.bottomk(x, 6, axis=2)
    return a, b, c


# AXES: spiral.rankk %x {kind = "mid", k = 3 : i64, axis = 1 : i64}
# AXES-SAME: : tensor<3x5x6xi32> -> tensor<3x3x6xi32>, tensor<3x3x6xi64>
# AXES-NEXT: spiral.rankk %x {kind = "bottom", k = 2 : i64, axis = 0 : i64}
# AXES-SAME: : tensor<3x5x6xi32> -> tensor<2x5x6xi32>, tensor<2x5x6xi64>
# AXES-NEXT: spiral.rankk %x {kind = "bottom", k = 6 : i64}
# AXES-SAME: : tensor<3x5x6xi32> -> tensor<3x5x6xi32>, tensor<3x5x6xi64>
# AXES-NOT: spiral.


def h(x):
    return st.midk(x, 3)


# OUT: output 0: float64[3]
# OUT-NEXT: [5. 4. 3.]
# OUT-NEXT: output 1: int64[3]
# OUT-NEXT: [4 2 0]
