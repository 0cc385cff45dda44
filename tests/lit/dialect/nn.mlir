// RUN: %stc opt %s | filecheck %s
// RUN: %stc opt %s | %stc opt - | filecheck %s
// RUN: %stc opt %s --generic | %stc opt - | filecheck %s

// CHECK-LABEL: func.func @nn(
func.func @nn(%x: tensor<4x10xf32>, %h: tensor<2x3x5xf16>, %l: tensor<4xi64>, %m: tensor<2x3xi32>, %v: tensor<10xf64>, %s: tensor<i32>) -> () {
  // CHECK-NEXT: %{{.*}} = spiral.softmax %x {axis = 1 : i64} : tensor<4x10xf32> -> tensor<4x10xf32>
  %0 = spiral.softmax %x {axis = 1 : i64} : tensor<4x10xf32> -> tensor<4x10xf32>
  // CHECK-NEXT: spiral.softmax %h {axis = -3 : i64} : tensor<2x3x5xf16> -> tensor<2x3x5xf16>
  %1 = spiral.softmax %h {axis = -3 : i64} : tensor<2x3x5xf16> -> tensor<2x3x5xf16>
  // CHECK-NEXT: spiral.log_softmax %x {axis = 0 : i64} : tensor<4x10xf32> -> tensor<4x10xf32>
  %2 = spiral.log_softmax %x {axis = 0 : i64} : tensor<4x10xf32> -> tensor<4x10xf32>
  // CHECK-NEXT: spiral.cross_entropy %x, %l {reduction = "mean"} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  %3 = spiral.cross_entropy %x, %l {reduction = "mean"} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  // CHECK-NEXT: spiral.cross_entropy %h, %m {reduction = "none"} : tensor<2x3x5xf16>, tensor<2x3xi32> -> tensor<2x3xf16>
  %4 = spiral.cross_entropy %h, %m {reduction = "none"} : tensor<2x3x5xf16>, tensor<2x3xi32> -> tensor<2x3xf16>
  // CHECK-NEXT: spiral.cross_entropy %v, %s {reduction = "sum"} : tensor<10xf64>, tensor<i32> -> tensor<f64>
  %5 = spiral.cross_entropy %v, %s {reduction = "sum"} : tensor<10xf64>, tensor<i32> -> tensor<f64>
  // CHECK-NEXT: spiral.nll_loss %x, %l {reduction = "sum"} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  %6 = spiral.nll_loss %x, %l {reduction = "sum"} : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  // CHECK-NEXT: spiral.nll_loss %h, %m {reduction = "none"} : tensor<2x3x5xf16>, tensor<2x3xi32> -> tensor<2x3xf16>
  %7 = spiral.nll_loss %h, %m {reduction = "none"} : tensor<2x3x5xf16>, tensor<2x3xi32> -> tensor<2x3xf16>
  // CHECK-NEXT: spiral.one_hot %l {num_classes = 10 : i64} : tensor<4xi64> -> tensor<4x10xf32>
  %8 = spiral.one_hot %l {num_classes = 10 : i64} : tensor<4xi64> -> tensor<4x10xf32>
  // CHECK-NEXT: spiral.one_hot %m {num_classes = 1 : i64} : tensor<2x3xi32> -> tensor<2x3x1xi1>
  %9 = spiral.one_hot %m {num_classes = 1 : i64} : tensor<2x3xi32> -> tensor<2x3x1xi1>
  // CHECK-NEXT: spiral.one_hot %s {num_classes = 3 : i64} : tensor<i32> -> tensor<3xbf16>
  %10 = spiral.one_hot %s {num_classes = 3 : i64} : tensor<i32> -> tensor<3xbf16>
  // CHECK-NEXT: func.return
  func.return
}
