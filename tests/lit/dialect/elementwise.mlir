// RUN: %stc opt %s | filecheck %s
// RUN: %stc opt %s | %stc opt - | filecheck %s
// RUN: %stc opt %s --generic | %stc opt - | filecheck %s

// CHECK-LABEL: func.func @unary(
func.func @unary(%x: tensor<4x8xf32>, %b: tensor<4x8xi1>, %i: tensor<3xi32>) -> () {
  // CHECK-NEXT: %{{.*}} = spiral.neg %x : tensor<4x8xf32> -> tensor<4x8xf32>
  %0 = spiral.neg %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.abs %i : tensor<3xi32> -> tensor<3xi32>
  %1 = spiral.abs %i : tensor<3xi32> -> tensor<3xi32>
  // CHECK-NEXT: spiral.relu %x
  %2 = spiral.relu %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.exp %x
  %3 = spiral.exp %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.log %x
  %4 = spiral.log %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.log1p %x
  %5 = spiral.log1p %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.tanh %x
  %6 = spiral.tanh %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.sigmoid %x
  %7 = spiral.sigmoid %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.sqrt %x
  %8 = spiral.sqrt %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.rsqrt %x
  %9 = spiral.rsqrt %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.sin %x
  %10 = spiral.sin %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.cos %x
  %11 = spiral.cos %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.erf %x
  %12 = spiral.erf %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.gelu %x : tensor<4x8xf32> -> tensor<4x8xf32>
  %13 = spiral.gelu %x : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.gelu %x {approximate = "tanh"} : tensor<4x8xf32> -> tensor<4x8xf32>
  %14 = spiral.gelu %x {approximate = "tanh"} : tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.logical_not %b : tensor<4x8xi1> -> tensor<4x8xi1>
  %15 = spiral.logical_not %b : tensor<4x8xi1> -> tensor<4x8xi1>
  func.return
}

// CHECK-LABEL: func.func @binary(
func.func @binary(%a: tensor<4x8xf32>, %r: tensor<8xf32>, %s: tensor<f32>, %p: tensor<4x1xi1>, %q: tensor<1x8xi1>) -> () {
  // CHECK-NEXT: spiral.add %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %0 = spiral.add %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.sub %s, %a : tensor<f32>, tensor<4x8xf32> -> tensor<4x8xf32>
  %1 = spiral.sub %s, %a : tensor<f32>, tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.mul
  %2 = spiral.mul %a, %a : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.div
  %3 = spiral.div %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.floordiv
  %4 = spiral.floordiv %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.mod
  %5 = spiral.mod %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.pow
  %6 = spiral.pow %a, %s : tensor<4x8xf32>, tensor<f32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.maximum
  %7 = spiral.maximum %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.minimum
  %8 = spiral.minimum %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.eq %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xi1>
  %9 = spiral.eq %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.ne
  %10 = spiral.ne %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.lt
  %11 = spiral.lt %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.le
  %12 = spiral.le %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.gt
  %13 = spiral.gt %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.ge
  %14 = spiral.ge %a, %r : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.logical_and %p, %q : tensor<4x1xi1>, tensor<1x8xi1> -> tensor<4x8xi1>
  %15 = spiral.logical_and %p, %q : tensor<4x1xi1>, tensor<1x8xi1> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.logical_or
  %16 = spiral.logical_or %p, %q : tensor<4x1xi1>, tensor<1x8xi1> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.logical_xor
  %17 = spiral.logical_xor %p, %q : tensor<4x1xi1>, tensor<1x8xi1> -> tensor<4x8xi1>
  // CHECK-NEXT: spiral.where %p, %a, %r : tensor<4x1xi1>, tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %18 = spiral.where %p, %a, %r : tensor<4x1xi1>, tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  // CHECK-NEXT: spiral.astype %a : tensor<4x8xf32> -> tensor<4x8xbf16>
  %19 = spiral.astype %a : tensor<4x8xf32> -> tensor<4x8xbf16>
  // CHECK-NEXT: spiral.astype %a : tensor<4x8xf32> -> tensor<4x8xf16>
  %20 = spiral.astype %a : tensor<4x8xf32> -> tensor<4x8xf16>
  // CHECK-NEXT: spiral.astype %a : tensor<4x8xf32> -> tensor<4x8xi64>
  %21 = spiral.astype %a : tensor<4x8xf32> -> tensor<4x8xi64>
  // CHECK-NEXT: spiral.astype %a : tensor<4x8xf32> -> tensor<4x8xf64>
  %22 = spiral.astype %a : tensor<4x8xf32> -> tensor<4x8xf64>
  func.return
}
