// RUN: %stc opt %s | filecheck %s
// RUN: %stc opt %s | %stc opt - | filecheck %s
// RUN: %stc opt %s --generic | %stc opt - | filecheck %s

// CHECK-LABEL: func.func @reduce(
func.func @reduce(%x: tensor<4x8xf32>, %i: tensor<3x5x2xi64>, %h: tensor<6xbf16>, %b: tensor<4x8xi1>, %s: tensor<f64>, %z: tensor<0x3xf32>) -> () {
  // CHECK-NEXT: %{{.*}} = spiral.sum %x {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
  %0 = spiral.sum %x {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
  // CHECK-NEXT: spiral.sum %x {axes = array<i64: 1>, keepdims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
  %1 = spiral.sum %x {axes = array<i64: 1>, keepdims = true} : tensor<4x8xf32> -> tensor<4x1xf32>
  // CHECK-NEXT: spiral.sum %i {axes = array<i64: 0, 2>} : tensor<3x5x2xi64> -> tensor<5xi64>
  %2 = spiral.sum %i {axes = array<i64: 0, 2>} : tensor<3x5x2xi64> -> tensor<5xi64>
  // CHECK-NEXT: spiral.sum %i {axes = array<i64: -1>} : tensor<3x5x2xi64> -> tensor<3x5xi64>
  %3 = spiral.sum %i {axes = array<i64: -1>} : tensor<3x5x2xi64> -> tensor<3x5xi64>
  // CHECK-NEXT: spiral.sum %x {axes = array<i64>} : tensor<4x8xf32> -> tensor<4x8xf32>
  %4 = spiral.sum %x {axes = array<i64>} : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.mean %h {axes = array<i64: 0>} : tensor<6xbf16> -> tensor<bf16>
  %5 = spiral.mean %h {axes = array<i64: 0>} : tensor<6xbf16> -> tensor<bf16>
  // CHECK-NEXT: spiral.mean %x {axes = array<i64: 0, 1>, keepdims = true} : tensor<4x8xf32> -> tensor<1x1xf32>
  %6 = spiral.mean %x {axes = array<i64: 0, 1>, keepdims = true} : tensor<4x8xf32> -> tensor<1x1xf32>
  // CHECK-NEXT: spiral.max %x {axes = array<i64: 0>} : tensor<4x8xf32> -> tensor<8xf32>
  %7 = spiral.max %x {axes = array<i64: 0>} : tensor<4x8xf32> -> tensor<8xf32>
  // CHECK-NEXT: spiral.max %b {axes = array<i64: 0, 1>} : tensor<4x8xi1> -> tensor<i1>
  %8 = spiral.max %b {axes = array<i64: 0, 1>} : tensor<4x8xi1> -> tensor<i1>
  // CHECK-NEXT: spiral.min %i {axes = array<i64: 1>, keepdims = true} : tensor<3x5x2xi64> -> tensor<3x1x2xi64>
  %9 = spiral.min %i {axes = array<i64: 1>, keepdims = true} : tensor<3x5x2xi64> -> tensor<3x1x2xi64>
  // CHECK-NEXT: spiral.argmax %x {axis = 1 : i64} : tensor<4x8xf32> -> tensor<4xi64>
  %10 = spiral.argmax %x {axis = 1 : i64} : tensor<4x8xf32> -> tensor<4xi64>
  // CHECK-NEXT: spiral.argmax %x : tensor<4x8xf32> -> tensor<i64>
  %11 = spiral.argmax %x : tensor<4x8xf32> -> tensor<i64>
  // CHECK-NEXT: spiral.argmin %i {axis = -2 : i64, keepdims = true} : tensor<3x5x2xi64> -> tensor<3x1x2xi64>
  %12 = spiral.argmin %i {axis = -2 : i64, keepdims = true} : tensor<3x5x2xi64> -> tensor<3x1x2xi64>
  // CHECK-NEXT: spiral.argmin %x {keepdims = true} : tensor<4x8xf32> -> tensor<1x1xi64>
  %13 = spiral.argmin %x {keepdims = true} : tensor<4x8xf32> -> tensor<1x1xi64>
  // CHECK-NEXT: spiral.logsumexp %x {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
  %14 = spiral.logsumexp %x {axes = array<i64: 1>} : tensor<4x8xf32> -> tensor<4xf32>
  // CHECK-NEXT: spiral.logsumexp %s {axes = array<i64>, keepdims = true} : tensor<f64> -> tensor<f64>
  %15 = spiral.logsumexp %s {axes = array<i64>, keepdims = true} : tensor<f64> -> tensor<f64>
  // CHECK-NEXT: spiral.sum %z {axes = array<i64: 0>} : tensor<0x3xf32> -> tensor<3xf32>
  %16 = spiral.sum %z {axes = array<i64: 0>} : tensor<0x3xf32> -> tensor<3xf32>
  // CHECK-NEXT: spiral.max %z {axes = array<i64: 1>} : tensor<0x3xf32> -> tensor<0xf32>
  %17 = spiral.max %z {axes = array<i64: 1>} : tensor<0x3xf32> -> tensor<0xf32>
  // CHECK-NEXT: func.return
  func.return
}
