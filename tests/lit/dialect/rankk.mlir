// RUN: %stc opt %s | filecheck %s
// RUN: %stc opt %s | %stc opt - | filecheck %s
// RUN: %stc opt %s --generic | %stc opt - | filecheck %s

// CHECK-LABEL: func.func @kinds(
func.func @kinds(%x: tensor<8x128xf32>) -> () {
  // CHECK-NEXT: %v, %i = spiral.rankk %x {kind = "top", k = 4 : i64} : tensor<8x128xf32> -> tensor<8x4xf32>, tensor<8x4xi64>
  %v, %i = spiral.rankk %x {kind = "top", k = 4} : tensor<8x128xf32> -> tensor<8x4xf32>, tensor<8x4xi64>
  // CHECK-NEXT: %{{.*}}, %{{.*}} = spiral.rankk %x {kind = "mid", k = 5 : i64} : tensor<8x128xf32> -> tensor<8x5xf32>, tensor<8x5xi64>
  %0, %1 = spiral.rankk %x {kind = "mid", k = 5} : tensor<8x128xf32> -> tensor<8x5xf32>, tensor<8x5xi64>
  // CHECK-NEXT: %{{.*}}, %{{.*}} = spiral.rankk %x {kind = "bottom", k = 128 : i64} : tensor<8x128xf32> -> tensor<8x128xf32>, tensor<8x128xi64>
  %2, %3 = spiral.rankk %x {kind = "bottom", k = 128} : tensor<8x128xf32> -> tensor<8x128xf32>, tensor<8x128xi64>
  func.return
}

// CHECK-LABEL: func.func @axes(
func.func @axes(%x: tensor<3x5x6xbf16>, %n: tensor<7xi32>, %h: tensor<4x1xf16>, %d: tensor<2x9xi64>, %e: tensor<9xf64>) -> () {
  // CHECK-NEXT: spiral.rankk %x {kind = "top", k = 2 : i64, axis = 0 : i64} : tensor<3x5x6xbf16> -> tensor<2x5x6xbf16>, tensor<2x5x6xi64>
  %0, %1 = spiral.rankk %x {kind = "top", k = 2, axis = 0} : tensor<3x5x6xbf16> -> tensor<2x5x6xbf16>, tensor<2x5x6xi64>
  // CHECK-NEXT: spiral.rankk %x {kind = "mid", k = 1 : i64, axis = -2 : i64} : tensor<3x5x6xbf16> -> tensor<3x1x6xbf16>, tensor<3x1x6xi64>
  %2, %3 = spiral.rankk %x {kind = "mid", k = 1, axis = -2} : tensor<3x5x6xbf16> -> tensor<3x1x6xbf16>, tensor<3x1x6xi64>
  // CHECK-NEXT: spiral.rankk %n {kind = "bottom", k = 7 : i64, axis = -1 : i64} : tensor<7xi32> -> tensor<7xi32>, tensor<7xi64>
  %4, %5 = spiral.rankk %n {kind = "bottom", k = 7, axis = -1} : tensor<7xi32> -> tensor<7xi32>, tensor<7xi64>
  // CHECK-NEXT: spiral.rankk %h {kind = "top", k = 1 : i64} : tensor<4x1xf16> -> tensor<4x1xf16>, tensor<4x1xi64>
  %6, %7 = spiral.rankk %h {kind = "top", k = 1} : tensor<4x1xf16> -> tensor<4x1xf16>, tensor<4x1xi64>
  // CHECK-NEXT: spiral.rankk %d {kind = "mid", k = 4 : i64, axis = 1 : i64} : tensor<2x9xi64> -> tensor<2x4xi64>, tensor<2x4xi64>
  %8, %9 = spiral.rankk %d {kind = "mid", k = 4, axis = 1} : tensor<2x9xi64> -> tensor<2x4xi64>, tensor<2x4xi64>
  // CHECK-NEXT: spiral.rankk %e {kind = "top", k = 3 : i64} : tensor<9xf64> -> tensor<3xf64>, tensor<3xi64>
  %10, %11 = spiral.rankk %e {kind = "top", k = 3 : i64} : tensor<9xf64> -> tensor<3xf64>, tensor<3xi64>
  func.return
}

// Values and indices are used like any other SSA values.
// CHECK-LABEL: func.func @uses(
func.func @uses(%x: tensor<4x16xf32>) -> (tensor<4x3xf32>, tensor<4x3xi64>) {
  // CHECK-NEXT: %[[V:.*]], %[[I:.*]] = spiral.rankk %x {kind = "top", k = 3 : i64}
  %v, %i = spiral.rankk %x {kind = "top", k = 3} : tensor<4x16xf32> -> tensor<4x3xf32>, tensor<4x3xi64>
  // CHECK-NEXT: func.return %[[V]], %[[I]] : tensor<4x3xf32>, tensor<4x3xi64>
  func.return %v, %i : tensor<4x3xf32>, tensor<4x3xi64>
}
