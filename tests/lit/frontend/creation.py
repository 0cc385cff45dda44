# RUN: %stc ir %s:f --arg x=f32[2,3] | filecheck %s
# RUN: %stc interp %s:g --in "x=[1.0, 2.0]" | filecheck %s --check-prefix=G
import numpy as np

import spiraltorch as st


def f(x):
    return (st.zeros((2, 3)) + x, st.full(4, 1.5), st.arange(1, 10, 3, dtype=np.int32), st.ones_like(x, dtype=bool),
            x + np.array([[1.0, -2.0, 0.5]], np.float32), st.full_like(x, np.inf))


# CHECK-LABEL: func.func @f(%x: tensor<2x3xf32>)
# CHECK-NEXT: spiral.full {value = 0.000000e+00 : f64} : tensor<2x3xf32>
# CHECK-NEXT: spiral.add
# CHECK-NEXT: spiral.full {value = 1.500000e+00 : f64} : tensor<4xf64>
# CHECK-NEXT: spiral.arange {start = 1 : i64, step = 3 : i64} : tensor<3xi32>
# CHECK-NEXT: spiral.full {value = true} : tensor<2x3xi1>
# CHECK-NEXT: spiral.constant dense<{{\[\[}}1.000000e+00, -2.000000e+00, 5.000000e-01]]> : tensor<1x3xf32>
# CHECK-NEXT: spiral.add
# CHECK-NEXT: spiral.full {value = 0x7ff0000000000000 : f64} : tensor<2x3xf32>


def g(x):
    return st.arange(0.5, 2.5, 0.5) * st.concatenate([x, x]), st.arange(3)


# G: output 0: float64[4]
# G-NEXT: [0.5 2.  1.5 4. ]
# G: output 1: int64[3]
# G-NEXT: [0 1 2]
