// RUN: %stc opt %s -p lower-to-kernels | filecheck %s

// transpose is a view: the sum kernel reads the input with permuted strides. Here the kept elements are adjacent in
// memory and the reduced ones are not (a column reduction), so the kernel accumulates whole rows into the output:
// the inner loop runs over kept elements, contiguous in both arrays.
// CHECK-LABEL: func.func @main
// CHECK:         func.call @k0_sum_columns({{.*}}) : (memref<8x4xf32, strided<[1, 8]>>, memref<8xf32, strided<[1]>>, index, index) -> ()
// CHECK:         func.call @k1_exp({{.*}}) : (memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>, index, index) -> ()
// CHECK:       func.func @k0_sum_columns
// CHECK:         scf.for %[[BLK:.*]] = %{{.*}} to %{{.*}} step
// CHECK:           memref.store %{{.*}}, %[[OUT:.*]][%{{.*}}] : memref<8xf32, strided<[1]>>
// CHECK:           scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step
// CHECK:             scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK:               %[[ACC:.*]] = memref.load %[[OUT]][%{{.*}}]
// CHECK:               %[[X:.*]] = memref.load %{{.*}}[%{{.*}}, %[[R]]] : memref<8x4xf32, strided<[1, 8]>>
// CHECK:               arith.addf %[[ACC]], %[[X]] fastmath<reassoc,contract>
func.func @f(%x: tensor<4x8xf32>) -> tensor<8xf32> {
  %0 = spiral.transpose %x {perm = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  %1 = spiral.sum %0 {axes = array<i64: 1>} : tensor<8x4xf32> -> tensor<8xf32>
  %2 = spiral.exp %1 : tensor<8xf32> -> tensor<8xf32>
  func.return %2 : tensor<8xf32>
}
