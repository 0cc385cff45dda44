// RUN: %stc opt %s | filecheck %s
// RUN: %stc opt %s | %stc opt - | filecheck %s
// RUN: %stc opt %s --generic | %stc opt - | filecheck %s

// CHECK-LABEL: func.func @matmul(
func.func @matmul(%a: tensor<4x8xf32>, %b: tensor<8x3xf32>, %ba: tensor<2x1x4x8xf32>, %bb: tensor<5x8x3xf32>,
                  %h: tensor<2x4x8xbf16>, %hb: tensor<8x1xbf16>, %i: tensor<3x0xi32>, %j: tensor<0x2xi32>,
                  %f: tensor<1x1xf16>, %d: tensor<4x4xf64>, %l: tensor<2x3xi64>) -> () {
  // CHECK-NEXT: %{{.*}} = spiral.matmul %a, %b : tensor<4x8xf32>, tensor<8x3xf32> -> tensor<4x3xf32>
  %0 = spiral.matmul %a, %b : tensor<4x8xf32>, tensor<8x3xf32> -> tensor<4x3xf32>
  // CHECK-NEXT: spiral.matmul %ba, %bb : tensor<2x1x4x8xf32>, tensor<5x8x3xf32> -> tensor<2x5x4x3xf32>
  %1 = spiral.matmul %ba, %bb : tensor<2x1x4x8xf32>, tensor<5x8x3xf32> -> tensor<2x5x4x3xf32>
  // CHECK-NEXT: spiral.matmul %h, %hb : tensor<2x4x8xbf16>, tensor<8x1xbf16> -> tensor<2x4x1xbf16>
  %2 = spiral.matmul %h, %hb : tensor<2x4x8xbf16>, tensor<8x1xbf16> -> tensor<2x4x1xbf16>
  // CHECK-NEXT: spiral.matmul %i, %j : tensor<3x0xi32>, tensor<0x2xi32> -> tensor<3x2xi32>
  %3 = spiral.matmul %i, %j : tensor<3x0xi32>, tensor<0x2xi32> -> tensor<3x2xi32>
  // CHECK-NEXT: spiral.matmul %f, %f : tensor<1x1xf16>, tensor<1x1xf16> -> tensor<1x1xf16>
  %4 = spiral.matmul %f, %f : tensor<1x1xf16>, tensor<1x1xf16> -> tensor<1x1xf16>
  // CHECK-NEXT: spiral.matmul %d, %d : tensor<4x4xf64>, tensor<4x4xf64> -> tensor<4x4xf64>
  %5 = spiral.matmul %d, %d : tensor<4x4xf64>, tensor<4x4xf64> -> tensor<4x4xf64>
  // CHECK-NEXT: %[[T:.*]] = spiral.transpose %l
  // CHECK-NEXT: spiral.matmul %l, %[[T]] : tensor<2x3xi64>, tensor<3x2xi64> -> tensor<2x2xi64>
  %6 = spiral.transpose %l {perm = array<i64: 1, 0>} : tensor<2x3xi64> -> tensor<3x2xi64>
  %7 = spiral.matmul %l, %6 : tensor<2x3xi64>, tensor<3x2xi64> -> tensor<2x2xi64>
  func.return
}
