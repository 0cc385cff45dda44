// RUN: %stc opt %s -p lower-to-kernels | filecheck %s

// transpose is a view: the sum kernel reads the input with permuted strides; the reduced axis is the inner
// loop and carries the accumulator; contiguous elementwise ops collapse to one loop.
// CHECK-LABEL: func.func @main
// CHECK:         func.call @k0_sum({{.*}}) : (memref<8x4xf32, strided<[1, 8]>>, memref<8xf32, strided<[1]>>, index, index) -> ()
// CHECK:         func.call @k1_exp({{.*}}) : (memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>, index, index) -> ()
// CHECK:       func.func @k0_sum
// CHECK:         scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step
// CHECK:           %[[ACC:.*]] = scf.for {{.*}} iter_args
// CHECK:             arith.addf {{.*}} fastmath<reassoc,contract>
// CHECK:           memref.store %[[ACC]]
func.func @f(%x: tensor<4x8xf32>) -> tensor<8xf32> {
  %0 = spiral.transpose %x {perm = array<i64: 1, 0>} : tensor<4x8xf32> -> tensor<8x4xf32>
  %1 = spiral.sum %0 {axes = array<i64: 1>} : tensor<8x4xf32> -> tensor<8xf32>
  %2 = spiral.exp %1 : tensor<8xf32> -> tensor<8xf32>
  func.return %2 : tensor<8xf32>
}
