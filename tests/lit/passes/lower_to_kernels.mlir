// RUN: %stc opt %s -p lower-to-kernels | filecheck %s

// A broadcast add writes straight into the output; the row vector is a stride-0 view, no copy.
// CHECK-LABEL: func.func @main(%x: memref<4x8xf32>, %b: memref<8xf32>, %out0: memref<4x8xf32>, %ws: memref<1xi8>)
// CHECK:         memref.reinterpret_cast %b to offset: [0], sizes: [4, 8], strides: [0, 1]
// CHECK:         func.call @k0_add({{.*}}) : (memref<4x8xf32, strided<[8, 1]>>, memref<4x8xf32, strided<[0, 1]>>, memref<4x8xf32, strided<[8, 1]>>, index, index) -> ()
// CHECK:       func.func @k0_add
// CHECK-SAME:    attributes {spiral.kernel}
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             memref.load
// CHECK:             memref.load
// CHECK:             arith.addf
// CHECK:             memref.store
func.func @f(%x: tensor<4x8xf32>, %b: tensor<8xf32>) -> tensor<4x8xf32> {
  %0 = spiral.add %x, %b : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}
