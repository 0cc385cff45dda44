# RUN: %stc ir %s:f --arg x=f32[4,10] --arg labels=i64[4] | filecheck %s
# RUN: %stc ir %s:g --arg x=i32[2,3,5] --arg labels=i32[2,3] | filecheck %s --check-prefix=INT
import spiraltorch as st


def f(x, labels):
    return (st.softmax(x), st.log_softmax(x, axis=0), st.cross_entropy(x, labels),
            st.nll_loss(st.log_softmax(x), labels, reduction="none"), st.one_hot(labels, 10))


# Each op stays ONE IR op (no decomposition in the frontend).
# CHECK-LABEL: func.func @f(%x: tensor<4x10xf32>, %labels: tensor<4xi64>)
# CHECK-NEXT: spiral.softmax %x {axis = 1 : i64} : tensor<4x10xf32> -> tensor<4x10xf32>
# CHECK-NEXT: spiral.log_softmax %x {axis = 0 : i64} : tensor<4x10xf32> -> tensor<4x10xf32>
# CHECK-NEXT: spiral.cross_entropy %x, %labels {reduction = "mean"} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
# CHECK-NEXT: %[[LP:.*]] = spiral.log_softmax %x {axis = 1 : i64}
# CHECK-NEXT: spiral.nll_loss %[[LP]], %labels {reduction = "none"} : tensor<4x10xf32>, tensor<4xi64> -> tensor<4xf32>
# CHECK-NEXT: spiral.one_hot %labels {num_classes = 10 : i64} : tensor<4xi64> -> tensor<4x10xf32>
# CHECK-NEXT: func.return


def g(x, labels):
    return st.cross_entropy(x, labels, reduction="sum")


# Integer logits become float like np.exp does (i32 -> f64).
# INT-LABEL: func.func @g(%x: tensor<2x3x5xi32>, %labels: tensor<2x3xi32>)
# INT-NEXT: %[[F:.*]] = spiral.astype %x : tensor<2x3x5xi32> -> tensor<2x3x5xf64>
# INT-NEXT: spiral.cross_entropy %[[F]], %labels {reduction = "sum"} : tensor<2x3x5xf64>, tensor<2x3xi32> -> tensor<f64>
# INT-NEXT: func.return
