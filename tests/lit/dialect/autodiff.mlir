// RUN: %stc opt %s | filecheck %s
// RUN: %stc opt %s | %stc opt - | filecheck %s
// RUN: %stc opt %s --generic | %stc opt - | filecheck %s

// CHECK-LABEL: func.func private @f(%x: tensor<4xf32>, %c: tensor<4xf32>) -> tensor<f32>
func.func private @f(%x: tensor<4xf32>, %c: tensor<4xf32>) -> tensor<f32> {
  %m = spiral.mul %x, %c : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  %s = spiral.sum %m {axes = array<i64: 0>} : tensor<4xf32> -> tensor<f32>
  func.return %s : tensor<f32>
}

// CHECK-LABEL: func.func @main(
func.func @main(%x: tensor<4xf32>, %c: tensor<4xf32>) -> (tensor<f32>, tensor<4xf32>, tensor<4xf32>, tensor<f32>) {
  %one = spiral.full {value = 1.0 : f64} : tensor<f32>
  // CHECK: %{{.*}}, %{{.*}} = spiral.vjp @f(%x, %c : tensor<4xf32>, tensor<4xf32>) cotangents(%{{.*}} : tensor<f32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<4xf32>
  %y, %g = spiral.vjp @f(%x, %c : tensor<4xf32>, tensor<4xf32>) cotangents(%one : tensor<f32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<4xf32>
  // CHECK-NEXT: %{{.*}}, %{{.*}}, %{{.*}} = spiral.vjp @f(%x, %c : tensor<4xf32>, tensor<4xf32>) cotangents(%{{.*}} : tensor<f32>) {wrt = array<i64: 1, 0>} -> tensor<f32>, tensor<4xf32>, tensor<4xf32>
  %y1, %gc, %gx = spiral.vjp @f(%x, %c : tensor<4xf32>, tensor<4xf32>) cotangents(%one : tensor<f32>) {wrt = array<i64: 1, 0>} -> tensor<f32>, tensor<4xf32>, tensor<4xf32>
  // CHECK-NEXT: %{{.*}}, %{{.*}} = spiral.jvp @f(%x, %c : tensor<4xf32>, tensor<4xf32>) tangents(%x : tensor<4xf32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<f32>
  %y2, %t = spiral.jvp @f(%x, %c : tensor<4xf32>, tensor<4xf32>) tangents(%x : tensor<4xf32>) {wrt = array<i64: 0>} -> tensor<f32>, tensor<f32>
  func.return %y, %g, %gc, %t : tensor<f32>, tensor<4xf32>, tensor<4xf32>, tensor<f32>
}
